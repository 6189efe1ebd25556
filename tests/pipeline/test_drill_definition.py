"""definitions/drill.asl.json (pure: no AWS): placeholders, where the document comes from, the
failure path that always cleans up first, bounded loops, and which steps a drill may invoke
(none that renames, modifies or deletes the target)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aurora_restore_cli.contract import definition
from handlers import DRILL_STEPS, STEPS

# The shared steps a drill reuses; none of them can rename or delete the target.
DRILL_USES = {
    "acquire_lock",
    "choose_source",
    "find_snapshot",
    "copy_snapshot",
    "check_copy",
    "restore_cluster",
    "check_restore",
    "create_instances",
    "reset_master_password",
    "verify",
    "release_lock",
    "notify_success",
    "record_failure",
    "notify_failure",
    *DRILL_STEPS,
}
ARNS = {step: f"arn:aws:lambda:us-east-1:111111111111:function:{step}" for step in STEPS}
FAILURE_PATH = [
    "CleanUpAfterFailure",
    "CleanedUpAfterFailure",
    "ReportFailedDrill",
    "RecordFailure",
    "ReleaseLockOnFailure",
    "NotifyFailure",
    "Failed",
]


@pytest.fixture
def states() -> dict[str, Any]:
    template = definition.load_template(definition.DRILL_TEMPLATE_PATH)
    values: dict[str, Any] = {
        definition.function_arn_placeholder(step): ARNS[step] for step in DRILL_USES
    }
    values.update(
        Settings={"env": "dev"},
        DrillSettings={"keep_minutes": 0},
        DrillPipeline={"timeout_seconds": 64800, "poll_growth_percent": 2, "waits": {}},
        DrillTimeoutSeconds=64800,
    )
    rendered = definition.render(template, values)
    assert definition.validate(rendered, set(ARNS.values())) == []
    parsed: dict[str, Any] = json.loads(rendered)["States"]
    return parsed


def invoked(states: dict[str, Any]) -> set[str]:
    by_arn = {arn: step for step, arn in ARNS.items()}
    return {
        by_arn[s["Parameters"]["FunctionName"]] for s in states.values() if s["Type"] == "Task"
    }


def test_placeholders_are_exactly_the_drill_values_and_the_functions_it_uses() -> None:
    template = definition.load_template(definition.DRILL_TEMPLATE_PATH)
    json.loads(template)
    functions = {definition.function_arn_placeholder(step) for step in DRILL_USES}
    assert set(definition.placeholders(template)) == functions | set(
        definition.DRILL_VALUE_PLACEHOLDERS
    )


def test_the_drill_invokes_no_step_that_can_touch_the_target(states: dict[str, Any]) -> None:
    assert invoked(states) == DRILL_USES
    never = {
        "check_target",
        "swap_out_target",
        "check_rename",
        "swap_in_staging",
        "delete_old_cluster",
        "check_delete",
        "finalize",
        "mask_data",
        "scan_pii",
        "reset_app_users",
    }
    assert not invoked(states) & never


def test_the_mode_and_the_settings_come_from_the_definition(states: dict[str, Any]) -> None:
    init = states["Initialize"]["Parameters"]
    assert init["mode"] == "drill" and init["request.$"] == "$"
    assert "settings" not in init and "drill" not in init
    assert states["LoadSettings"]["ResultPath"] == "$.settings"
    assert states["LoadDrillSettings"]["ResultPath"] == "$.settings.drill"
    assert states["LoadDrillSettings"]["Result"] == {"keep_minutes": 0}


def test_every_error_on_the_way_cleans_up_first(states: dict[str, Any]) -> None:
    failure_path = set(FAILURE_PATH)
    for name, state in states.items():
        if state["Type"] != "Task" or name in failure_path:
            continue
        assert state["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "CleanUpAfterFailure"}
        ], name
        assert "TransientError" in {e for r in state["Retry"] for e in r["ErrorEquals"]}, name
    assert states["PollTimedOut"]["Next"] == "CleanUpAfterFailure"
    # A failing cleanup keeps the original error and still reports, records, releases, notifies.
    assert states["CleanUpAfterFailure"]["Catch"][0]["ResultPath"] == "$.cleanup_error"
    for name in ("ReportFailedDrill", "RecordFailure", "ReleaseLockOnFailure", "NotifyFailure"):
        (catch,) = states[name]["Catch"]
        assert catch["ResultPath"] is None and catch["Next"] == states[name]["Next"], name
    walk, name = [], "CleanUpAfterFailure"
    while name:
        walk.append(name)
        state = states[name]
        name = state.get("Next") or (
            state["Choices"][0]["Next"] if state["Type"] == "Choice" else None
        )
    assert walk == FAILURE_PATH
    bounded = {c["Next"] for c in states["CleanedUpAfterFailure"]["Choices"]}
    assert bounded == {"ReportFailedDrill"}  # out of attempts: report what is left, go on


def test_every_wait_loop_is_bounded(states: dict[str, Any]) -> None:
    polls = [n for n, s in states.items() if s.get("SecondsPath") == "$.poll.wait_seconds"]
    loops = {}
    for wait in polls:
        check = states[states[wait]["Next"]]
        choice = states[check["Next"]]
        assert choice["Type"] == "Choice" and choice["Default"] == wait, wait
        rules = {rule["Variable"]: rule for rule in choice["Choices"]}
        bound = rules["$.poll.attempt"]["NumericGreaterThanEqualsPath"]
        loops[wait] = bound.removeprefix("$.pipeline.waits.").removesuffix(".max_polls")
    assert loops == {
        "WaitForCopy": "copy",
        "WaitForClone": "clone",  # a clone drill (drill --from clone) is ready in minutes
        "WaitForCluster": "restore",
        "WaitForInstances": "instances",
        "WaitForPassword": "password",
        "WaitForCleanUp": "delete",  # a drill's cleanup waits for deletions
        "WaitForCleanUpAfterFailure": "delete",
    }
    # The CLI's own view of the loops (used for the time limits) finds the same ones.
    found = definition.wait_loops({"States": states})
    assert {loop.wait: loop.key for loop in found} == loops


def test_phases_are_stamped_in_order_and_the_keep_wait_is_validated(
    states: dict[str, Any],
) -> None:
    marks = [
        (name, s["ResultPath"])
        for name, s in states.items()
        if s["Type"] == "Pass" and s.get("ResultPath", "").startswith("$.marks.")
    ]
    assert [path for _, path in marks] == [
        "$.marks.copy",
        "$.marks.restore",
        "$.marks.instances",
        "$.marks.verification",
        "$.marks.verified",
    ]
    assert all(states[n]["Parameters"] == {"at.$": "$$.State.EnteredTime"} for n, _ in marks)
    # The copy phase starts with the choice of the path (a clone or a point in time has no
    # copy: its copy phase is that choice, and the restore phase follows at once).
    assert states["StartCopyPhase"]["Next"] == "ChooseSource"
    assert states["ChooseSource"]["Next"] == "RestorePath"
    assert {c["Next"] for c in states["RestorePath"]["Choices"]} == {"StartRestorePhase"}
    assert states["RestorePath"]["Default"] == "FindSnapshot"
    assert states["EndVerificationPhase"]["Next"] == "KeepForInspection"
    keep = states["KeepDrillCluster"]
    assert keep == {
        "Type": "Wait",
        "Comment": keep["Comment"],
        "SecondsPath": "$.drill.keep_seconds",
        "Next": "CleanUp",
    }
    assert states["PrepareDrill"]["Next"] == "AcquireLock"  # validated before anything else
