"""Automatic recovery's state machine, offline: its pass schedule follows the pipeline's wait
loops (the undo's longest wait, paced like them), its rendered definition invokes the recovery
function only and carries that bound, and its limits (history, duration, the lock between two
passes) are checked with the pipeline's before any AWS call."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.reader import ConfigError
from aurora_restore_cli.contract import recovery_definition, time_limits
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.provisioning import validation
from handlers.lib import polling

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT, edit_config


def names(settings: Any) -> Names:
    return Names(settings.environment, settings.region, MOTO_ACCOUNT)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_configs_fit(env: str) -> None:
    settings = load_settings(CONFIG_DIR, env)
    plan = recovery_definition.plan(settings)
    assert recovery_definition.problems(settings, time_limits.HISTORY_BUDGET) == []
    assert plan.events <= time_limits.HISTORY_BUDGET
    assert plan.timeout_seconds <= recovery_definition.MAX_TIMEOUT_SECONDS


def test_the_passes_cover_the_undos_longest_wait_paced_like_the_wait_loops(
    config_dir: Path,
) -> None:
    swap = load_settings(config_dir, "dev")  # swap: two renames < a drill's two deletions
    waits = swap.pipeline.waits
    plan = recovery_definition.plan(swap)
    assert plan.loops == ("delete", "delete")
    assert plan.budget_seconds == 2 * waits["delete"].max_seconds
    edit_config(config_dir, "dev", lambda data: data["target"].update(strategy="replace"))
    replace = load_settings(config_dir, "dev")
    plan = recovery_definition.plan(replace)
    assert plan.loops == ("delete", "rename", "restore", "instances")
    assert plan.budget_seconds == sum(
        waits[loop].max_seconds for loop in ("delete", "rename", "restore", "instances")
    )
    # Each wait is the wait loops' next wait; the passes stop as soon as the budget is waited.
    poll, growth = waits["rename"].poll_seconds, replace.pipeline.poll_growth_percent
    waited = 0
    for wait in plan.waits[:-1]:
        assert wait == polling.next_wait(poll, growth, waited)
        waited += wait
    assert waited >= plan.budget_seconds > waited - plan.waits[-2]
    assert plan.waits[-1] == 0 and plan.max_passes == len(plan.waits)
    assert plan.timeout_seconds == (
        plan.wait_seconds
        + plan.max_passes * replace.lambda_.timeout_seconds
        + recovery_definition.RETRY_MARGIN_SECONDS
    )


def test_the_rendered_definition_runs_the_recovery_function_within_the_bound() -> None:
    settings = load_settings(CONFIG_DIR, "dev")
    plan = recovery_definition.plan(settings)
    rendered = json.loads(recovery_definition.render(settings, names(settings)))
    assert rendered["TimeoutSeconds"] == plan.timeout_seconds
    states = rendered["States"]
    assert states["Initialize"]["Parameters"]["recovery"] == recovery_definition.block(plan)
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert list(tasks) == ["RecoverPass"]
    function = names(settings).function_arn("recover_execution")
    assert tasks["RecoverPass"]["Parameters"]["FunctionName"] == function
    bound = states["Settled"]["Choices"][0]["And"][1]
    assert bound == {
        "Variable": "$.recovery.passes",
        "NumericGreaterThanEqualsPath": "$.recovery.max_passes",
    }
    assert states["Settled"]["Choices"][0]["Next"] == "GaveUp"
    assert states["GaveUp"] == {**states["GaveUp"], "Type": "Fail", "Error": "RecoveryGaveUp"}


def test_a_recovery_that_would_outgrow_its_history_is_refused(config_dir: Path) -> None:
    def slow(data: dict[str, Any]) -> None:
        data["pipeline"]["poll_growth_percent"] = 0
        data["pipeline"]["timeout_seconds"] = 200_000
        data["pipeline"]["waits"]["rename"]["poll_seconds"] = 1

    edit_config(config_dir, "dev", slow)
    settings = load_settings(config_dir, "dev")
    (found,) = recovery_definition.problems(settings, time_limits.HISTORY_BUDGET)
    assert found[0] == "pipeline.waits.rename.poll_seconds"
    assert "automatic recovery (up to 14401 passes" in found[1]
    assert found in time_limits.time_limit_problems(settings)
    with pytest.raises(ConfigError):
        time_limits.within_limits(settings)


def test_the_lock_must_outlive_the_longest_wait_between_two_passes() -> None:
    settings = load_settings(CONFIG_DIR, "dev")
    short = dataclasses.replace(  # what the pipeline's own limits never let through
        settings,
        pipeline=dataclasses.replace(settings.pipeline, timeout_seconds=30),
        lambda_=dataclasses.replace(settings.lambda_, timeout_seconds=900),
    )
    (found,) = recovery_definition.problems(short, time_limits.HISTORY_BUDGET)
    assert found[0] == "pipeline.timeout_seconds"
    assert "another run could take it mid-recovery" in found[1]


def test_validate_reports_the_recovery_definition() -> None:
    settings = load_settings(CONFIG_DIR, "dev")
    lines = [line for line in validation.validate_all(settings) if "recovery.asl.json" in line]
    plan = recovery_definition.plan(settings)
    assert lines == [
        f"definition recovery.asl.json: 8 states, up to {plan.max_passes} passes over 4h01m "
        f"for delete + delete, timeout {plan.timeout_seconds} s, at most {plan.events} history "
        "events"
    ]
