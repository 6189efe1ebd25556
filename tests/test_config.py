"""Config validation: the examples load; every file of the bad corpus fails with exit 2,
one message naming the file and the key path, no traceback, and no AWS call at all."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.config import ConfigError, load_settings

from .conftest import CONFIG_DIR, ApiCallRecorder

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
    result = CliRunner().invoke(cli, ["validate", "--config-dir", str(CONFIG_DIR)])
    assert result.exit_code == 0, result.output
    assert "env staging" in result.output


def test_no_env_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2
    assert "--env" in result.stderr
