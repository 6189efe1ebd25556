"""Config validation: the examples load; every file of the bad corpus fails with exit 2,
one message naming the file and the key path, no traceback, and no AWS call at all."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.config.database import ca_certificate_count, require_ca_bundle
from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.reader import ConfigError
from aurora_restore_cli.config.settings import Serverless

from ..certs import write_ca_bundle
from ..conftest import CONFIG_DIR, ApiCallRecorder, edit_config

BAD = sorted((Path(__file__).parent / "bad_configs").glob("*.yaml"))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_example_configs_load(env: str) -> None:
    settings = load_settings(CONFIG_DIR, env)
    assert settings.environment == env
    assert settings.lambda_.runtime != "python3.9"
    assert settings.source.cluster_id != settings.target.cluster_id


def test_corpus_is_large_enough() -> None:
    assert len(BAD) >= 30


@pytest.mark.parametrize("bad", BAD, ids=[p.stem for p in BAD])
def test_bad_config_exits_2_naming_file_and_key(
    bad: Path, tmp_path: Path, api_calls: ApiCallRecorder
) -> None:
    expected = re.search(r"^# expect: (.+)$", bad.read_text(), re.M)
    assert expected, f"{bad.name} lacks its '# expect:' line"
    shutil.copytree(CONFIG_DIR / "sql", tmp_path / "sql")
    shutil.copy(bad, tmp_path / "dev.yaml")

    result = CliRunner().invoke(cli, ["setup", "--env", "dev", "--config-dir", str(tmp_path)])

    assert result.exit_code == 2, result.output
    assert str(tmp_path / "dev.yaml") in result.stderr
    assert expected.group(1) in result.stderr
    assert "Traceback" not in result.output
    assert result.stderr.count("error:") == 1
    assert api_calls.calls == []


def test_error_message_says_what_was_expected(tmp_path: Path) -> None:
    shutil.copytree(CONFIG_DIR, tmp_path, dirs_exist_ok=True)
    file = tmp_path / "dev.yaml"
    file.write_text(file.read_text().replace("instance_count: 1", "instance_count: two"))
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, "dev")
    assert str(info.value) == (
        f"{file}: target.instance_count: expected an integer from 1 to 15, got 'two'"
    )


def test_missing_file_and_bad_env_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path, "dev")
    with pytest.raises(ConfigError, match="not an environment name"):
        load_settings(tmp_path, "../etc")


def test_env_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURORA_RESTORE_ENV", "staging")
    result = CliRunner().invoke(cli, ["validate", "--local", "--config-dir", str(CONFIG_DIR)])
    assert result.exit_code == 0, result.output
    assert "env staging" in result.output


def test_no_env_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2
    assert "--env" in result.stderr


# --- what a real account needs (issue "Real AWS, right the first time") -------------------


def test_new_settings_of_the_examples() -> None:
    dev = load_settings(CONFIG_DIR, "dev")
    assert dev.source.kms_key_id and ":us-west-2:222222222222:key/" in dev.source.kms_key_id
    assert dev.target.allow_major_version_upgrade is False
    assert dev.target.serverless is None
    assert dev.source_elsewhere and dev.cross_account
    prod = load_settings(CONFIG_DIR, "prod")
    assert not prod.cross_account and prod.source.snapshot_type == "automated"


def test_serverless_target(config_dir: Path) -> None:
    edit_config(
        config_dir,
        "dev",
        lambda d: d["target"].update(
            instance_class="db.serverless", serverless={"min_capacity": 0, "max_capacity": 16}
        ),
    )
    target = load_settings(config_dir, "dev").target
    assert target.instance_class == "db.serverless"
    assert target.serverless == Serverless(min_capacity=0.0, max_capacity=16.0)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        ({"target": {"cluster_id": "PROD-ORDERS"}}, "target.cluster_id"),
        ({"target": {"cluster_id": "Prod-Orders"}}, "target.cluster_id"),
        # same name as the source in another region and account: still refused
        ({"target": {"cluster_id": "prod-orders", "protected_cluster_ids": []}}, "target.cluster_id"),
        ({"target": {"protected_cluster_ids": ["DEV-ORDERS"]}}, "target.protected_cluster_ids"),
        ({"target": {"protected_cluster_ids": ["Dev-Orders"]}}, "target.protected_cluster_ids"),
        ({"target": {"cluster_id": "DEV-Orders"}, "source": {"cluster_id": "dev-orders"}},
         "target.cluster_id"),
    ],
)
def test_ids_compare_case_insensitively(
    config_dir: Path, edit: dict[str, dict[str, object]], key: str, api_calls: ApiCallRecorder
) -> None:
    def apply(data: dict[str, Any]) -> None:
        for section, values in edit.items():
            data[section].update(values)

    edit_config(config_dir, "dev", apply)
    result = CliRunner().invoke(cli, ["validate", "--env", "dev", "--config-dir", str(config_dir)])
    assert result.exit_code == 2, result.output
    assert f"{config_dir / 'dev.yaml'}: {key}:" in result.stderr
    assert api_calls.calls == []


def test_ca_bundle_is_checked_as_pem(config_dir: Path) -> None:
    write_ca_bundle(config_dir / "rds-global-bundle.pem", count=3)
    edit_config(config_dir, "dev", lambda d: d["database"].update(ca_bundle="rds-global-bundle.pem"))
    settings = load_settings(config_dir, "dev")
    assert settings.database.ca_bundle == (config_dir / "rds-global-bundle.pem").resolve()
    assert ca_certificate_count(settings.database.ca_bundle) == 3
    assert require_ca_bundle(settings) == settings.database.ca_bundle


def test_missing_ca_bundle_says_how_to_get_it() -> None:
    settings = load_settings(CONFIG_DIR, "dev")
    with pytest.raises(ConfigError) as info:
        require_ca_bundle(settings)
    assert info.value.path == "database.ca_bundle"
    assert (
        f"curl -fsSo {CONFIG_DIR / 'rds-global-bundle.pem'} "
        "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    ) in str(info.value)
