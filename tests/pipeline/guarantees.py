"""The guarantees every failure must leave behind (README, "Safety"), as one assertion helper
shared by the failure-injection tests and the recovery tests."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from handlers.lib import naming, secrets

from . import support
from .support import SOURCE_REGION, TARGET, World


def original_target() -> dict[str, Any]:
    cluster = support.cluster(TARGET)
    assert cluster is not None
    return {
        "tags": sorted((t["Key"], t["Value"]) for t in cluster["TagList"]),
        "members": sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]),
    }


def body(notification: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(notification["message"].split("\n\n", 1)[1]))


def tags_of(cluster: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}


def succeeded(operation_id: str, step: str) -> bool:
    return any(
        item["step"] == step and item["status"] in ("SUCCEEDED", "SKIPPED")
        for item in support.audit_items(operation_id)
    )


def assert_password_findable(cluster_id: str) -> None:
    """A cluster whose master password the pipeline set opens with the master-secret version
    that the label of the operation that restored it finds (`aurora-restore-<token>`), wherever
    it sits and whatever later runs did to AWSPENDING and AWSCURRENT."""
    password = support.master_password_of(cluster_id)
    if password == support.OLD_MASTER_PASSWORD:
        return  # the password it was made with (production's, or the target's): not ours
    operation = tags_of(support.cluster(cluster_id) or {})["aurora-restore:operation"]
    label = f"aurora-restore-{naming.token(operation)}"
    found = support.client("secretsmanager").get_secret_value(
        SecretId=support.MASTER_SECRET, VersionStage=label
    )
    assert json.loads(found["SecretString"])["password"] == password, cluster_id


def assert_never_lost(
    world: World,
    operation_id: str,
    execution: dict[str, Any],
    *,
    before: dict[str, Any],
    master_before: str,
    new_expected: bool,
    error: str,
    failure_path: bool = True,
    source_before: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The guarantees of the README's safety section, checked one by one. `failure_path`:
    the execution ended through its own failure path (else it timed out or was aborted and
    the recovery function or `recover` did the undo). `source_before`: the same-region
    production cluster's fingerprint before the run (clone and point-in-time worlds): it is
    unchanged, and no cluster the run left keeps its master password."""
    if failure_path:
        assert execution["status"] == "FAILED", execution
        assert execution["error"] == error, execution.get("cause")
        states = support.entered_states(execution["executionArn"])
        assert "UndoChanges" in states
        assert states[-4:] == ["RecordFailure", "ReleaseLockOnFailure", "NotifyFailure", "Failed"]

    # 1. A cluster serves under the target id: this run's (verified) one, or the one from before.
    target = support.cluster(TARGET)
    assert target is not None and target["Status"] == "available"
    target_tags = tags_of(target)
    is_new = target_tags.get("aurora-restore:operation") == operation_id and (
        "aurora-restore:restored-from" not in target_tags
    )
    assert is_new == new_expected, target_tags
    final_id = naming.final_snapshot_id(TARGET, operation_id)
    if target_tags.get("aurora-restore:restored-from"):
        assert target_tags["aurora-restore:restored-from"] == final_id
        assert [m["DBInstanceIdentifier"] for m in target["DBClusterMembers"]] == [
            naming.recovery_instance_id(TARGET, operation_id, 1)
        ]
    elif not is_new:
        assert original_target() == before  # the very cluster that served before the run

    # 2. The master secret's AWSCURRENT opens what serves; it moved only if the new one serves.
    current = support.client("secretsmanager").get_secret_value(SecretId=support.MASTER_SECRET)
    ours = secrets.master_version_id(operation_id)
    assert current["VersionId"] == (ours if is_new else master_before)
    assert json.loads(current["SecretString"])["password"] == support.master_password_of(TARGET)

    # 3. The lock is released, the outcome audited and notified.
    assert support.lock_item() is None
    final = [i for i in support.audit_items(operation_id) if i["step"] == "pipeline"][-1]
    assert final["status"] == "FAILED" and final["details"]["error"] == error
    sent = support.notifications(world.topic_arn)[-1]
    assert sent["subject"] == f"aurora-restore [dev] FAILED: {TARGET} ({error})"
    facts = body(sent)
    assert facts["status"] == "FAILED" and "next_step" not in facts
    assert facts["serving_under_target"] == final["details"]["serving_under_target"]
    assert facts["undone"] == final["details"]["undone"] and "undone:" in sent["message"]
    assert (facts["serving_under_target"] == "this run's refreshed cluster") == is_new

    # 4. No orphans: what stays is this run's, documented in the notification, and expires.
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    staying = support.cluster_ids() - {TARGET}
    if source_before is not None:  # the production cluster beside the target: only read
        assert support.source_fingerprint() == source_before
        staying.discard(support.SOURCE)
    for cluster_id in [TARGET, *staying]:
        assert support.master_password_of(cluster_id) != support.PROD_MASTER_PASSWORD, cluster_id
    derived = {
        naming.staging_cluster_id(TARGET, operation_id),
        naming.old_cluster_id(TARGET, operation_id),
    }
    for cluster_id in staying:
        assert cluster_id in derived, cluster_id
        cluster_tags = tags_of(support.cluster(cluster_id) or {})
        assert cluster_tags["aurora-restore:managed-by"] == "aurora-restore"
        assert cluster_tags["aurora-restore:expires-at"] > now, cluster_id
        assert any(cluster_id in line for line in facts["left"]), facts["left"]
        assert_password_findable(cluster_id)
    clusters = support.cluster_ids()
    for instance in support.rds().describe_db_instances()["DBInstances"]:
        assert instance["DBClusterIdentifier"] in clusters, instance["DBInstanceIdentifier"]
    for snapshot_id, snapshot_tags in support.manual_snapshots().items():
        assert snapshot_id == final_id, f"orphan snapshot {snapshot_id}"
        assert snapshot_tags["aurora-restore:kind"] == "final-snapshot"
        assert snapshot_tags["aurora-restore:env"] == "dev"
    assert support.manual_snapshots(SOURCE_REGION) == {
        world.snapshot_id: {"team": "orders"}
    }  # the source's snapshot is untouched
    return facts
