"""Timeouts and aborts: Step Functions runs no Catch then. The recovery function (started by the
EventBridge rule `setup` creates; moto emits no such events, so the tests invoke it with an
event of the documented shape) and `aurora-restore recover OPERATION_ID` (which invokes the
deployed function) finish the failure path: undo, audit FAILED, release the lock, notify.
Twice changes nothing more; an execution in flight is refused. Every case that runs the
pipeline runs on each way it restores (`path`: a snapshot, a clone, a point in time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from handlers import recover_execution
from handlers.lib import naming, recovery

from . import faults, support
from .guarantees import assert_never_lost, original_target
from .support import TARGET, World

pytestmark = pytest.mark.usefixtures("each_engine", "router")
PATHS = support.engine_paths()


def deploy(world: World, path: str, **kwargs: Any) -> str:
    """Our definition for a run restoring by `path` (the same-region source for the fast
    paths)."""
    return support.deploy(world, settings=support.path_settings(world, path), **kwargs)


def source_before(path: str) -> dict[str, Any] | None:
    return support.source_fingerprint() if path != "snapshot" else None


def master_version() -> str:
    secret = support.client("secretsmanager").get_secret_value(SecretId=support.MASTER_SECRET)
    return str(secret["VersionId"])


def audit_and_notifications(world: World, operation_id: str) -> tuple[int, int]:
    return len(support.audit_items(operation_id)), len(support.notifications(world.topic_arn))


def recover_cli(config_dir: Path, operation_id: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(
        cli,
        ["recover", operation_id, "--env", "dev", "--config-dir", str(config_dir), "-o", "json"],
    )
    document = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.exit_code, document, result.stderr


@PATHS
def test_timeout_mid_swap_is_recovered_by_the_function_and_twice_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The target was renamed away, then the whole execution timed out before the staging
    cluster took its place: the recovery function renames it back."""
    machine = deploy(world, path, timeout=12)
    blocker = faults.block(monkeypatch, "SwapInStaging")
    operation_id = f"timeout-mid-swap-{path}"
    before, master_before, source = original_target(), master_version(), source_before(path)
    arn = support.start(machine, operation_id)
    blocker.wait_until_entered()
    assert support.cluster(TARGET) is None  # renamed away: nothing serves under the target id
    execution = support.wait_for(arn, {"TIMED_OUT"}, timeout=60)
    blocker.release.set()
    assert "RecordFailure" not in support.entered_states(arn)  # no Catch ran
    assert support.lock_item()["holder"] == operation_id  # type: ignore[index]

    answer = support.invoke("recover_execution", support.status_change_event(execution))
    assert answer["status"] == "recovered" and answer["execution_status"] == "TIMED_OUT"
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
    )
    old = naming.old_cluster_id(TARGET, operation_id)
    assert f"renamed {old} back to {TARGET}" in facts["undone"]
    assert facts["recovered_by"] == "recovery function (TIMED_OUT event)"
    assert facts["execution_status"] == "TIMED_OUT"
    recorded = [i for i in support.audit_items(operation_id) if i["step"] == "recover"]
    assert [i["status"] for i in recorded] == ["SUCCEEDED"]

    state, counts = support.world_state(), audit_and_notifications(world, operation_id)
    again = support.invoke("recover_execution", support.status_change_event(execution))
    assert again["status"] == "already recovered" and again["lock_released"] is False
    assert support.world_state() == state
    assert audit_and_notifications(world, operation_id) == counts


@PATHS
def test_abort_mid_swap_is_recovered_by_the_recover_command_and_twice_changes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, moto_config_dir: Path, path: str
) -> None:
    machine = deploy(world, path)
    blocker = faults.block(monkeypatch, "SwapInStaging")
    operation_id = f"abort-mid-swap-{path}"
    before, master_before, source = original_target(), master_version(), source_before(path)
    arn = support.start(machine, operation_id)
    blocker.wait_until_entered()
    support.client("stepfunctions").stop_execution(executionArn=arn, cause="operator stop")
    blocker.release.set()  # moto aborts once the running Task returns
    execution = support.wait_for(arn, {"ABORTED"})

    code, answer, stderr = recover_cli(moto_config_dir, operation_id)
    assert code == 0, stderr
    assert answer["status"] == "recovered" and answer["lock_released"] is True
    facts = assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=False,
        error="ABORTED",
        failure_path=False,
        source_before=source,
    )
    # On AWS the message is StopExecution's cause ("operator stop"); moto records none.
    assert facts["message"] in ("operator stop", "the execution ended ABORTED: no Catch ran")
    assert facts["recovered_by"].startswith("aurora-restore recover")
    assert answer["undo"]["undone"] == facts["undone"]

    state, counts = support.world_state(), audit_and_notifications(world, operation_id)
    code, again, stderr = recover_cli(moto_config_dir, operation_id)
    assert code == 0, stderr
    assert again["status"] == "already recovered"
    assert support.world_state() == state
    assert audit_and_notifications(world, operation_id) == counts


