"""Never lose the target: a failure injected at every step of the pipeline (and at every wait
loop's bound), end to end on moto's Step Functions interpreter running our definition, ends
with a cluster serving under the target id, the lock released, a FAILED audit item, a failure
notification that says what was undone and what is left where, no orphans (only what is
documented to stay, carrying an expiry), and a master secret whose AWSCURRENT opens the
cluster that serves — and, checked after every test by the ownership rule (ownership.py,
conftest), not one write of the run or its undo went to a resource that is not ours.

The cases are derived from definitions/pipeline.asl.json (tests/pipeline/faults.py): a state
added to the pipeline is injected at without touching this file, and
test_every_step_of_the_definition_is_injected_at fails if a Task or a bounded loop escapes.
Every case runs on each way a run restores (`path`: a snapshot; a copy-on-write clone and a
point-in-time restore of a production cluster in the target's region, whose master password
no cluster the run leaves may keep, and which is never changed) for Aurora PostgreSQL, and on
the snapshot path for Aurora MySQL (support.ENGINE_PATHS).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.lib import naming, secrets

from . import faults, support
from .aws_rules import AwsRules
from .faults import AFTER, BEFORE, NEVER_READY, Fault
from .guarantees import assert_never_lost, assert_password_findable, original_target, succeeded
from .support import TARGET, World

pytestmark = pytest.mark.usefixtures("router")

START = faults.start()
PATHS = support.PATHS
SWAP_TAIL = faults.tasks("SwapOutTarget", "swap")
PENDING_LABEL = "AWSPENDING"


def swap_faults(path: str) -> list[Fault]:
    return (
        [Fault(state, AFTER) for state in faults.tasks(START, "swap", path)]
        + [Fault(state, BEFORE) for state in SWAP_TAIL]
        + [Fault(loop, NEVER_READY) for loop in faults.bounded_loops(START, "swap", path)]
    )


def replace_faults(path: str) -> list[Fault]:
    """From DeleteTargetFirst on (what comes before it is the swap's, injected above)."""
    tasks = faults.tasks("DeleteTargetFirst", "replace", path)
    return [Fault(state, AFTER) for state in tasks] + [
        Fault(loop, NEVER_READY)
        for loop in faults.bounded_loops("DeleteTargetFirst", "replace", path)
    ]


ENGINE_PATHS = support.ENGINE_PATHS  # every path on PostgreSQL, the snapshot path on MySQL
SWAP_CASES = [(e, path, fault) for e, path in ENGINE_PATHS for fault in swap_faults(path)]
REPLACE_CASES = [(e, path, fault) for e, path in ENGINE_PATHS for fault in replace_faults(path)]
CASE_NAMES = ("each_engine", "path", "fault")  # each_engine: conftest's fixture, set per case


def case_id(case: Any) -> str:
    return case.removeprefix("aurora-") if isinstance(case, str) else str(case.id)


def test_every_step_of_the_definition_is_injected_at() -> None:
    """Every Task and every bounded wait loop outside the failure path is covered, on every
    path; the tail of the swap (from SwapOutTarget) both before and after its work."""
    every = faults.states()
    tasks = {n for n, s in every.items() if s["Type"] == "Task"} - faults.FAILURE_PATH
    loops = {
        loop
        for path in PATHS
        for strategy in ("swap", "replace")
        for loop in faults.bounded_loops(START, strategy, path)
    }
    covered = {(f.state, f.when) for *_, f in SWAP_CASES + REPLACE_CASES}
    assert {state for state, _ in covered if (state, AFTER) in covered} == tasks
    assert {state for state, when in covered if when == NEVER_READY} == loops
    assert {state for state, when in covered if when == BEFORE} == set(SWAP_TAIL)
    assert SWAP_TAIL[0] == "SwapOutTarget" and "SwapInStaging" in SWAP_TAIL
    assert {"DeleteOldCluster", "CheckOldDeleted", "Finalize", "NotifySuccess"} <= set(SWAP_TAIL)
    replace_tasks = {f.state for *_, f in REPLACE_CASES}
    assert {"DeleteTargetFirst", "CheckTargetDeleted", "MaskData", "ScanPii", "Verify"} <= replace_tasks
    assert {"SwapOutDone", "SwapInDone", "OldDeleted", "CopyReady", "TargetDeleted"} <= loops
    assert {"CloneReady", "ClusterReady"} <= loops
    # Every path is injected at from its own first step on; the fast paths skip the snapshot.
    for path in ("clone", "point_in_time"):
        states = {f.state for _, p, f in SWAP_CASES if p == path}
        assert "ChooseSource" in states and "RestoreCluster" in states
        assert not states & {"FindSnapshot", "CopySnapshot", "CheckCopy", "CopyReady"}
    assert "CloneReady" in {f.state for _, p, f in SWAP_CASES if p == "clone"}
    assert "CloneReady" in {f.state for _, p, f in REPLACE_CASES if p == "clone"}
    # Both engines meet every fault of the snapshot path.
    for engine in ("aurora-postgresql", "aurora-mysql"):
        mine = {(f.state, f.when) for e, p, f in SWAP_CASES + REPLACE_CASES
                if e == engine and p == "snapshot"}
        assert mine == {(f.state, f.when) for e, p, f in SWAP_CASES + REPLACE_CASES
                        if p == "snapshot"}


def run_with(
    world: World, monkeypatch: pytest.MonkeyPatch, fault: Fault, strategy: str, path: str
) -> tuple[str, dict[str, Any], dict[str, Any], str, dict[str, Any] | None]:
    faults.inject(monkeypatch, fault)
    settings = support.path_settings(world, path, strategy=strategy)
    machine = support.deploy(world, settings=settings)
    operation_id = f"{strategy}-{path}-{fault.id}"
    before = original_target()
    source_before = support.source_fingerprint() if path != "snapshot" else None
    master_before = support.client("secretsmanager").get_secret_value(
        SecretId=support.MASTER_SECRET
    )["VersionId"]
    execution = support.run(machine, operation_id)
    assert fault.fired, f"{fault.id} never fired"
    return operation_id, execution, before, master_before, source_before


def error_of(fault: Fault) -> str:
    return "PollTimeout" if fault.when == NEVER_READY else "InjectedFailure"


@pytest.mark.parametrize(CASE_NAMES, SWAP_CASES, ids=case_id, indirect=["each_engine"])
def test_swap_failure_anywhere_leaves_the_target_serving(
    each_engine: str, world: World, monkeypatch: pytest.MonkeyPatch, path: str, fault: Fault
) -> None:
    operation_id, execution, before, master_before, source_before = run_with(
        world, monkeypatch, fault, "swap", path
    )
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
        source_before=source_before,
    )
    old = naming.old_cluster_id(TARGET, operation_id)
    if succeeded(operation_id, "swap-out-target") and not new_expected:
        assert f"renamed {old} back to {TARGET}" in facts["undone"]


