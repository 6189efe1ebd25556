"""The definition template and aurora_restore_cli.definition (pure: no AWS)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aurora_restore_cli.contract import definition
from handlers import DRILL_STEPS, STEPS
from handlers.lib import polling

ROOT = Path(__file__).resolve().parents[2]
REFRESH_STEPS = [step for step in STEPS if step not in DRILL_STEPS]  # drill steps: test_drill_*
ARNS = {
    step: f"arn:aws:lambda:us-east-1:111111111111:function:aurora-restore-{step}-dev"
    for step in REFRESH_STEPS
}
FAILURE_PATH = ["RecordFailure", "ReleaseLockOnFailure", "NotifyFailure", "Failed"]
UNDO = "UndoChanges"
PIPELINE = {
    "timeout_seconds": 21600,
    "poll_growth_percent": 2,
    "waits": {
        key: {"first_seconds": 60, "poll_seconds": 10, "max_seconds": 3600, "max_polls": 120}
        for key in polling.LOOPS
    },
}
LOOPS = {
    "CopyReady": "copy",
    "TargetDeleted": "delete",
    "CloneReady": "clone",
    "ClusterReady": "restore",
    "InstancesReady": "instances",
    "PasswordApplied": "password",
    "SettingsMatched": "settings",
    "SwapOutDone": "rename",
    "SwapInDone": "rename",
    "OldDeleted": "delete",
}


def values(**overrides: object) -> dict[str, object]:
    filled: dict[str, object] = {
        definition.function_arn_placeholder(step): arn for step, arn in ARNS.items()
    }
    filled.update(
        Settings={"env": "dev", "target": {"cluster_id": "dev-orders", "strategy": "swap"}},
        Pipeline=PIPELINE,
        TimeoutSeconds=21600,
    )
    filled.update(overrides)
    return filled


@pytest.fixture
def rendered() -> dict[str, object]:
    return json.loads(definition.render(definition.load_template(), values()))  # type: ignore[arg-type]


def test_template_is_json_and_uses_exactly_our_placeholders() -> None:
    template = definition.load_template()
    json.loads(template)  # placeholders sit inside strings: the template itself is valid JSON
    expected = {definition.function_arn_placeholder(s) for s in REFRESH_STEPS} | set(
        definition.VALUE_PLACEHOLDERS
    )
    assert set(definition.placeholders()) == expected


def test_function_arn_placeholder_names() -> None:
    assert definition.function_arn_placeholder("find_snapshot") == "FindSnapshotFunctionArn"
    assert definition.function_arn_placeholder("mask_data") == "MaskDataFunctionArn"
    assert definition.function_arn_placeholder("verify") == "VerifyFunctionArn"


def test_render_inserts_dicts_and_numbers_raw(rendered: dict) -> None:
    states = rendered["States"]
    assert states["LoadSettings"]["Result"]["target"]["cluster_id"] == "dev-orders"
    assert states["Initialize"]["Parameters"]["pipeline"] == PIPELINE
    assert rendered["TimeoutSeconds"] == 21600
    assert states["FindSnapshot"]["Parameters"]["FunctionName"] == ARNS["find_snapshot"]


def test_render_refuses_missing_and_unused_values() -> None:
    template = definition.load_template()
    partial = values()
    del partial["VerifyFunctionArn"]
    with pytest.raises(definition.DefinitionError, match="VerifyFunctionArn"):
        definition.render(template, partial)  # type: ignore[arg-type]
    with pytest.raises(definition.DefinitionError, match="Bogus"):
        definition.render(template, values(Bogus="x"))  # type: ignore[arg-type]


def test_render_escapes_strings_inside_strings() -> None:
    out = definition.render('{"a": "x-${Name}-y", "b": "${Name}"}', {"Name": 'q"uote'})
    assert json.loads(out) == {"a": 'x-q"uote-y', "b": 'q"uote'}


def test_rendered_definition_validates() -> None:
    text = definition.render(definition.load_template(), values())  # type: ignore[arg-type]
    assert definition.validate(text, set(ARNS.values())) == []


def test_validate_finds_problems() -> None:
    good = definition.render(definition.load_template(), values())  # type: ignore[arg-type]
    assert definition.validate("{not json", set())[0].startswith("not valid JSON")
    foreign = definition.validate(good, set(ARNS.values()) - {ARNS["verify"]})
    assert any("Verify: invokes" in p for p in foreign)
    doc = json.loads(good)
    doc["States"]["FindSnapshot"]["Next"] = "Nowhere"
    doc["States"]["Orphan"] = {"Type": "Succeed"}
    doc["StartAt"] = "Initialize"
    problems = definition.validate(json.dumps(doc), set(ARNS.values()))
    assert "FindSnapshot: next state 'Nowhere' does not exist" in problems
    assert "Orphan: unreachable" in problems
    doc["StartAt"] = "Missing"
    assert "StartAt 'Missing' is not a state" in definition.validate(json.dumps(doc), set())
    unfilled = definition.validate(definition.load_template(), set())
    assert any("unfilled placeholder" in p for p in unfilled)


def test_every_task_retries_transient_errors_boundedly_and_catches_everything(
    rendered: dict,
) -> None:
    for name, state in rendered["States"].items():
        if state["Type"] != "Task":
            continue
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= retried, name
        assert "TransientError" in retried, name
        for rule in state["Retry"]:
            assert 1 <= rule["MaxAttempts"] <= 5 and rule["BackoffRate"] >= 1, name
        catch = state["Catch"]
        assert catch[0]["ErrorEquals"] == ["States.ALL"], name
        if name in FAILURE_PATH:
            assert catch[0]["ResultPath"] is None and catch[0]["Next"] == state["Next"], name
        elif name == UNDO:  # a failed undo is recorded and notified, never loops back
            assert catch[0] == {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.undo_error",
                "Next": "RecordFailure",
            }
        else:
            assert catch[0] == {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Next": UNDO,
            }, name


def test_failure_path_undoes_then_records_releases_notifies_and_fails(rendered: dict) -> None:
    states = rendered["States"]
    undo = states[UNDO]
    assert undo["Parameters"]["FunctionName"] == ARNS["undo_changes"]
    done = states[undo["Next"]]
    assert done["Type"] == "Choice" and states[done["Default"]]["Next"] == UNDO
    rules = {rule["Variable"]: rule for rule in done["Choices"]}
    assert rules["$.undo.done"]["Next"] == "RecordFailure"
    # The undo paces and bounds itself (lib/undo._pace): not a poll loop of the success path.
    assert rules["$.undo.attempt"] == {
        "Variable": "$.undo.attempt",
        "NumericGreaterThanEqualsPath": "$.undo.max_passes",
        "Next": "RecordFailure",
    }
    assert states[done["Default"]]["SecondsPath"] == "$.undo.wait_seconds"
    walk, name = [], "RecordFailure"
    while name:
        walk.append(name)
        name = states[name].get("Next")
    assert walk == FAILURE_PATH
    functions = [states[n]["Parameters"]["FunctionName"] for n in FAILURE_PATH[:-1]]
    # Only UndoChanges touches clusters; after it, the path records, releases and notifies.
    assert functions == [ARNS["record_failure"], ARNS["release_lock"], ARNS["notify_failure"]]
    assert states["Failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_every_wait_loop_is_bounded_by_its_own_settings(rendered: dict) -> None:
    states = rendered["States"]
    waits = [n for n, s in states.items() if s["Type"] == "Wait" and s["Next"] != UNDO]
    assert len(waits) == 10
    for wait in waits:
        # The wait before each check is what the last start/check step computed (polling.py).
        assert (
            states[wait]["SecondsPath"] == "$.poll.wait_seconds" and "Seconds" not in states[wait]
        )
        check = states[states[wait]["Next"]]
        choice_name = check["Next"]
        choice = states[choice_name]
        assert choice["Type"] == "Choice" and choice["Default"] == wait
        rules = {rule["Variable"]: rule for rule in choice["Choices"]}
        bound = rules["$.poll.attempt"]
        assert bound["Next"] == "PollTimedOut"
        key = LOOPS[choice_name]
        assert bound["NumericGreaterThanEqualsPath"] == f"$.pipeline.waits.{key}.max_polls"
        assert key in PIPELINE["waits"]  # type: ignore[operator]
    assert [(loop.choice, loop.key) for loop in definition.wait_loops(rendered)] == list(
        LOOPS.items()
    )
    timed_out = states["PollTimedOut"]
    assert timed_out["Parameters"]["Error"] == "PollTimeout"
    assert timed_out["Next"] == UNDO


def test_settings_come_from_the_definition_not_the_input(rendered: dict) -> None:
    states = rendered["States"]
    assert rendered["StartAt"] == "Initialize"
    init = states["Initialize"]["Parameters"]
    assert "settings" not in init and init["request.$"] == "$"
    assert states["Initialize"]["Next"] == "LoadSettings"
    assert states["LoadSettings"]["ResultPath"] == "$.settings"


def test_every_step_module_is_invoked_and_exists(rendered: dict) -> None:
    used = {
        s["Parameters"]["FunctionName"] for s in rendered["States"].values() if s["Type"] == "Task"
    }
    assert used == set(ARNS.values())
    for step in STEPS:
        assert (ROOT / "handlers" / f"{step}.py").is_file(), step


def test_handlers_never_import_the_cli() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+aurora_restore_cli", re.MULTILINE)
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "handlers").rglob("*.py")
        if pattern.search(p.read_text())
    ]
    assert offenders == []


def test_definition_module_does_not_use_boto3() -> None:
    source = (ROOT / "aurora_restore_cli" / "contract" / "definition.py").read_text()
    assert not re.search(r"^\s*(from|import)\s+(boto3|botocore|moto)", source, re.MULTILINE)


def test_initialize_places_the_pipeline_block_and_an_empty_poll(rendered: dict) -> None:
    init = rendered["States"]["Initialize"]["Parameters"]
    assert init["pipeline"] == PIPELINE
    assert init["poll"] == {
        "what": "none",
        "attempt": 0,
        "ready": False,
        "status": "none",
        "wait_seconds": 0,
        "waited_seconds": 0,
    }


def loops_on(path: list[str]) -> list[str]:
    return [LOOPS[name] for name in path if name in LOOPS]


SNAPSHOT_ONLY = {definition.POSSIBLE: {"$.restore_from.path": {"snapshot"}}}


def test_success_paths_follow_the_configured_strategy(rendered: dict) -> None:
    swap = definition.success_paths(
        rendered, {"settings": {"target": {"strategy": "swap"}}, **SNAPSHOT_ONLY}
    )
    # Whether a copy is needed is decided by the run, not the config: both paths count.
    assert sorted(loops_on(p) for p in swap) == [  # the old cluster's delete is waited for
        ["copy", "restore", "instances", "password", "settings", "rename", "rename", "delete"],
        ["restore", "instances", "password", "settings", "rename", "rename", "delete"],
    ]
    replace = definition.success_paths(
        rendered, {"settings": {"target": {"strategy": "replace"}}, **SNAPSHOT_ONLY}
    )
    assert sorted(loops_on(p) for p in replace) == [
        ["copy", "delete", "restore", "instances", "password"],
        ["delete", "restore", "instances", "password"],
    ]
    # snapshot (copy or not) or clone or point in time × strategy × settings parity or not ×
    # swap or finish
    undecided = definition.success_paths(rendered, {})
    assert len(undecided) == 32
    for path in swap + replace:
        assert path[0] == "Initialize" and path[-1] == "Succeeded"
        assert "ChooseSource" in path and "FindSnapshot" in path
        assert "PollTimedOut" not in path and "RecordFailure" not in path


def test_history_events_per_state(rendered: dict) -> None:
    states = rendered["States"]
    assert definition.history_events(states["CheckCopy"]) == 5
    assert definition.history_events(states["WaitForCopy"]) == 2
    assert definition.history_events(states["CopyReady"]) == 2


def test_success_paths_follow_the_ways_the_config_may_restore(rendered: dict) -> None:
    """ChooseSource decides at run time; the config bounds which ways count
    (`source.restore_paths`): a clone waits in its own loop, a point-in-time restore in the
    restore's, and neither finds nor copies a snapshot."""
    swap = {"settings": {"target": {"strategy": "swap"}}}

    def loops_for(*paths: str) -> list[list[str]]:
        facts = {**swap, definition.POSSIBLE: {"$.restore_from.path": set(paths)}}
        return sorted(loops_on(p) for p in definition.success_paths(rendered, facts))

    tail = ["instances", "password", "settings", "rename", "rename", "delete"]
    assert loops_for("clone") == [["clone", *tail]]
    assert loops_for("point_in_time") == [["restore", *tail]]
    assert loops_for("snapshot", "clone") == [
        ["clone", *tail], ["copy", "restore", *tail], ["restore", *tail]
    ]
    facts = {**swap, definition.POSSIBLE: {"$.restore_from.path": {"clone"}}}
    for path in definition.success_paths(rendered, facts):
        assert "FindSnapshot" not in path and "CopySnapshot" not in path
        assert path.index("ChooseSource") < path.index("RestoreCluster") < path.index("CloneReady")
