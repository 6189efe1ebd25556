"""Automatic recovery goes on by itself until the run settles (issue 15, item 11).

A timed-out `replace` run whose restore from the final snapshot takes many passes is recovered
without a person: the rule's event (moto emits none: the tests invoke the recovery function with
an event of the documented shape) starts automatic recovery — an execution of our
definitions/recovery.asl.json named after the operation — which passes, waits and passes again
on moto's Step Functions interpreter until the target serves and the lock is released. A run
that never settles ends in GaveUp, the state whose ExecutionsFailed metric the alarm
`recovery-gave-up` watches; a second start for the same operation starts nothing. Each case
runs on every way a run restores (`path`: a snapshot, a clone or a point in time of the
same-region production cluster, which stays untouched).
"""

from __future__ import annotations

from typing import Any

import pytest

from aurora_restore_cli.contract import recovery_definition
from aurora_restore_cli.provisioning import engine
from handlers.lib import naming
from handlers.lib import rds as rds_lib

from . import faults, support
from .aws_rules import AwsRules
from .guarantees import assert_never_lost, body, original_target
from .moto_patches import RdsScript
from .support import TARGET, World

pytestmark = pytest.mark.usefixtures("router")
PATHS = pytest.mark.parametrize("path", support.PATHS)

PASSES = 8
RESTORING = 4  # describes of the restored target that say "creating"


def timed_out_replace(
    world: World, monkeypatch: pytest.MonkeyPatch, operation_id: str, path: str
) -> tuple[dict[str, Any], dict[str, Any], str, dict[str, Any] | None]:
    """A `replace` run that deleted the target (with its final snapshot) and timed out while
    restoring production's data (by `path`) under the target id: nothing serves, the lock is
    held. Also returns the same-region production cluster's fingerprint before the run (None
    on the snapshot path)."""
    settings = support.path_settings(world, path, strategy="replace")
    machine = support.deploy(world, timeout=12, settings=settings)
    support.deploy_recovery(PASSES)
    blocker = faults.block(monkeypatch, "RestoreCluster")
    before = original_target()
    master_before = master_version()
    source = source_before(path)
    arn = support.start(machine, operation_id)
    blocker.wait_until_entered()
    execution = support.wait_for(arn, {"TIMED_OUT"}, timeout=60)
    blocker.release.set()
    assert support.cluster(TARGET) is None
    assert naming.final_snapshot_id(TARGET, operation_id) in support.manual_snapshots()
    assert support.lock_item()["holder"] == operation_id  # type: ignore[index]
    return execution, before, master_before, source


def source_before(path: str) -> dict[str, Any] | None:
    return support.source_fingerprint() if path != "snapshot" else None


def master_version() -> str:
    secret = support.client("secretsmanager").get_secret_value(SecretId=support.MASTER_SECRET)
    return str(secret["VersionId"])


def passes(recovery_arn: str) -> int:
    return support.entered_states(recovery_arn).count("RecoverPass")


@PATHS
def test_a_timed_out_replace_run_is_recovered_without_a_person(
    world: World, monkeypatch: pytest.MonkeyPatch, rds_script: RdsScript, path: str
) -> None:
    operation_id = f"replace-timeout-{path}"
    execution, before, master_before, source = timed_out_replace(
        world, monkeypatch, operation_id, path
    )
    # The restore from the final snapshot takes several passes (AWS: minutes to hours).
    rds_script.script_cluster(TARGET, *["creating"] * RESTORING)

    started = support.invoke("recover_execution", support.status_change_event(execution))
    assert started["status"] == "started"
    recovery_arn = support.recovery_execution_arn(operation_id)
    assert started["recovery_execution_arn"] == recovery_arn
    recovery = support.wait_for(recovery_arn, support.TERMINAL, timeout=60)

    assert recovery["status"] == "SUCCEEDED", recovery
    assert RESTORING < passes(recovery_arn) < PASSES  # passed again while restoring, then ended
    facts = assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=False,
        error="States.Timeout",
        failure_path=False,
        source_before=source,
    )  # the target serves (restored from its final snapshot), the lock is released
    final_id = naming.final_snapshot_id(TARGET, operation_id)
    assert f"restoring {TARGET} from its final snapshot {final_id}" in facts["undone"]
    assert facts["recovered_by"] == "automatic recovery (TIMED_OUT event)"

    # Told twice: after the first pass (what it waits for; nothing to do) and when done. The
    # passes that only found the restore still going wrote nothing.
    sent = [body(n) for n in support.notifications(world.topic_arn)]
    assert len(sent) == 2
    assert sent[0]["pending"] and "automatic recovery goes on" in sent[0]["next_step"]
    recorded = [i for i in support.audit_items(operation_id) if i["step"] == "recover"]
    assert recorded[0]["status"] == "STARTED" and recorded[-1]["status"] == "SUCCEEDED"
    assert len(recorded) < passes(recovery_arn)
    assert recorded[-1]["details"]["max_passes"] == PASSES


