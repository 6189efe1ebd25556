"""Restore drills end to end: definitions/drill.asl.json rendered and executed by moto's Step
Functions interpreter, every Lambda Task routed to our handlers in-process, against moto RDS,
DynamoDB, SNS, Secrets Manager and CloudWatch (see test_end_to_end for the set-up), with
AWS's rules on (aws_rules: what AWS refuses, refused here too).

Every test compares the target before and after (the whole RDS description of the cluster and
its instances: ARN, creation time, id, tags, members, status, endpoint …) and checks that no
handler made a single RDS write call naming the target or one of its instances. The database
steps run with AURORA_RESTORE_DB_MODE=skip here; the drill's verification against a real
PostgreSQL server (a false check fails the drill) is in tests/postgres/test_drill_verify.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import handlers.find_snapshot
from handlers.lib import naming
from handlers.lib.errors import SnapshotNotFound
from handlers.lib.step import pipeline_step

from . import drill_support, support
from .aws_rules import AwsRules
from .drill_support import RdsWrites
from .moto_patches import RdsScript
from .support import TARGET, World

pytestmark = pytest.mark.usefixtures("router")

DRILL_STEPS = [
    ("drill-prepare", "SUCCEEDED"),
    ("acquire-lock", "SUCCEEDED"),
    ("choose-source", "SUCCEEDED"),
    ("find-snapshot", "SUCCEEDED"),
    ("copy-snapshot", "SUCCEEDED"),
    ("check-copy", "SUCCEEDED"),
    ("check-copy", "SUCCEEDED"),
    ("restore-cluster", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("create-instances", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("reset-master-password", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("verify", "SKIPPED"),
    ("drill-cleanup", "SUCCEEDED"),  # deletes: instances, cluster, copy
    ("drill-cleanup", "SUCCEEDED"),  # all gone
]


@pytest.fixture
def target_guard(world: World) -> Iterator[RdsWrites]:
    """The target before and after the test must be identical, and nothing may write to it."""
    before = drill_support.target_fingerprint()
    target_instances = [m["DBInstanceIdentifier"] for m in before["cluster"]["DBClusterMembers"]]
    with drill_support.recording_rds_writes() as writes:
        yield writes
    assert drill_support.target_fingerprint() == before
    assert writes.touching(TARGET, before["cluster"]["DBClusterArn"], *target_instances) == []


def trail(operation_id: str) -> list[dict[str, Any]]:
    return sorted(support.audit_items(operation_id), key=lambda item: item["timestamp"])


def body(notification: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(notification["message"].split("\n\n", 1)[1]))


def snapshot_ids() -> set[str]:
    found = support.rds().describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return {s["DBClusterSnapshotIdentifier"] for s in found}


def drill_lock(operation_id: str) -> dict[str, Any] | None:
    key = {
        "operation_id": {"S": f"lock#{naming.drill_cluster_id(TARGET, operation_id)}"},
        "timestamp": {"S": "LOCK"},
    }
    return support.client("dynamodb").get_item(TableName=support.TABLE, Key=key).get("Item")


def test_a_drill_restores_verifies_measures_and_deletes_its_cluster(
    world: World, rds_script: RdsScript, target_guard: RdsWrites, aws_rules: AwsRules
) -> None:
    machine = drill_support.deploy_drill(world)
    op = "drill-1"
    drill_id = naming.drill_cluster_id(TARGET, op)
    copy_id = naming.copy_snapshot_id(TARGET, op)
    rds_script.script_snapshot(copy_id, "copying")
    rds_script.script_cluster(drill_id, "creating")
    master_before = drill_support.secret_versions(support.MASTER_SECRET)
    master_value = support.secret_values()[support.MASTER_SECRET]
    snapshots_before = snapshot_ids()

    execution = support.run(machine, op, drill_support.drill_request())

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert not aws_rules.fired  # not one request that real AWS would have refused
    states = support.entered_states(execution["executionArn"])
    assert states.count("CheckCopy") == 2 and states.count("CheckCluster") == 2
    assert states[-3:] == ["ReleaseLock", "NotifySuccess", "Succeeded"]
    assert "CleanUpAfterFailure" not in states and "KeepDrillCluster" not in states

    # The drill cluster was created (ours, marked, with an expiry), then deleted with its
    # instances and this operation's copy; nothing of the drill is left.
    (restore,) = [p for op_, p in target_guard.calls if op_ == "RestoreDBClusterFromSnapshot"]
    assert restore["DBClusterIdentifier"] == drill_id
    assert restore["SnapshotIdentifier"] == copy_id and restore["DeletionProtection"] is False
    tags = {t["Key"]: t["Value"] for t in restore["Tags"]}
    assert tags["aurora-restore:drill"] == "true" and tags["aurora-restore:operation"] == op
    assert tags["aurora-restore:env"] == "dev" and tags["aurora-restore:expires-at"].endswith("Z")
    assert target_guard.operations(drill_id) == [
        "RestoreDBClusterFromSnapshot",
        "CreateDBInstance",
        "ModifyDBCluster",  # the drill's own master password
        "DeleteDBCluster",
    ]
    deleted = [p for op_, p in target_guard.calls if op_ == "DeleteDBCluster"]
    assert deleted == [{"DBClusterIdentifier": drill_id, "SkipFinalSnapshot": True}]
    assert [
        p["DBInstanceIdentifier"] for o, p in target_guard.calls if o == "DeleteDBInstance"
    ] == [naming.instance_id(TARGET, op, 1)]
    assert support.cluster_ids() == {TARGET}
    assert snapshot_ids() == snapshots_before  # the copy is gone again
    assert drill_lock(op) is None and support.lock_item() is None

    # Production's master password was never used: the env's master secret is untouched and
    # the drill's password lives in the drill secret only.
    assert drill_support.secret_versions(support.MASTER_SECRET) == master_before
    assert support.secret_values()[support.MASTER_SECRET] == master_value
    drill_secret = json.loads(
        support.client("secretsmanager").get_secret_value(SecretId=support.DRILL_SECRET)[
            "SecretString"
        ]
    )
    assert drill_secret["cluster_id"] == drill_id and drill_secret["operation_id"] == op
    assert drill_secret["password"] not in (support.OLD_MASTER_PASSWORD, "")
    assert drill_secret["password"] not in json.dumps(trail(op), default=str)

    # Audit: the steps, one item per phase, a summary with the RTO, the closing item.
    items = trail(op)
    steps = [(i["step"], i["status"]) for i in items]
    assert steps[: len(DRILL_STEPS)] == DRILL_STEPS
    assert steps[len(DRILL_STEPS) :] == [
        ("drill-phase", "SUCCEEDED"),
        ("drill-phase", "SUCCEEDED"),
        ("drill-phase", "SUCCEEDED"),
        ("drill-phase", "SUCCEEDED"),
        ("drill", "SUCCEEDED"),
        ("drill-report", "SUCCEEDED"),
        ("release-lock", "SUCCEEDED"),
        ("pipeline", "SUCCEEDED"),
        ("notify-success", "SUCCEEDED"),
    ]
    phases = [i["details"] for i in items if i["step"] == "drill-phase"]
    assert [p["phase"] for p in phases] == ["copy", "restore", "instances", "verification"]
    assert all(p["started"] <= p["ended"] and p["seconds"] >= 0 for p in phases)
    summary = next(i["details"] for i in items if i["step"] == "drill")
    assert summary["drill_cluster_id"] == drill_id
    assert summary["snapshot_id"] == world.snapshot_id
    assert summary["snapshot_age_hours"] >= 0
    assert set(summary["phases"]) == {"copy", "restore", "instances", "verification"}
    # The phases are contiguous: together they are the RTO.
    rto_seconds = float(summary["rto_seconds"])
    assert abs(rto_seconds - sum(float(v) for v in summary["phases"].values())) < 0.01
    assert summary["verification"] == {
        "skipped": "no database in the sandbox (AURORA_RESTORE_DB_MODE=skip)"
    }
    assert summary["cleanup"]["done"] is True

    # The RTO metric, and the notification saying what the drill proved.
    rto = drill_support.metric_maximum("DrillRtoSeconds", {"Env": "dev"})
    assert rto is not None and abs(rto - rto_seconds) < 0.01
    restore_phase = drill_support.metric_maximum(
        "DrillPhaseSeconds", {"Env": "dev", "Phase": "restore"}
    )
    assert restore_phase is not None
    (sent,) = support.notifications(world.topic_arn)
    assert sent["subject"].startswith(
        f"aurora-restore [dev] DRILL SUCCEEDED: {world.snapshot_id} restored and verified in"
    )
    facts = body(sent)
    assert facts["status"] == "SUCCEEDED" and facts["drill_cluster_id"] == drill_id
    assert facts["rto_seconds"] == rto_seconds


def test_a_drill_runs_beside_a_refresh_holding_the_target_lock(
    world: World, target_guard: RdsWrites
) -> None:
    from handlers.lib import audit

    audit.acquire_lock(TARGET, "refresh-in-flight", "dev", hold_seconds=3600)
    machine = drill_support.deploy_drill(world)
    execution = support.run(machine, "drill-beside", drill_support.drill_request())
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    lock = support.lock_item()
    assert lock is not None and lock["holder"] == "refresh-in-flight"
    assert support.cluster_ids() == {TARGET}


def test_a_failing_drill_still_deletes_what_it_made(
    world: World, monkeypatch: pytest.MonkeyPatch, target_guard: RdsWrites
) -> None:
    """Failure after the restore (here: verification): the failure path removes the drill
    cluster and the copy before recording FAILED, naming the error."""
    from handlers import verify
    from handlers.lib.errors import VerificationFailed

    @pipeline_step("verify")
    def failing(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise VerificationFailed("1 of 3 drill check(s) failed: recent orders: returned false")

    monkeypatch.setattr(verify, "handler", failing)
    machine = drill_support.deploy_drill(world)
    op = "drill-fails"
    drill_id = naming.drill_cluster_id(TARGET, op)
    snapshots_before = snapshot_ids()

    execution = support.run(machine, op, drill_support.drill_request())

    assert execution["status"] == "FAILED" and execution["error"] == "VerificationFailed"
    states = support.entered_states(execution["executionArn"])
    failure_path = states[states.index("CleanUpAfterFailure") :]
    assert failure_path.count("CleanUpAfterFailure") == 2  # delete, then: all gone
    assert failure_path[-5:] == [
        "ReportFailedDrill",
        "RecordFailure",
        "ReleaseLockOnFailure",
        "NotifyFailure",
        "Failed",
    ]
    assert "DeleteDBCluster" in target_guard.operations(drill_id)
    assert support.cluster_ids() == {TARGET} and snapshot_ids() == snapshots_before
    items = trail(op)
    final = next(i for i in items if i["step"] == "pipeline")
    assert final["status"] == "FAILED" and final["details"]["error"] == "VerificationFailed"
    assert "recent orders: returned false" in final["details"]["message"]
    assert final["details"]["cleanup"]["done"] is True
    summary = next(i["details"] for i in items if i["step"] == "drill")
    assert summary["status"] == "FAILED" and summary["rto_seconds"] is None
    assert summary["failure"]["error"] == "VerificationFailed"
    phases = {i["details"]["phase"]: i["status"] for i in items if i["step"] == "drill-phase"}
    assert phases == {
        "copy": "SUCCEEDED",
        "restore": "SUCCEEDED",
        "instances": "SUCCEEDED",
        "verification": "FAILED",
    }
    assert drill_support.metric_maximum("DrillRtoSeconds", {"Env": "dev"}) is None
    (sent,) = support.notifications(world.topic_arn)
    assert sent["subject"] == f"aurora-restore [dev] DRILL FAILED: {TARGET} (VerificationFailed)"
    facts = body(sent)
    assert "recent orders: returned false" in facts["message"] and "left_behind" not in facts
    assert drill_lock(op) is None


def test_a_drill_that_fails_before_restoring_leaves_nothing(
    world: World, target_guard: RdsWrites
) -> None:
    machine = drill_support.deploy_drill(world)
    execution = support.run(
        machine, "drill-no-snap", drill_support.drill_request(snapshot_id="no-such-snapshot")
    )
    assert execution["status"] == "FAILED" and execution["error"] == SnapshotNotFound.__name__
    assert support.cluster_ids() == {TARGET}
    assert target_guard.calls == []  # nothing was written at all
    assert handlers.find_snapshot  # (the real step refused it)


def test_a_foreign_cluster_at_the_drill_id_is_neither_used_nor_deleted(
    world: World, target_guard: RdsWrites
) -> None:
    """Someone's cluster (with our env tags, but not this drill's) sits at the drill's id: the
    restore refuses, and the failure path's cleanup refuses to delete it too — and says so."""
    op = "drill-occupied"
    drill_id = naming.drill_cluster_id(TARGET, op)
    support.create_cluster(drill_id, support.REGION, tags=support.MANAGED_TAGS)
    occupant = support.cluster(drill_id)
    machine = drill_support.deploy_drill(world)
    del target_guard.calls[:]  # the occupant's creation above is the test's, not the drill's

    execution = support.run(machine, op, drill_support.drill_request())

    assert execution["status"] == "FAILED" and execution["error"] == "RestoreFailed"
    after = support.cluster(drill_id)
    assert after is not None and after["DBClusterArn"] == occupant["DBClusterArn"]  # type: ignore[index]
    assert target_guard.operations(drill_id) == []  # not restored over, not deleted
    (sent,) = support.notifications(world.topic_arn)
    facts = body(sent)
    assert facts["error"] == "RestoreFailed" and "already exists" in facts["message"]
    assert facts["cleanup_error"]["error"] == "UnsafeTarget"
    assert "not ours" in facts["cleanup_error"]["message"]  # no operation id of this drill
    assert drill_id in facts["left_behind"]
    assert drill_lock(op) is None
