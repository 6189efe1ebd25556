"""The definition template and aurora_restore_cli.definition (pure: no AWS)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aurora_restore_cli import definition
from handlers import STEPS

ROOT = Path(__file__).resolve().parents[2]
ARNS = {
    step: f"arn:aws:lambda:us-east-1:111111111111:function:aurora-restore-{step}-dev"
    for step in STEPS
}
FAILURE_PATH = ["RecordFailure", "ReleaseLockOnFailure", "NotifyFailure", "Failed"]
UNDO = "UndoChanges"


def values(**overrides: object) -> dict[str, object]:
    filled: dict[str, object] = {
        definition.function_arn_placeholder(step): arn for step, arn in ARNS.items()
    }
    filled.update(
        Settings={"env": "dev", "target": {"cluster_id": "dev-orders", "strategy": "swap"}},
        PollIntervalSeconds=60,
        MaxPollAttempts=120,
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
    expected = {definition.function_arn_placeholder(s) for s in STEPS} | set(
        definition.VALUE_PLACEHOLDERS
    )
    assert set(definition.placeholders()) == expected


def test_function_arn_placeholder_names() -> None:
    assert definition.function_arn_placeholder("find_snapshot") == "FindSnapshotFunctionArn"
    assert definition.function_arn_placeholder("run_sql") == "RunSqlFunctionArn"
    assert definition.function_arn_placeholder("verify") == "VerifyFunctionArn"


def test_render_inserts_dicts_and_numbers_raw(rendered: dict) -> None:
    states = rendered["States"]
    assert states["LoadSettings"]["Result"]["target"]["cluster_id"] == "dev-orders"
    assert states["WaitForCopy"]["Seconds"] == 60
    assert rendered["TimeoutSeconds"] == 21600
    bound = states["CopyReady"]["Choices"][1]
    assert bound["NumericGreaterThanEquals"] == 120 and bound["Next"] == "PollTimedOut"
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
    assert rules["$.undo.attempt"] == {
        "Variable": "$.undo.attempt",
        "NumericGreaterThanEquals": 120,
        "Next": "RecordFailure",
    }
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


def test_every_wait_loop_is_bounded(rendered: dict) -> None:
    states = rendered["States"]
    waits = [n for n, s in states.items() if s["Type"] == "Wait"]
    assert len(waits) == 9
    for wait in waits:
        check = states[states[wait]["Next"]]
        choice = states[check["Next"]]
        assert choice["Type"] == "Choice" and choice["Default"] == wait
        bounds = [rule for rule in choice["Choices"] if "NumericGreaterThanEquals" in rule]
        assert [rule["NumericGreaterThanEquals"] for rule in bounds] == [120], wait
        if check is not states[UNDO]:
            assert bounds[0] == {
                "Variable": "$.poll.attempt",
                "NumericGreaterThanEquals": 120,
                "Next": "PollTimedOut",
            }
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
    source = (ROOT / "aurora_restore_cli" / "definition.py").read_text()
    assert not re.search(r"^\s*(from|import)\s+(boto3|botocore|moto)", source, re.MULTILINE)