@PATHS
def test_a_run_that_never_settles_gives_up_and_pages(
    world: World, monkeypatch: pytest.MonkeyPatch, rds_script: RdsScript, path: str
) -> None:
    operation_id = f"replace-stuck-{path}"
    execution, _, _, source = timed_out_replace(world, monkeypatch, operation_id, path)
    rds_script.script_cluster(TARGET, *["creating"] * 1000)  # never available

    support.invoke("recover_execution", support.status_change_event(execution))
    recovery_arn = support.recovery_execution_arn(operation_id)
    recovery = support.wait_for(recovery_arn, support.TERMINAL, timeout=60)

    assert recovery["status"] == "FAILED" and recovery["error"] == "RecoveryGaveUp"
    assert support.entered_states(recovery_arn)[-1] == "GaveUp"
    assert passes(recovery_arn) == PASSES
    # The history the offline check predicts for that many passes bounds the real one.
    bound = recovery_definition.FIXED_EVENTS + PASSES * recovery_definition.PASS_EVENTS
    assert len(support.history(recovery_arn)) <= bound
    # The undo is unfinished (the restore still runs): the lock stays with the run.
    assert support.lock_item()["holder"] == operation_id  # type: ignore[index]
    last = body(support.notifications(world.topic_arn)[-1])
    assert last["pending"] == [f"{TARGET} is creating"]
    assert f"gave up after {PASSES} passes" in last["next_step"]
    assert f"aurora-restore recover {operation_id} --env dev" in last["next_step"]
    recorded = [i for i in support.audit_items(operation_id) if i["step"] == "recover"]
    assert recorded[-1]["status"] == "FAILED"
    assert source_before(path) == source  # production's cluster is only ever read

    # The alarm whose metric that failed execution counts: recovery-gave-up, at one.
    report = engine.setup(make_context(), ["alarms"], dry_run=False, progress=lambda _: None)
    assert not report.failures, report.failures
    watching = [
        alarm
        for alarm in support.client("cloudwatch").describe_alarms()["MetricAlarms"]
        if (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
        and alarm["Dimensions"]
        == [{"Name": "StateMachineArn", "Value": recovery["stateMachineArn"]}]
    ]
    assert [a["AlarmName"] for a in watching] == ["aurora-restore-recovery-gave-up-dev"]
    assert watching[0]["Threshold"] == 1 and watching[0]["AlarmActions"] == [world.topic_arn]


@PATHS
def test_a_second_start_for_the_same_operation_does_nothing_new(
    world: World, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    operation_id = f"replace-twice-{path}"
    execution, _, _, source = timed_out_replace(world, monkeypatch, operation_id, path)
    event = support.status_change_event(execution)
    assert support.invoke("recover_execution", event)["status"] == "started"
    again = support.invoke("recover_execution", event)  # EventBridge delivers at least once
    assert again["status"] == "already started"
    recovery_arn = support.recovery_execution_arn(operation_id)
    assert support.wait_for(recovery_arn, support.TERMINAL, timeout=60)["status"] == "SUCCEEDED"
    sfn = support.client("stepfunctions")
    machine = recovery_arn.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1

    state = support.world_state()
    counts = (len(support.audit_items(operation_id)), len(support.notifications(world.topic_arn)))
    later = support.invoke("recover_execution", event)  # after it ended
    assert later["status"] == "already started" and later["recovery_status"] == "SUCCEEDED"
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
    assert support.world_state() == state
    assert source_before(path) == source
    assert (
        len(support.audit_items(operation_id)),
        len(support.notifications(world.topic_arn)),
    ) == counts


@PATHS
def test_recovery_by_hand_and_automatic_recovery_may_overlap(
    world: World, monkeypatch: pytest.MonkeyPatch, aws_rules: AwsRules, path: str
) -> None:
    """`recover` by hand restored the target from its final snapshot just after an automatic
    pass found nothing there: AWS refuses the second restore (DBClusterAlreadyExistsFault);
    the pass reports it pending and the next one goes on with the cluster that is there."""
    operation_id = f"replace-overlap-{path}"
    execution, before, master_before, source = timed_out_replace(
        world, monkeypatch, operation_id, path
    )
    by_hand = support.invoke("recover_execution", {"operation_id": operation_id, "wait": False})
    assert by_hand["status"] == "pending"  # restoring from the final snapshot

    real = rds_lib.describe_cluster
    hidden: list[str] = []

    def looked_too_early(client: Any, cluster_id: str) -> Any:
        if cluster_id == TARGET and not hidden:
            hidden.append(cluster_id)
            return None  # what this pass saw before the other one's restore went through
        return real(client, cluster_id)

    monkeypatch.setattr(rds_lib, "describe_cluster", looked_too_early)
    automatic = {
        "operation_id": operation_id,
        "execution_arn": execution["executionArn"],
        "pass": 0,
        "max_passes": PASSES,
        "requested_by": "automatic recovery (TIMED_OUT event)",
    }
    answer = support.invoke("recover_execution", automatic)
    assert answer["status"] == "pending" and aws_rules.fired["restore_onto_existing"] == 1
    assert f"{TARGET} appeared while this pass restored it" in answer["undo"]["pending"]

    support.invoke("recover_execution", support.status_change_event(execution))
    recovery = support.wait_for(support.recovery_execution_arn(operation_id), support.TERMINAL)
    assert recovery["status"] == "SUCCEEDED"
    assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=False,
        error="States.Timeout",
        failure_path=False,
        source_before=source,
    )


def make_context() -> Any:
    from ..conftest import make_context as context

    return context()
