"""Never lose the target: a failure injected at every step of the pipeline (and at every wait
loop's bound), end to end on moto's Step Functions interpreter running our definition, ends
with a cluster serving under the target id, the lock released, a FAILED audit item, a failure
notification that says what was undone and what is left where, no orphans (only what is
documented to stay, carrying an expiry), and a master secret whose AWSCURRENT opens the
cluster that serves.

The cases are derived from definitions/pipeline.asl.json (tests/pipeline/faults.py): a state
added to the pipeline is injected at without touching this file, and
test_every_step_of_the_definition_is_injected_at fails if a Task or a bounded loop escapes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from handlers.lib import naming, secrets

from . import faults, support
from .faults import AFTER, BEFORE, NEVER_READY, Fault
from .support import SOURCE_REGION, TARGET, World

pytestmark = pytest.mark.usefixtures("router")

START = "Initialize"
SWAP_TAIL = faults.tasks("SwapOutTarget", "swap")
SWAP_TASKS = faults.tasks(START, "swap")
REPLACE_TASKS = faults.tasks("DeleteTargetFirst", "replace")
SWAP_FAULTS = (
    [Fault(state, AFTER) for state in SWAP_TASKS]
    + [Fault(state, BEFORE) for state in SWAP_TAIL]
    + [Fault(loop, NEVER_READY) for loop in faults.bounded_loops(START, "swap")]
)
REPLACE_FAULTS = [Fault(state, AFTER) for state in REPLACE_TASKS] + [
    Fault(loop, NEVER_READY) for loop in faults.bounded_loops("DeleteTargetFirst", "replace")
]


def test_every_step_of_the_definition_is_injected_at() -> None:
    """Every Task and every bounded wait loop outside the failure path is covered; the tail of
    the swap (from SwapOutTarget) both before and after its work."""
    every = faults.states()
    tasks = {n for n, s in every.items() if s["Type"] == "Task"} - faults.FAILURE_PATH
    loops = set(faults.bounded_loops(START, "swap")) | set(faults.bounded_loops(START, "replace"))
    covered = {(f.state, f.when) for f in SWAP_FAULTS + REPLACE_FAULTS}
    assert {state for state, _ in covered if (state, AFTER) in covered} == tasks
    assert {state for state, when in covered if when == NEVER_READY} == loops
    assert {state for state, when in covered if when == BEFORE} == set(SWAP_TAIL)
    assert SWAP_TAIL[0] == "SwapOutTarget" and "SwapInStaging" in SWAP_TAIL
    assert {"DeleteOldCluster", "CheckOldDeleted", "Finalize", "NotifySuccess"} <= set(SWAP_TAIL)
    assert {"DeleteTargetFirst", "CheckTargetDeleted", "RunSql", "Verify"} <= set(REPLACE_TASKS)
    assert {"SwapOutDone", "SwapInDone", "OldDeleted", "CopyReady", "TargetDeleted"} <= loops


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


def assert_never_lost(
    world: World,
    operation_id: str,
    execution: dict[str, Any],
    *,
    before: dict[str, Any],
    master_before: str,
    new_expected: bool,
    error: str,
) -> dict[str, Any]:
    """The guarantees of the README's safety section, checked one by one."""
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


def run_with(
    world: World, monkeypatch: pytest.MonkeyPatch, fault: Fault, strategy: str
) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    faults.inject(monkeypatch, fault)
    settings = support.make_settings(world.target_kms, strategy=strategy)
    machine = support.deploy(world, settings=settings)
    operation_id = f"{strategy}-{fault.id}"
    before = original_target()
    master_before = support.client("secretsmanager").get_secret_value(
        SecretId=support.MASTER_SECRET
    )["VersionId"]
    execution = support.run(machine, operation_id)
    assert fault.fired, f"{fault.id} never fired"
    return operation_id, execution, before, master_before


def error_of(fault: Fault) -> str:
    return "PollTimeout" if fault.when == NEVER_READY else "InjectedFailure"


@pytest.mark.parametrize("fault", SWAP_FAULTS, ids=lambda f: f.id)
def test_swap_failure_anywhere_leaves_the_target_serving(
    world: World, monkeypatch: pytest.MonkeyPatch, fault: Fault
) -> None:
    operation_id, execution, before, master_before = run_with(world, monkeypatch, fault, "swap")
    # This run's cluster serves from the moment its rename to the target id happened.
    new_expected = succeeded(operation_id, "swap-in-staging")
    facts = assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=new_expected,
        error=error_of(fault),
    )
    old = naming.old_cluster_id(TARGET, operation_id)
    if succeeded(operation_id, "swap-out-target") and not new_expected:
        assert f"renamed {old} back to {TARGET}" in facts["undone"]


@pytest.mark.parametrize("fault", REPLACE_FAULTS, ids=lambda f: f.id)
def test_replace_failure_anywhere_leaves_the_target_serving_and_nothing_unverified(
    world: World, monkeypatch: pytest.MonkeyPatch, fault: Fault
) -> None:
    operation_id, execution, before, master_before = run_with(world, monkeypatch, fault, "replace")
    # With `replace` the restored cluster sits under the target id from the start; it may
    # keep it only once the state machine got past Verify (masking ran before it). A Verify
    # that checked and then failed counts as not verified: the undo errs on the safe side.
    new_expected = "SwapOrFinish" in support.entered_states(execution["executionArn"])
    facts = assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=new_expected,
        error=error_of(fault),
    )
    staging = naming.staging_cluster_id(TARGET, operation_id)
    if succeeded(operation_id, "restore-cluster") and not new_expected:
        assert any(line.startswith(f"moved {TARGET} ") for line in facts["undone"])
        assert any(staging in line for line in facts["left"])
    if succeeded(operation_id, "delete-old-cluster") and not new_expected:
        assert any("from its final snapshot" in line for line in facts["undone"])
