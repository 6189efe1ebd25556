"""Time limits that fit (aurora_restore_cli.validation): the longest path's wait bounds and
Lambda time inside the execution timeout, its history under Step Functions' event limit —
and the event count the check predicts is the one an execution really writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.reader import ConfigError
from aurora_restore_cli.contract import definition, time_limits
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.provisioning import validation
from handlers.lib import naming

from ..conftest import CONFIG_DIR, edit_config
from . import support
from .moto_patches import RdsScript
from .support import TARGET, World


def names(settings: Any) -> Names:
    return Names(settings.environment, settings.region, settings.account_id)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_configs_fit(env: str) -> None:
    settings = load_settings(CONFIG_DIR, env)
    bounds = time_limits.path_bounds(settings, names(settings))
    assert max(b.seconds for b in bounds) <= settings.pipeline.timeout_seconds
    assert max(b.events for b in bounds) <= time_limits.HISTORY_BUDGET
    # Realistic for a multi-terabyte cross-region copy: hours before the copy gives up.
    assert settings.pipeline.waits["copy"].max_seconds >= 8 * 3600


def test_longest_path_per_strategy(config_dir: Path) -> None:
    swap = load_settings(config_dir, "dev")
    slowest = max(time_limits.path_bounds(swap, names(swap)), key=lambda b: b.seconds)
    # swap waits for the old cluster's delete too (instances first, then the cluster: AWS)
    assert slowest.loops == (
        "copy", "restore", "instances", "password", "settings", "rename", "rename", "delete"
    )  # fmt: skip
    edit_config(config_dir, "dev", lambda data: data["target"].update(strategy="replace"))
    replace = load_settings(config_dir, "dev")
    slowest = max(time_limits.path_bounds(replace, names(replace)), key=lambda b: b.seconds)
    assert slowest.loops == ("copy", "delete", "restore", "instances", "password")
    assert slowest.task_seconds == slowest.tasks * replace.lambda_.timeout_seconds


def test_a_longer_lambda_timeout_counts_against_the_execution(config_dir: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["lambda"]["timeout_seconds"] = 900
        data["pipeline"]["timeout_seconds"] = 70000

    edit_config(config_dir, "dev", edit)
    with pytest.raises(ConfigError) as failure:
        time_limits.within_limits(load_settings(config_dir, "dev"))
    assert failure.value.path == "pipeline.timeout_seconds"
    assert "Tasks × lambda.timeout_seconds 900" in failure.value.message
    assert "runs no failure path" in failure.value.message


def test_validate_reports_the_figures() -> None:
    settings = load_settings(CONFIG_DIR, "dev")
    lines = [line for line in validation.validate_all(settings) if line.startswith("time limits")]
    assert len(lines) == 1
    assert "≤ timeout 24h00m" in lines[0] and "of 25000" in lines[0]


@pytest.mark.usefixtures("router")
def test_predicted_history_matches_a_real_execution(world: World, rds_script: RdsScript) -> None:
    """The event count per state the check uses is what moto's interpreter (which mirrors
    Step Functions' event types) writes: a swap run whose loops take 3, 2, 1, 1, 1, 1 checks."""
    machine = support.deploy(world)
    op = "events-1"
    rds_script.script_snapshot(naming.copy_snapshot_id(TARGET, op), "copying", "copying")
    rds_script.script_cluster(naming.staging_cluster_id(TARGET, op), "creating")
    execution = support.run(machine, op)
    assert execution["status"] == "SUCCEEDED", execution
    events = support.history(execution["executionArn"])
    entered = support.entered_states(execution["executionArn"])

    document = json.loads(definition.load_template())
    states = document["States"]
    facts = {"settings": world.settings}
    taken = [p for p in definition.success_paths(document, facts) if "CopySnapshot" in p]
    path = next(p for p in taken if "WaitForCopy" in p)
    predicted = definition.EXECUTION_EVENTS + sum(
        definition.history_events(states[n]) for n in path
    )
    for loop in definition.wait_loops(document):
        rounds = entered.count(loop.check)
        if loop.choice in path and rounds > 1:
            predicted += (rounds - 1) * sum(
                definition.history_events(states[n]) for n in loop.states
            )
    assert entered.count("CheckCopy") == 3 and entered.count("CheckCluster") == 2
    assert len(events) == predicted
