"""End to end: our real definitions/pipeline.asl.json, rendered and executed by moto's Step
Functions interpreter, with every Lambda Task routed to our handlers in-process, against moto
RDS, DynamoDB, SNS and Secrets Manager.

moto's RDS is instantly available, so wait loops are made to loop by scripting statuses
(moto_patches); Wait states are compressed (PollIntervalSeconds rendered as 0). The database
steps run with AURORA_RESTORE_DB_MODE=skip (they record SKIPPED); they are tested against a
real PostgreSQL server in tests/postgres. To fail "at SQL" / "at verify" the module's handler
is replaced by one that raises the step's named exception through the same @pipeline_step
wrapper — what the real handler does when a script or a check fails. The ownership rule
(ownership.py) watches every run: no test passes if the pipeline wrote to what is not ours.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

import handlers.find_snapshot
import handlers.mask_data
import handlers.quarantine
import handlers.scan_pii
import handlers.verify
from handlers.lib import naming
from handlers.lib.errors import PiiFound, QuarantineFailed, SqlScriptFailed, VerificationFailed
from handlers.lib.secrets import master_version_id as master_version
from handlers.lib.step import pipeline_step

from . import support
from .moto_patches import RdsScript
from .ownership import Ownership
from .support import SOURCE, SOURCE_REGION, TARGET, World

pytestmark = pytest.mark.usefixtures("router")

OK_STEPS = [
    ("acquire-lock", "SUCCEEDED"),
    ("check-target", "SUCCEEDED"),
    ("choose-source", "SUCCEEDED"),
    ("find-snapshot", "SUCCEEDED"),
    ("copy-snapshot", "SUCCEEDED"),
    ("check-copy", "SUCCEEDED"),
    ("check-copy", "SUCCEEDED"),
    ("check-copy", "SUCCEEDED"),
    ("restore-cluster", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("create-instances", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("reset-master-password", "SUCCEEDED"),
    ("check-restore", "SUCCEEDED"),
    ("reset-app-users", "SKIPPED"),
    ("mask-data", "SKIPPED"),
    ("scan-pii", "SKIPPED"),
    ("quarantine", "SKIPPED"),
    ("match-settings", "SUCCEEDED"),
    ("check-settings", "SUCCEEDED"),
    ("verify", "SKIPPED"),
    ("swap-out-target", "SUCCEEDED"),
    # renames are asynchronous on AWS (aws_rules): renaming for two polls, then settled
    ("check-rename", "SUCCEEDED"),
    ("check-rename", "SUCCEEDED"),
    ("check-rename", "SUCCEEDED"),
    ("swap-in-staging", "SUCCEEDED"),
    ("check-rename", "SUCCEEDED"),
    ("check-rename", "SUCCEEDED"),
    ("check-rename", "SUCCEEDED"),
    ("delete-old-cluster", "SUCCEEDED"),
    ("check-delete", "SUCCEEDED"),
    ("finalize", "SUCCEEDED"),
    ("release-lock", "SUCCEEDED"),
    ("pipeline", "SUCCEEDED"),
    ("notify-success", "SUCCEEDED"),
]


def trail(operation_id: str) -> list[dict[str, Any]]:
    return sorted(support.audit_items(operation_id), key=lambda item: item["timestamp"])


def body(notification: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(notification["message"].split("\n\n", 1)[1]))


def expiry(cluster_id: str) -> str:
    cluster = support.cluster(cluster_id)
    assert cluster is not None, cluster_id
    return str({t["Key"]: t["Value"] for t in cluster["TagList"]}["aurora-restore:expires-at"])


def snapshot_of_target() -> dict[str, Any]:
    """What must not change when a run fails: the target's identity, tags and instances."""
    cluster = support.cluster(TARGET)
    assert cluster is not None
    return {
        "arn": cluster["DBClusterArn"],
        "tags": sorted((t["Key"], t["Value"]) for t in cluster["TagList"]),
        "members": sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]),
        "status": cluster["Status"],
    }


