"""How `logs` reads a log event: our JSON line after Lambda's prefix, the state machine's
execution log, and everything that is not the run's."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from aurora_restore_cli.operations.logs import STATE_MACHINE_STEP, Run, parse

OP = "dev-20260101-000000-abcdef"
EXECUTION = f"arn:aws:states:us-east-1:123456789012:execution:aurora-restore-pipeline-dev:{OP}"
RUN = Run(OP, EXECUTION, "refresh", "FAILED", datetime(2026, 1, 1, tzinfo=timezone.utc), None)


def event(message: str, timestamp: int = 1_767_225_600_123) -> dict[str, object]:
    return {"message": message, "timestamp": timestamp, "eventId": "1"}


def ours(operation_id: str = OP, **extra: object) -> str:
    line = {"operation_id": operation_id, "step": "find-snapshot", "level": "ERROR",
            "message": "FAILED SnapshotNotFound: no snapshot", **extra}
    return "[ERROR]\t2026-01-01T00:00:00.123Z\treq-1\t" + json.dumps(line)


def test_a_line_of_the_run_after_lambdas_prefix_with_a_traceback_after_it() -> None:
    found = parse(RUN, "/aws/lambda/f", event(ours(details={"seconds": 1}) + "\nTraceback ..."))
    assert found is not None
    assert (found.step, found.level, found.message) == (
        "find-snapshot", "ERROR", "FAILED SnapshotNotFound: no snapshot")
    assert found.details == {"seconds": 1}
    assert found.time == "2026-01-01T00:00:00.123Z"


def test_lines_of_another_run_and_lambdas_own_lines_are_not_the_runs() -> None:
    other = "dev-20260101-000000-abcdef0"  # the id is a prefix of it: matched, then refused
    assert parse(RUN, "/aws/lambda/f", event(ours(other))) is None
    assert parse(RUN, "/aws/lambda/f", event(f"START RequestId: {OP} Version: $LATEST")) is None
    assert parse(RUN, "/aws/lambda/f", event("[INFO] {not json")) is None


def test_the_state_machines_execution_log() -> None:
    line = {"id": "7", "type": "ExecutionFailed", "execution_arn": EXECUTION,
            "details": {"error": "States.TaskFailed", "cause": "boom"}}
    found = parse(RUN, "/aws/vendedlogs/states/x", event(json.dumps(line)))
    assert found is not None
    assert (found.step, found.level, found.message) == (
        STATE_MACHINE_STEP, "ERROR", "ExecutionFailed States.TaskFailed boom")
    elsewhere = {**line, "execution_arn": EXECUTION + "0"}
    assert parse(RUN, "/aws/vendedlogs/states/x", event(json.dumps(elsewhere))) is None
