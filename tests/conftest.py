"""Shared fixtures: fake credentials (no test can reach real AWS), config copies, contexts,
a moto server on 127.0.0.1, and a guard that counts AWS calls."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
MOTO_ACCOUNT = "123456789012"


@pytest.fixture(autouse=True, scope="session")
def _fake_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    saved = dict(os.environ)
    for key in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
        "AURORA_RESTORE_ENV",
    ):
        os.environ.pop(key, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AURORA_RESTORE_SANDBOX_DIR": str(tmp_path_factory.mktemp("sandbox")),
        }
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process for the test (every service, one fresh account)."""
    from moto import mock_aws

    load_moto_backends()
    with mock_aws():
        yield


# What the engine calls, from several worker threads at once.
ENGINE_SERVICES = ("sts", "iam", "lambda", "logs", "dynamodb", "sns", "secretsmanager",
                   "stepfunctions", "cloudwatch", "scheduler", "resourcegroupstaggingapi", "events")


def load_moto_backends() -> None:
    """In-process moto imports a service's code on that service's first call; two threads
    doing so at once can trip Python's import-deadlock detection. Import them up front
    (once per process; moto's server mode does this under a lock itself)."""
    from moto.backends import get_backend

    from aurora_restore_cli.sandbox import moto_threads

    for service in ENGINE_SERVICES:
        get_backend(service)
    moto_threads.install()  # concurrent create_role calls: moto's IAM iterates a live dict


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of config/ that a test may edit."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target


@pytest.fixture
def moto_config_dir(config_dir: Path) -> Path:
    """config/ with dev's account set to moto's, for commands against a plain moto server
    (the CLI refuses credentials of another account than the config's), and a (throwaway)
    CA bundle: against anything but the sandbox, setup packages it with the database steps."""
    from .certs import write_ca_bundle

    write_ca_bundle(config_dir / "rds-global-bundle.pem")

    def edit(data: dict[str, Any]) -> None:
        data["account_id"] = MOTO_ACCOUNT
        data["database"]["ca_bundle"] = "rds-global-bundle.pem"

    edit_config(config_dir, "dev", edit)
    return config_dir


def edit_config(config_dir: Path, env: str, edit: Any) -> None:
    """Load `<env>.yaml` as data, let `edit(data)` change it, write it back."""
    import yaml

    file = config_dir / f"{env}.yaml"
    data = yaml.safe_load(file.read_text())
    edit(data)
    file.write_text(yaml.safe_dump(data, sort_keys=False))


def make_context(config_dir: Path = CONFIG_DIR, env: str = "dev", **kwargs: Any) -> Any:
    """A resource Context for moto's account; call inside `mock_aws()`."""
    from aurora_restore_cli.aws import Clients
    from aurora_restore_cli.config.load import load_settings
    from aurora_restore_cli.contract.naming import Names
    from aurora_restore_cli.resources.base.resource import Context

    load_moto_backends()
    settings = load_settings(config_dir, env)
    return Context(
        settings=settings,
        names=Names(env, settings.region, MOTO_ACCOUNT),
        clients=Clients(settings.region),
        sleep=lambda _: None,
        **kwargs,
    )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (random port) for CLI and subprocess tests."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def reset_moto(moto_server: str) -> Iterator[str]:
    """The server, emptied before the test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))
    yield moto_server


class ApiCallRecorder:
    """Records every botocore API call made in this process (service, operation)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> ApiCallRecorder:
    from botocore.client import BaseClient

    recorder = ApiCallRecorder()
    original = BaseClient._make_api_call

    def recording(self: Any, operation: str, params: Any) -> Any:
        recorder.calls.append((self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorder


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every test must really run there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"CI: {skipped} test(s) skipped; every test must run in CI", red=True)