def source_state() -> dict[str, Any]:
    cluster = support.cluster(SOURCE, SOURCE_REGION)
    assert cluster is not None
    cluster.pop("LatestRestorableTime", None)  # moto reports "now"
    snapshots = support.rds(SOURCE_REGION).describe_db_cluster_snapshots(
        DBClusterIdentifier=SOURCE
    )["DBClusterSnapshots"]
    return {"cluster": cluster, "snapshots": snapshots}


def assert_no_secrets(*texts: str) -> None:
    secrets = support.secret_values()
    master = json.loads(secrets[support.MASTER_SECRET])["password"]
    for text in texts:
        for secret in (master, support.OLD_MASTER_PASSWORD, support.APP_PASSWORD):
            assert secret not in text


def everything_said(operation_id: str, execution: dict[str, Any], world: World) -> list[str]:
    return [
        json.dumps(trail(operation_id), default=str),
        json.dumps(support.notifications(world.topic_arn)),
        json.dumps(support.history(execution["executionArn"]), default=str),
        json.dumps(execution, default=str),
    ]


def test_refresh_across_regions_swaps_in_the_restored_cluster(
    world: World, rds_script: RdsScript, caplog: pytest.LogCaptureFixture, ownership: Ownership
) -> None:
    caplog.set_level(logging.INFO)
    machine = support.deploy(world)
    op = "refresh-1"
    copy_id = naming.copy_snapshot_id(TARGET, op)
    staging = naming.staging_cluster_id(TARGET, op)
    # AWS: a cross-region copy takes minutes; moto is instant. Two "copying" reads, then done.
    rds_script.script_snapshot(copy_id, "copying", "copying")
    rds_script.script_cluster(staging, "creating")
    source_before = source_state()
    old_master = json.loads(support.secret_values()[support.MASTER_SECRET])["password"]

    execution = support.run(machine, op)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    states = support.entered_states(execution["executionArn"])
    assert states.count("WaitForCopy") == 3 and states.count("CheckCopy") == 3
    assert states.count("CheckCluster") == 2  # the restore loop looped too
    assert states[-3:] == ["ReleaseLock", "NotifySuccess", "Succeeded"]
    assert "RecordFailure" not in states

    # The target id now names the restored cluster; old, staging and copy are gone.
    assert support.cluster_ids() == {TARGET}
    target = support.cluster(TARGET)
    assert target is not None
    tags = {t["Key"]: t["Value"] for t in target["TagList"]}
    assert tags["aurora-restore:operation"] == op and tags["aurora-restore:env"] == "dev"
    assert target["KmsKeyId"] == world.target_kms
    assert [m["DBInstanceIdentifier"] for m in target["DBClusterMembers"]] == [
        naming.instance_id(TARGET, op, 1)
    ]
    snapshots = support.rds().describe_db_cluster_snapshots(SnapshotType="manual")
    assert copy_id not in {
        s["DBClusterSnapshotIdentifier"] for s in snapshots["DBClusterSnapshots"]
    }
    assert source_state() == source_before  # the source and its snapshot are untouched

    # Secrets: new master password; app secret points at the cluster's endpoint.
    secrets = support.secret_values()
    assert json.loads(secrets[support.MASTER_SECRET])["password"] != old_master
    assert json.loads(secrets[support.MASTER_SECRET])["password"] == (
        support.master_password_of(TARGET)
    )
    stages = support.secret_stages()  # promoted once the new cluster served; nothing pending
    label = f"aurora-restore-{naming.token(op)}"  # finds the password of this run's cluster
    assert sorted(stages[master_version(op)]) == ["AWSCURRENT", label]
    assert sorted(map(sorted, stages.values())) == [["AWSCURRENT", label], ["AWSPREVIOUS"]]
    assert json.loads(secrets[support.APP_SECRET])["host"] == target["Endpoint"]

    # Audit trail: one item per step outcome, in order, all for this env with a TTL.
    items = trail(op)
    assert [(i["step"], i["status"]) for i in items] == OK_STEPS
    assert {i["env"] for i in items} == {"dev"} and all(i["expires_at"] for i in items)
    assert {k: v for k, v in items[2]["details"].items() if k != "seconds"} == {
        "path": "snapshot", "reason": "source.restore_from: snapshot", "configured": "snapshot"
    }
    assert items[3]["details"]["id"] == world.snapshot_id
    assert [i["details"]["status"] for i in items if i["step"] == "check-copy"] == [
        "copying",
        "copying",
        "available",
    ]
    assert support.lock_item() is None

    # One success notification with the facts.
    (sent,) = support.notifications(world.topic_arn)
    assert sent["subject"] == (
        f"aurora-restore [dev] SUCCEEDED: {TARGET} refreshed from {world.snapshot_id}"
    )
    facts = body(sent)
    assert facts["operation_id"] == op and facts["status"] == "SUCCEEDED"
    assert facts["source_snapshot"] == world.snapshot_arn
    assert facts["endpoint"] == target["Endpoint"] and facts["requested_by"] == "tests"
    assert {"find-snapshot", "copy-snapshot", "check-copy", "finalize"} <= set(facts["timings"])

    output = json.loads(execution["output"])
    assert output["result"]["cluster_id"] == TARGET and output["timings"]
    assert ('"operation_id": "refresh-1", "step": "finalize", "level": "INFO", '
            '"message": "SUCCEEDED"') in caplog.text  # one JSON line per event (lib/logs.py)
    # Every write went to what is ours and this run's (the ownership rule watched them all).
    assert ownership.checked > 5 and ownership.violations == []
    assert_no_secrets(caplog.text, *everything_said(op, execution, world))


