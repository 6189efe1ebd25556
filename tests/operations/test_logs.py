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


def test_pages_are_followed_past_an_empty_one_and_a_missing_group_is_no_lines() -> None:
    """AWS may answer a FilterLogEvents page with no events and a nextToken (moto never
    does): reading goes on until there is no token. A group that does not exist (a function
    that never logged) has no lines."""
    from types import SimpleNamespace

    import boto3
    from botocore.stub import Stubber

    from aurora_restore_cli.operations.logs import _group_lines

    client = boto3.client("logs", region_name="us-east-1")
    pattern = f'"{OP}"'
    with Stubber(client) as stub:
        base = {"logGroupName": "/aws/lambda/f", "startTime": 1, "filterPattern": pattern}
        stub.add_response("filter_log_events", {"events": [], "nextToken": "t1"}, base)
        stub.add_response("filter_log_events", {"events": [
            {"message": ours(), "timestamp": 5, "eventId": "e1"},
            {"message": ours("dev-20260101-000000-ffffff"), "timestamp": 6, "eventId": "e2"},
        ]}, {**base, "nextToken": "t1"})
        stub.add_client_error("filter_log_events", "ResourceNotFoundException",
                              expected_params={**base, "logGroupName": "/aws/lambda/g"})
        ctx = SimpleNamespace(clients=SimpleNamespace(get=lambda service: client))
        lines = _group_lines(ctx, RUN, "/aws/lambda/f", 1)  # type: ignore[arg-type]
        assert [line.event_id for line in lines] == ["e1"]  # the other run's line is dropped
        assert _group_lines(ctx, RUN, "/aws/lambda/g", 1) == []  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