def test_a_run_in_flight_is_refused_then_recovered_once_aborted(
    world: World, moto_config_dir: Path
) -> None:
    """Sitting in a Wait state (the copy loop): RUNNING, nothing may be undone under it."""
    machine = support.deploy(world, poll_interval=30)
    operation_id = "in-flight"
    arn = support.start(machine, operation_id)
    copy_id = naming.copy_snapshot_id(TARGET, operation_id)
    support.wait_until_entered(arn, "WaitForCopy")
    state = support.world_state()

    code, answer, _ = recover_cli(moto_config_dir, operation_id)
    assert code == 1 and answer["status"] == "refused"
    assert "still RUNNING" in answer["reason"]
    event = {"operation_id": operation_id}
    direct = recover_execution.handler(event, support_context())
    assert direct["status"] == "refused"
    assert support.world_state() == state and support.lock_item()["holder"] == operation_id  # type: ignore[index]
    assert copy_id in support.manual_snapshots()

    support.client("stepfunctions").stop_execution(executionArn=arn)
    execution = support.wait_for(arn, {"ABORTED"})
    code, answer, stderr = recover_cli(moto_config_dir, operation_id)
    assert code == 0, stderr
    assert f"deleted the snapshot copy {copy_id}" in answer["undo"]["undone"]
    assert support.lock_item() is None and support.cluster_ids() == {TARGET}
    assert support.manual_snapshots() == {}
    assert execution["status"] == "ABORTED"


@pytest.mark.parametrize(("path", "loop"), [("clone", "WaitForClone"),
                                            ("point_in_time", "WaitForCluster")])
def test_a_fast_path_run_in_flight_is_refused_then_recovered_once_aborted(
    world: World, moto_config_dir: Path, path: str, loop: str
) -> None:
    """Sitting in the restore's wait loop of a clone or a point-in-time restore: refused while
    RUNNING; once aborted, `recover` keeps the restored cluster for inspection — with this
    run's master password, not production's — and the source is as it was."""
    machine = deploy(world, path, poll_interval=30)
    source = support.source_fingerprint()
    operation_id = f"in-flight-{path}"
    arn = support.start(machine, operation_id)
    staging = naming.staging_cluster_id(TARGET, operation_id)
    support.wait_until_entered(arn, loop)
    state = support.world_state()
    assert support.master_password_of(staging) == support.PROD_MASTER_PASSWORD  # as AWS

    code, answer, _ = recover_cli(moto_config_dir, operation_id)
    assert code == 1 and answer["status"] == "refused"
    assert support.world_state() == state

    support.client("stepfunctions").stop_execution(executionArn=arn)
    support.wait_for(arn, {"ABORTED"})
    code, answer, stderr = recover_cli(moto_config_dir, operation_id)
    assert code == 0, stderr
    assert any(line.startswith(f"gave {staging} this run's master password")
               for line in answer["undo"]["undone"]), answer["undo"]
    assert any(staging in line and "kept until" in line for line in answer["undo"]["left"])
    assert support.master_password_of(staging) not in (support.PROD_MASTER_PASSWORD, "")
    assert support.source_fingerprint() == source and support.lock_item() is None
    state = support.world_state()
    code, again, stderr = recover_cli(moto_config_dir, operation_id)
    assert code == 0 and again["status"] == "already recovered", stderr
    assert support.world_state() == state


def support_context() -> Any:
    """A Lambda context for calling the recovery handler in-process (not through moto)."""
    from aurora_restore_cli.sandbox.lambda_router import LambdaContext

    name = support.function_name("recover_execution")
    arn = f"arn:aws:lambda:{support.REGION}:{support.ACCOUNT}:function:{name}"
    return LambdaContext(name, arn, 300)