@pytest.mark.parametrize(CASE_NAMES, REPLACE_CASES, ids=case_id, indirect=["each_engine"])
def test_replace_failure_anywhere_leaves_the_target_serving_and_nothing_unverified(
    each_engine: str, world: World, monkeypatch: pytest.MonkeyPatch, path: str, fault: Fault
) -> None:
    operation_id, execution, before, master_before, source_before = run_with(
        world, monkeypatch, fault, "replace", path
    )
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
        source_before=source_before,
    )
    staging = naming.staging_cluster_id(TARGET, operation_id)
    if succeeded(operation_id, "restore-cluster") and not new_expected:
        assert any(line.startswith(f"moved {TARGET} ") for line in facts["undone"])
        assert any(staging in line for line in facts["left"])
    if succeeded(operation_id, "delete-old-cluster") and not new_expected:
        assert any("from its final snapshot" in line for line in facts["undone"])


@pytest.mark.usefixtures("each_engine")
def test_master_secret_after_a_failure_between_password_reset_and_swap_in(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new password is staged AWSPENDING and used by the database steps; the swap-in
    fails, so AWSCURRENT must still be the password of the old target, which serves again."""
    faults.inject(monkeypatch, Fault("SwapInStaging", BEFORE))
    machine = support.deploy(world)
    sm = support.client("secretsmanager")
    current_before = sm.get_secret_value(SecretId=support.MASTER_SECRET)
    execution = support.run(machine, "secret-kept")
    assert execution["status"] == "FAILED"
    ours = secrets.master_version_id("secret-kept")
    assert support.secret_stages() == {
        current_before["VersionId"]: ["AWSCURRENT"],
        ours: ["AWSPENDING", secrets.cluster_label("secret-kept")],
    }
    current = sm.get_secret_value(SecretId=support.MASTER_SECRET, VersionStage="AWSCURRENT")
    assert current["SecretString"] == current_before["SecretString"]
    password = json.loads(current["SecretString"])["password"]
    assert password == support.OLD_MASTER_PASSWORD == support.master_password_of(TARGET)
    # The staging cluster kept for inspection opens with the pending version.
    pending = sm.get_secret_value(SecretId=support.MASTER_SECRET, VersionStage="AWSPENDING")
    staging = naming.staging_cluster_id(TARGET, "secret-kept")
    assert json.loads(pending["SecretString"])["password"] == support.master_password_of(staging)
    assert pending["VersionId"] == ours


@pytest.mark.usefixtures("each_engine")
def test_replace_undo_restores_the_final_snapshot_at_its_own_engine_version(
    world: World, monkeypatch: pytest.MonkeyPatch, aws_rules: AwsRules
) -> None:
    """The lower environment was minor-upgraded past production (15.6 against the snapshot's
    15.4; 8.0.mysql_aurora.3.06.0 against 3.05.2): its final snapshot is of that version, and
    RDS refuses to restore it at production's (aws_rules: lower_engine_version). The undo
    restores it at its own version."""
    newer = support.profile().newer_minor
    support.rds().modify_db_cluster(
        DBClusterIdentifier=TARGET, EngineVersion=newer, ApplyImmediately=True
    )
    operation_id, execution, before, master_before, _ = run_with(
        world, monkeypatch, Fault("MaskData", AFTER), "replace", "snapshot"
    )
    facts = assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=False,
        error="InjectedFailure",
    )
    assert any("from its final snapshot" in line for line in facts["undone"])
    assert support.cluster(TARGET)["EngineVersion"] == newer  # type: ignore[index]
    assert aws_rules.fired["lower_engine_version"] == 0


@pytest.mark.usefixtures("each_engine")
def test_a_kept_staging_clusters_password_stays_findable_until_it_is_swept(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed run keeps its staging cluster for inspection; the next runs move AWSPENDING and
    AWSCURRENT on. The label of the run that restored it keeps finding its password until the
    sweep deletes the cluster — and then the label goes too (Secrets Manager limits a secret's
    labels); so does the label of a run whose cluster was swapped out and deleted."""
    faults.inject(monkeypatch, Fault("SwapOutTarget", BEFORE))
    machine = support.deploy(world)
    assert support.run(machine, "kept-1")["status"] == "FAILED"
    staging = naming.staging_cluster_id(TARGET, "kept-1")
    label = f"aurora-restore-{naming.token('kept-1')}"  # the token of its id: -stg-<token>
    monkeypatch.undo()
    assert support.run(machine, "kept-2")["status"] == "SUCCEEDED"
    assert support.cluster(staging) is not None  # not expired yet: kept
    assert PENDING_LABEL not in all_labels()
    assert_password_findable(staging)
    assert support.secret_stages()[secrets.master_version_id("kept-1")] == [label]
    assert secrets.cluster_label("kept-1") == label and staging.endswith(label[-8:])

    support.rds().add_tags_to_resource(
        ResourceName=support.cluster(staging)["DBClusterArn"],  # type: ignore[index]
        Tags=[{"Key": "aurora-restore:expires-at", "Value": "2020-01-01T00:00:00Z"}],
    )
    assert support.run(machine, "kept-3")["status"] == "SUCCEEDED"
    assert support.cluster(staging) is None
    assert_password_findable(TARGET)  # kept-3's, serving
    current = secrets.cluster_label("kept-3")
    assert sorted(all_labels()) == ["AWSCURRENT", "AWSPREVIOUS", current]  # none left behind


def all_labels() -> list[str]:
    return [label for labels in support.secret_stages().values() for label in labels]