def test_replace_strategy_with_a_given_snapshot_and_input_that_tries_to_override_settings(
    world: World,
) -> None:
    settings = support.make_settings(world.target_kms, world.source_kms, strategy="replace")
    machine = support.deploy(world, settings=settings)
    op = "replace-1"
    request = {
        "snapshot_id": world.snapshot_arn,
        "requested_by": "dba",
        # An execution input cannot change the guard values: settings come from the definition.
        "settings": {"target": {"cluster_id": SOURCE, "protected_cluster_ids": []}},
    }
    execution = support.run(machine, op, request)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    states = support.entered_states(execution["executionArn"])
    assert states.index("DeleteTargetFirst") < states.index("RestoreCluster")
    assert "SwapOutTarget" not in states
    assert support.cluster_ids() == {TARGET}
    assert support.cluster(SOURCE, SOURCE_REGION) is not None
    target = support.cluster(TARGET)
    assert {t["Key"]: t["Value"] for t in target["TagList"]}[  # type: ignore[index]
        "aurora-restore:operation"
    ] == op
    items = trail(op)
    assert items[2]["details"]["reason"] == "a snapshot is given in the execution input"
    assert items[3]["details"]["reason"] == "given in the execution input"
    assert ("check-delete", "SUCCEEDED") in [(i["step"], i["status"]) for i in items]


def assert_failed_cleanly(
    world: World, execution: dict[str, Any], op: str, error: str, target_before: dict[str, Any]
) -> dict[str, Any]:
    """FAILED, target untouched, failure recorded and notified, lock released, no secrets."""
    assert execution["status"] == "FAILED"
    assert execution["error"] == error, execution.get("cause")
    states = support.entered_states(execution["executionArn"])
    assert states[-4:] == ["RecordFailure", "ReleaseLockOnFailure", "NotifyFailure", "Failed"]
    assert snapshot_of_target() == target_before
    items = trail(op)
    final = next(i for i in items if i["step"] == "pipeline")
    assert final["status"] == "FAILED" and final["details"]["error"] == error
    (sent,) = support.notifications(world.topic_arn)
    assert sent["subject"] == f"aurora-restore [dev] FAILED: {TARGET} ({error})"
    facts = body(sent)
    assert facts["status"] == "FAILED" and facts["error"] == error and facts["message"]
    assert support.lock_item() is None
    assert_no_secrets(*everything_said(op, execution, world))
    return facts


