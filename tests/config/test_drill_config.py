"""The optional `drill:` config section and what the CLI renders from it (pure, no AWS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.reader import ConfigError
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.contract.pipeline_settings import (
    drill_settings,
    drill_timeout_seconds,
    render_drill_definition,
)
from handlers.lib import polling

from ..conftest import CONFIG_DIR, edit_config


def test_dev_example_and_defaults() -> None:
    drill = load_settings(CONFIG_DIR, "dev").drill
    assert drill.checks_sql == CONFIG_DIR.resolve() / "sql" / "drill_checks.sql"
    assert (drill.keep_minutes, drill.rto_alarm_minutes, drill.instance_class) == (0, 240, None)
    assert drill.schedule is None
    staging = load_settings(CONFIG_DIR, "staging").drill  # no drill section: every default
    assert (staging.checks_sql, staging.keep_minutes, staging.rto_alarm_minutes) == (None, 0, None)


def test_a_checks_file_without_checks_is_refused_at_load(config_dir: Path) -> None:
    (config_dir / "sql" / "empty_checks.sql").write_text("-- nothing to check yet\n")
    edit_config(config_dir, "dev", lambda d: d["drill"].update(checks_sql="sql/empty_checks.sql"))
    with pytest.raises(ConfigError) as info:
        load_settings(config_dir, "dev")
    assert info.value.path == "drill.checks_sql"
    assert "no checks (statements) in the file" in str(info.value)


def test_rendered_drill_settings_and_definition(config_dir: Path) -> None:
    edit_config(
        config_dir,
        "dev",
        lambda d: d["drill"].update(keep_minutes=15, instance_class="db.t4g.medium"),
    )
    settings = load_settings(config_dir, "dev")
    # The drill's timeout: the refresh's (validated against the same loops), the longest keep
    # time, and two cleanups at the delete loop's bound (after the drill, on the failure path).
    delete = settings.pipeline.waits["delete"]
    _, cleanup = polling.checks_within(
        delete.first_seconds,
        delete.poll_seconds,
        settings.pipeline.poll_growth_percent,
        delete.max_seconds,
    )
    assert cleanup >= delete.max_seconds
    timeout = settings.pipeline.timeout_seconds + 720 * 60 + 2 * cleanup
    assert drill_timeout_seconds(settings) == timeout
    assert drill_settings(settings) == {
        "keep_minutes": 15,
        "max_keep_minutes": 720,
        "expiry_margin_seconds": timeout - 720 * 60,
        "checks_sql": "drill_checks.sql",
        "instance_class": "db.t4g.medium",
        "metric_namespace": "AuroraRestore",
    }
    names = Names("dev", settings.region, settings.account_id)
    document = json.loads(render_drill_definition(settings, names))
    states = document["States"]
    assert states["Initialize"]["Parameters"]["mode"] == "drill"
    assert states["LoadDrillSettings"]["Result"]["keep_minutes"] == 15
    assert states["LoadSettings"]["Result"]["target"]["cluster_id"] == "dev-orders"
    assert document["TimeoutSeconds"] == timeout
    pipeline = states["Initialize"]["Parameters"]["pipeline"]
    assert pipeline["timeout_seconds"] == timeout  # the lock is held as long
    assert pipeline["waits"]["delete"]["max_seconds"] == delete.max_seconds


def test_validate_reports_the_drill(config_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["validate", "--local", "--env", "dev", "--config-dir", str(config_dir)])
    assert result.exit_code == 0, result.output
    assert "drill.asl.json" in result.output and "no drill schedule" in result.output
