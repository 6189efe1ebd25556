"""acquire_lock, release_lock, notify_success, record_failure, notify_failure."""

from __future__ import annotations

import json

import pytest

from handlers import acquire_lock, notify_failure, notify_success, record_failure, release_lock
from handlers.lib.errors import Locked

from . import support
from .support import DocumentFactory, World


def test_lock_refuses_a_second_operation_until_released(
    world: World, make_document: DocumentFactory
) -> None:
    first = acquire_lock.handler(make_document("op-1"), None)
    assert support.lock_item()["holder"] == "op-1"  # type: ignore[index]
    with pytest.raises(Locked, match="locked by operation op-1"):
        acquire_lock.handler(make_document("op-2"), None)
    failed = support.audit_items("op-2")
    assert [(i["step"], i["status"]) for i in failed] == [("acquire-lock", "FAILED")]
    # The refused operation's release does not free the other's lock.
    release_lock.handler(make_document("op-2"), None)
    assert support.audit_items("op-2")[-1]["status"] == "SKIPPED"
    assert support.lock_item()["holder"] == "op-1"  # type: ignore[index]
    release_lock.handler(first, None)
    assert support.lock_item() is None
    acquire_lock.handler(make_document("op-2"), None)


def test_lock_lives_a_little_longer_than_the_execution(
    world: World, make_document: DocumentFactory
) -> None:
    document = make_document()
    document["pipeline"]["timeout_seconds"] = 3600
    acquire_lock.handler(document, None)
    item = support.lock_item()
    assert item is not None
    acquired = item["acquired_at"]
    assert int(item["lock_expires_at"]) > 3600 and acquired.endswith("Z")


def failed_document(make_document: DocumentFactory) -> dict:
    cause = json.dumps({"errorType": "SqlScriptFailed", "errorMessage": "01_mask.sql failed"})
    return make_document(
        "op-f",
        error={"Error": "SqlScriptFailed", "Cause": cause},
        staging_cluster_id="dev-orders-stg-x",
        snapshot={"id": "prod-orders-manual-1", "arn": "arn:x"},
        timings={"find-snapshot": 0.5},
    )


def test_failure_path_records_and_notifies(world: World, make_document: DocumentFactory) -> None:
    document = record_failure.handler(failed_document(make_document), None)
    document = notify_failure.handler(document, None)
    items = support.audit_items("op-f")
    final = next(i for i in items if i["step"] == "pipeline")
    assert final["status"] == "FAILED"
    assert final["details"]["error"] == "SqlScriptFailed"
    assert final["details"]["message"] == "01_mask.sql failed"
    assert final["details"]["staging_cluster_id"] == "dev-orders-stg-x"
    sent = support.notifications(world.topic_arn)
    assert len(sent) == 1
    assert sent[0]["subject"] == "aurora-restore [dev] FAILED: dev-orders (SqlScriptFailed)"
    body = json.loads(sent[0]["message"].split("\n\n", 1)[1])
    assert body["error"] == "SqlScriptFailed" and body["message"] == "01_mask.sql failed"
    assert body["serving_under_target"] == "unknown" and body["undone"] == []
    assert "aurora-restore recover op-f --env dev" in body["next_step"]  # no undo ran here
    assert "undone: none" in sent[0]["message"]
    assert body["status"] == "FAILED" and body["timings"]["find-snapshot"] == 0.5


def test_success_notification(world: World, make_document: DocumentFactory) -> None:
    document = make_document(
        "op-s",
        snapshot={"id": "prod-orders-manual-1", "arn": world.snapshot_arn, "created": "t"},
        result={"endpoint": "dev-orders.cluster-x.us-east-1.rds.amazonaws.com"},
        timings={"a": 1.0, "b": 2.0},
    )
    notify_success.handler(document, None)
    sent = support.notifications(world.topic_arn)
    assert sent[0]["subject"] == (
        "aurora-restore [dev] SUCCEEDED: dev-orders refreshed from prod-orders-manual-1"
    )
    body = json.loads(sent[0]["message"].split("\n\n", 1)[1])
    assert body["source_snapshot"] == world.snapshot_arn
    assert body["step_seconds"] == 3.0 and body["duration_seconds"] > 0
    assert body["endpoint"].startswith("dev-orders.cluster-")
    statuses = {(i["step"], i["status"]) for i in support.audit_items("op-s")}
    assert statuses == {("pipeline", "SUCCEEDED"), ("notify-success", "SUCCEEDED")}