def test_failure_at_copy(world: World, rds_script: RdsScript) -> None:
    machine = support.deploy(world)
    op = "fail-copy"
    rds_script.script_snapshot(naming.copy_snapshot_id(TARGET, op), "copying", "failed")
    before = snapshot_of_target()
    execution = support.run(machine, op)
    facts = assert_failed_cleanly(world, execution, op, "CopyFailed", before)
    assert "is failed" in facts["message"]
    assert support.cluster_ids() == {TARGET}  # nothing was restored


def test_failure_at_restore(world: World, rds_script: RdsScript) -> None:
    machine = support.deploy(world)
    op = "fail-restore"
    staging = naming.staging_cluster_id(TARGET, op)
    rds_script.script_cluster(staging, "creating", "incompatible-restore")
    before = snapshot_of_target()
    execution = support.run(machine, op)
    facts = assert_failed_cleanly(world, execution, op, "RestoreFailed", before)
    assert facts["left"] == [
        f"{staging} (staging cluster, for inspection) kept until {expiry(staging)}"
    ]
    assert support.cluster_ids() == {TARGET, staging}  # left for inspection, with an expiry


def replace_handler(
    monkeypatch: pytest.MonkeyPatch, module: Any, step: str, error: Exception
) -> None:
    @pipeline_step(step)
    def failing(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise error

    monkeypatch.setattr(module, "handler", failing)


@pytest.mark.parametrize(
    ("module", "step", "error"),
    [
        (
            handlers.mask_data,
            "mask-data",
            SqlScriptFailed('01_mask_pii.sql failed at line 3: 42P01 relation "x" does not exist'),
        ),
        (
            handlers.scan_pii,
            "scan-pii",
            PiiFound("personal data in 1 column(s) no masking rule covers: public.orders.notes"),
        ),
        (
            handlers.quarantine,
            "quarantine",
            QuarantineFailed("1 quarantine check(s) failed, so the run stops before the swap "
                             "(the target is untouched): rule outbound-email: its check "
                             "returned 3 row(s)"),
        ),
        (handlers.verify, "verify", VerificationFailed("public.customers has 0 rows, expected 1")),
    ],
    ids=["sql", "pii", "quarantine", "verify"],
)
def test_failure_at_a_database_step_leaves_staging_for_inspection(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    module: Any,
    step: str,
    error: Exception,
) -> None:
    caplog.set_level(logging.INFO)
    replace_handler(monkeypatch, module, step, error)
    machine = support.deploy(world)
    op = f"fail-{step}"  # execution names: letters, digits, - and _
    staging = naming.staging_cluster_id(TARGET, op)
    before = snapshot_of_target()
    execution = support.run(machine, op)
    facts = assert_failed_cleanly(world, execution, op, type(error).__name__, before)
    assert facts["message"] == str(error)
    assert facts["left"] == [
        f"{staging} (staging cluster, for inspection) kept until {expiry(staging)}"
    ]
    # Not swapped, not deleted: the staging cluster and its instance stay for a DBA to look at.
    assert support.cluster_ids() == {TARGET, staging}
    assert len(support.cluster(staging)["DBClusterMembers"]) == 1  # type: ignore[index]
    states = support.entered_states(execution["executionArn"])
    assert "SwapOutTarget" not in states and "DeleteOldCluster" not in states
    assert (f'"operation_id": "{op}", "step": "{step}", "level": "ERROR", '
            f'"message": "FAILED {type(error).__name__}') in caplog.text
    assert_no_secrets(caplog.text)


@pytest.mark.parametrize("problem", ["untagged", "protected"])
def test_failure_at_the_guard_changes_nothing(world: World, problem: str) -> None:
    settings = support.make_settings(world.target_kms, world.source_kms)
    if problem == "untagged":
        arn = support.cluster(TARGET)["DBClusterArn"]  # type: ignore[index]
        support.rds().remove_tags_from_resource(
            ResourceName=arn, TagKeys=["aurora-restore:managed-by"]
        )
    else:
        settings["target"]["protected_cluster_ids"].append(TARGET)
    machine = support.deploy(world, settings=settings)
    op = f"guard-{problem}"
    before = snapshot_of_target()
    snapshots_before = support.rds().describe_db_cluster_snapshots()["DBClusterSnapshots"]
    execution = support.run(machine, op)
    facts = assert_failed_cleanly(world, execution, op, "UnsafeTarget", before)
    assert ("lacks the tags" if problem == "untagged" else "protected") in facts["message"]
    assert support.cluster_ids() == {TARGET}
    assert support.rds().describe_db_cluster_snapshots()["DBClusterSnapshots"] == snapshots_before
    assert "FindSnapshot" not in support.entered_states(execution["executionArn"])


def test_a_second_run_while_one_holds_the_lock_is_refused(world: World) -> None:
    from handlers.lib import audit

    audit.acquire_lock(TARGET, "op-in-flight", "dev", hold_seconds=3600)
    machine = support.deploy(world)
    before = snapshot_of_target()
    execution = support.run(machine, "second-run")
    facts = assert_failed_cleanly_but_locked(world, execution, before)
    assert "op-in-flight" in facts["message"]


def assert_failed_cleanly_but_locked(
    world: World, execution: dict[str, Any], before: dict[str, Any]
) -> dict[str, Any]:
    assert execution["status"] == "FAILED" and execution["error"] == "Locked"
    assert snapshot_of_target() == before and support.cluster_ids() == {TARGET}
    lock = support.lock_item()
    assert lock is not None and lock["holder"] == "op-in-flight"  # the other run keeps its lock
    statuses = [(i["step"], i["status"]) for i in trail("second-run")]
    assert ("release-lock", "SKIPPED") in statuses and ("pipeline", "FAILED") in statuses
    (sent,) = support.notifications(world.topic_arn)
    assert "(Locked)" in sent["subject"]
    return body(sent)


def test_a_wait_loop_that_never_finishes_fails_with_poll_timeout(
    world: World, rds_script: RdsScript
) -> None:
    machine = support.deploy(world, max_attempts=3)
    op = "stuck-copy"
    rds_script.script_snapshot(naming.copy_snapshot_id(TARGET, op), *["copying"] * 10)
    before = snapshot_of_target()
    execution = support.run(machine, op)
    facts = assert_failed_cleanly(world, execution, op, "PollTimeout", before)
    assert facts["message"] == "copy not ready after 3 checks (last status: copying)"
    assert support.entered_states(execution["executionArn"]).count("CheckCopy") == 3


def test_throttling_is_retried_by_the_state_machine(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A throttle that outlives botocore's retries → TransientError → Retry (2 s backoff)."""
    newest = handlers.find_snapshot._newest
    calls: list[int] = []

    def throttled_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "X")
        return newest(*args)

    monkeypatch.setattr(handlers.find_snapshot, "_newest", throttled_once)
    machine = support.deploy(world)
    execution = support.run(machine, "throttled")
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    steps = [(i["step"], i["status"]) for i in trail("throttled")]
    assert steps[3:5] == [("find-snapshot", "FAILED"), ("find-snapshot", "SUCCEEDED")]
    failed = trail("throttled")[3]["details"]
    assert failed["error"] == "TransientError"


def test_two_runs_in_sequence_both_succeed(world: World) -> None:
    """The second refresh swaps out the first one's cluster (our tags) and deletes it."""
    machine = support.deploy(world)
    first = support.run(machine, "run-a")
    second = support.run(machine, "run-b")
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    target = support.cluster(TARGET)
    tags = {t["Key"]: t["Value"] for t in target["TagList"]}  # type: ignore[index]
    assert tags["aurora-restore:operation"] == "run-b" and support.cluster_ids() == {TARGET}
    deleted = next(i for i in trail("run-b") if i["step"] == "delete-old-cluster")
    assert deleted["details"]["cluster_id"] == naming.old_cluster_id(TARGET, "run-b")
