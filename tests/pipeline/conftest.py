"""Fixtures for the pipeline tests: fake credentials, moto with real Step Functions execution
and no-Docker Lambda, our handlers routed in-process, and scripted RDS statuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from aurora_restore_cli.local import lambda_router

from . import support
from .moto_patches import RdsScript, patched_moto


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", support.REGION)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config=support.MOTO_CONFIG):
        yield


@pytest.fixture(autouse=True)
def rds_script() -> Iterator[RdsScript]:
    """moto patched to behave like AWS where the pipeline relies on it (see moto_patches)."""
    with patched_moto() as script:
        yield script


@pytest.fixture
def router() -> Iterator[None]:
    with lambda_router.routing():
        yield


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> support.World:
    """The moto world, with this process's environment set like a Lambda function's."""
    built = support.build_world()
    for name, value in support.lambda_environment(built).items():
        monkeypatch.setenv(name, value)
    return built


@pytest.fixture
def make_document(world: support.World) -> support.DocumentFactory:
    return support.DocumentFactory(world)
