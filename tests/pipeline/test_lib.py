"""handlers.lib: audit items, the lock, the @pipeline_step wrapper, naming, the guard."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers.lib import audit, guards, naming, notify
from handlers.lib.errors import Locked, SnapshotTooOld, TransientError, UnsafeTarget
from handlers.lib.step import pipeline_step, skipped

from . import support

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_put_event_writes_the_contract_fields(world: support.World) -> None:
    item = audit.put_event("op-a", "find-snapshot", "SUCCEEDED", {"n": 1.5, "ok": True}, "dev")
    second = audit.put_event("op-a", "find-snapshot", "SUCCEEDED", {}, "dev", ttl_days=1)
    stored = sorted(support.audit_items("op-a"), key=lambda i: i["timestamp"])
    assert len(stored) == 2 and stored[0]["timestamp"] < stored[1]["timestamp"]
    first = stored[0]
    assert ISO.match(first["timestamp"]) and first["timestamp"] == item["timestamp"]
    assert {k: first[k] for k in ("operation_id", "step", "status", "env")} == {
        "operation_id": "op-a",
        "step": "find-snapshot",
        "status": "SUCCEEDED",
        "env": "dev",
    }
    assert float(first["details"]["n"]) == 1.5 and first["details"]["ok"] is True
    now = datetime.now(timezone.utc).timestamp()
    assert 364 * 86400 < int(first["expires_at"]) - now <= 365 * 86400
    assert int(second["expires_at"]) - now <= 86400


def test_timestamps_are_unique_even_in_a_burst(world: support.World) -> None:
    stamps = {audit.put_event("op-b", "s", "SUCCEEDED", {}, "dev")["timestamp"] for _ in range(50)}
    assert len(stamps) == 50 and len(support.audit_items("op-b")) == 50


def test_lock_is_exclusive_reentrant_and_released_only_by_its_holder(
    world: support.World,
) -> None:
    audit.acquire_lock("dev-orders", "op-1", "dev", hold_seconds=600)
    audit.acquire_lock("dev-orders", "op-1", "dev", hold_seconds=600)  # a retried invocation
    with pytest.raises(Locked, match="locked by operation op-1"):
        audit.acquire_lock("dev-orders", "op-2", "dev", hold_seconds=600)
    assert audit.release_lock("dev-orders", "op-2") is False
    assert audit.lock_holder("dev-orders") == "op-1"
    assert audit.release_lock("dev-orders", "op-1") is True
    assert audit.lock_holder("dev-orders") is None
    audit.acquire_lock("dev-orders", "op-2", "dev", hold_seconds=600)
    assert audit.lock_holder("dev-orders") == "op-2"


def test_a_stale_lock_can_be_taken_over(world: support.World) -> None:
    audit.acquire_lock("dev-orders", "op-dead", "dev", hold_seconds=-1)  # already expired
    audit.acquire_lock("dev-orders", "op-new", "dev", hold_seconds=600)
    assert audit.lock_holder("dev-orders") == "op-new"


def test_pipeline_step_times_audits_and_returns_the_document(world: support.World) -> None:
    @pipeline_step("probe-step")
    def handler(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        document["seen"] = True
        return document, {"answer": 42}

    out = handler({"operation_id": "op-c", "settings": {"env": "dev"}, "timings": {}}, None)
    out = handler(out, None)  # a second poll adds to the same timing
    assert out["seen"] is True and out["timings"]["probe-step"] >= 0
    items = support.audit_items("op-c")
    assert [(i["step"], i["status"], i["details"]["answer"]) for i in items] == [
        ("probe-step", "SUCCEEDED", 42)
    ] * 2


def test_pipeline_step_records_skipped_and_failed(world: support.World) -> None:
    @pipeline_step("skipper")
    def skipping(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return document, skipped("nothing to do", extra=1)

    @pipeline_step("failer")
    def failing(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise SnapshotTooOld("too old by far")

    document = {"operation_id": "op-d", "settings": {"env": "dev"}}
    skipping(document, None)
    with pytest.raises(SnapshotTooOld):
        failing(document, None)
    items = sorted(support.audit_items("op-d"), key=lambda i: i["timestamp"])
    assert items[0]["status"] == "SKIPPED"
    assert items[0]["details"]["reason"] == "nothing to do" and "skipped" not in items[0]["details"]
    assert items[1]["status"] == "FAILED"
    assert items[1]["details"]["error"] == "SnapshotTooOld"
    assert items[1]["details"]["message"] == "too old by far"


def test_throttling_that_outlives_botocore_becomes_transient(world: support.World) -> None:
    @pipeline_step("throttled")
    def handler(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Op")

    with pytest.raises(TransientError, match="Rate exceeded"):
        handler({"operation_id": "op-e", "settings": {"env": "dev"}}, None)


def test_pipeline_step_refuses_a_non_document(world: support.World) -> None:
    @pipeline_step("x")
    def handler(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return document, {}

    with pytest.raises(Exception, match="not a state document"):
        handler({"no": "operation"}, None)


RDS_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")


@pytest.mark.parametrize("target", ["dev-orders", "a" * 63, "x", "Dev-Orders-2"])
@pytest.mark.parametrize("operation", ["op-1", "manual-2026-01-01T00:00:00Z", "é" * 80])
def test_derived_ids_are_valid_rds_identifiers(target: str, operation: str) -> None:
    for made in (
        naming.staging_cluster_id(target, operation),
        naming.old_cluster_id(target, operation),
        naming.copy_snapshot_id(target, operation),
        naming.instance_id(target, operation, 3),
        naming.final_snapshot_id(target, operation),
    ):
        assert RDS_ID.match(made), made
    assert naming.staging_cluster_id(target, operation) != naming.staging_cluster_id(
        target, operation + "x"
    )


def cluster_of(cluster_id: str, arn_region: str = "us-east-1") -> dict[str, Any]:
    return {
        "DBClusterIdentifier": cluster_id,
        "DBClusterArn": f"arn:aws:rds:{arn_region}:123456789012:cluster:{cluster_id}",
    }


MANAGED = {"aurora-restore:managed-by": "aurora-restore", "aurora-restore:env": "dev"}


def test_guard_allows_only_managed_target_staging_and_old(
    make_document: support.DocumentFactory,
) -> None:
    """The target needs our tags; this run's staging and old ids need this run's id too (the
    one who restored, or swapped out, the cluster there): anything else is not ours."""
    document = make_document("op-g")
    staging = naming.staging_cluster_id("dev-orders", "op-g")
    old = naming.old_cluster_id("dev-orders", "op-g")
    restored = {**MANAGED, "aurora-restore:operation": "op-g"}
    swapped_out = {**MANAGED, "aurora-restore:swapped-out-by": "op-g"}
    for cluster_id, tags in (("dev-orders", MANAGED), (staging, restored), (old, swapped_out)):
        guards.check_cluster(document, cluster_of(cluster_id), tags, "delete")
    refusals = [
        (cluster_of("dev-other"), MANAGED, "neither the target"),
        (cluster_of(naming.old_cluster_id("dev-orders", "op-other")), swapped_out, "neither"),
        (cluster_of("dev-orders"), {}, "lacks the tags"),
        (cluster_of("dev-orders"), {**MANAGED, "aurora-restore:env": "prod"}, "lacks the tags"),
        (cluster_of(staging), MANAGED, "not ours"),  # managed, but no operation id
        (cluster_of(staging), {**MANAGED, "aurora-restore:operation": "op-x"}, "not ours"),
        (cluster_of(old), restored, "not ours"),  # restored by op-g is not swapped out by it
        (cluster_of(staging), {"aurora-restore:operation": "op-g"}, "lacks the tags"),
    ]
    for cluster, tags, message in refusals:
        with pytest.raises(UnsafeTarget, match=message):
            guards.check_cluster(document, cluster, tags, "delete")


def test_guard_refuses_source_and_protected(make_document: support.DocumentFactory) -> None:
    document = make_document()
    document["settings"]["target"]["protected_cluster_ids"].append("dev-orders")
    with pytest.raises(UnsafeTarget, match="protected"):
        guards.check_cluster(document, cluster_of("dev-orders"), MANAGED, "rename")
    document = make_document()
    document["settings"]["source"]["cluster_id"] = "dev-orders"
    with pytest.raises(UnsafeTarget, match="source"):
        guards.check_cluster(document, cluster_of("dev-orders"), MANAGED, "rename")


def test_failure_parsing_reads_lambda_payloads_and_plain_causes() -> None:
    lambda_error = {
        "Error": "SnapshotTooOld",
        "Cause": '{"errorType":"SnapshotTooOld","errorMessage":"50 h old"}',
    }
    assert notify.failure({"error": lambda_error}) == {
        "error": "SnapshotTooOld",
        "message": "50 h old",
    }
    plain = {"Error": "PollTimeout", "Cause": "copy not ready after 3 checks"}
    assert notify.failure({"error": plain}) == {
        "error": "PollTimeout",
        "message": "copy not ready after 3 checks",
    }
    assert notify.failure({})["error"] == "Unknown"


def test_publish_uses_the_topic_and_a_short_subject(world: support.World) -> None:
    notify.publish("s" * 300, {"status": "SUCCEEDED", "timings": {"a": 1}}, "SUCCEEDED")
    sent = support.notifications(world.topic_arn)
    assert len(sent) == 1 and len(sent[0]["subject"]) == 100
    assert "a: 1" in sent[0]["message"]