@PATHS
def test_recovery_finishes_an_undo_the_failure_path_could_not_do(
    world: World, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The failure path's own undo fails: the execution ends FAILED with the lock kept and a
    notification that says to recover; the rule's FAILED event runs the recovery function."""
    faults.inject(monkeypatch, faults.Fault("SwapInStaging", faults.BEFORE))
    faults.inject(monkeypatch, faults.Fault("UndoChanges", faults.BEFORE))
    machine = deploy(world, path)
    operation_id = f"undo-failed-{path}"
    before, master_before, source = original_target(), master_version(), source_before(path)
    execution = support.run(machine, operation_id)
    assert execution["status"] == "FAILED" and execution["error"] == "InjectedFailure"
    assert support.cluster(TARGET) is None
    assert support.lock_item()["holder"] == operation_id  # type: ignore[index]
    (sent,) = support.notifications(world.topic_arn)
    facts = json.loads(sent["message"].split("\n\n", 1)[1])
    assert facts["undo_error"]["error"] == "InjectedFailure"
    assert f"aurora-restore recover {operation_id} --env dev" in facts["next_step"]

    answer = support.invoke("recover_execution", support.status_change_event(execution))
    assert answer["status"] == "recovered"
    assert_never_lost(
        world,
        operation_id,
        execution,
        before=before,
        master_before=master_before,
        new_expected=False,
        error="InjectedFailure",
        failure_path=False,
        source_before=source,
    )


@PATHS
def test_a_failed_execution_whose_failure_path_finished_needs_nothing(
    world: World, path: str
) -> None:
    """The rule also fires on FAILED (a safety net): after a complete failure path the
    recovery function finds nothing to do and writes nothing."""
    support.rds().remove_tags_from_resource(
        ResourceName=support.cluster(TARGET)["DBClusterArn"],  # type: ignore[index]
        TagKeys=["aurora-restore:managed-by"],
    )
    machine = deploy(world, path)
    execution = support.run(machine, "guard-refused")
    assert execution["status"] == "FAILED" and execution["error"] == "UnsafeTarget"
    state, counts = support.world_state(), audit_and_notifications(world, "guard-refused")
    answer = support.invoke("recover_execution", support.status_change_event(execution))
    assert answer["status"] == "already recovered"
    assert support.world_state() == state
    assert audit_and_notifications(world, "guard-refused") == counts


def test_recovery_refuses_events_of_another_state_machine(world: World) -> None:
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": f"arn:aws:states:{support.REGION}:{support.ACCOUNT}:execution:other:x",
            "stateMachineArn": f"arn:aws:states:{support.REGION}:{support.ACCOUNT}:stateMachine:other",
            "status": "TIMED_OUT",
        },
    }
    with pytest.raises(Exception, match="not this env's pipeline"):
        recover_execution.handler(event, support_context())


def test_an_execution_stopped_while_taking_the_lock_is_recorded_and_released(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = support.deploy(world)
    blocker = faults.block(monkeypatch, "AcquireLock")
    arn = support.start(machine, "stopped-early")
    blocker.wait_until_entered()
    support.client("stepfunctions").stop_execution(executionArn=arn)
    blocker.release.set()
    execution = support.wait_for(arn, {"ABORTED"})
    answer = support.invoke("recover_execution", support.status_change_event(execution))
    assert answer["status"] == "recovered"
    assert answer["undo"]["undone"] == [] and support.cluster_ids() == {TARGET}
    assert support.lock_item() is None
    final = [i for i in support.audit_items("stopped-early") if i["step"] == "pipeline"]
    assert final[-1]["status"] == "FAILED" and final[-1]["details"]["execution_status"] == "ABORTED"
    # Without a state document in the history, the definition that execution ran has the
    # settings (Step Functions keeps it per execution).
    sfn = support.client("stepfunctions")
    described = sfn.describe_execution(executionArn=arn)
    rebuilt = recovery.document_from_definition(sfn, arn, described)
    latest = recovery.latest_document(sfn, arn)
    assert latest is not None and rebuilt["settings"] == latest["settings"]
    assert rebuilt["operation_id"] == "stopped-early" and rebuilt["pipeline"] == latest["pipeline"]
