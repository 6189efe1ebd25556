"""A restore drill that times out or is aborted (Step Functions runs no Catch then): the
recovery function (started by the EventBridge rule, which covers the drill state machine too;
moto emits no events, so the tests invoke it with the documented event) and `aurora-restore
recover OPERATION_ID` clean it up — the drill cluster and its snapshot copy are deleted, the
FAILED outcome, the phases the drill reached and the notification are recorded, the drill's
lock is released. Twice changes nothing more. The target is compared before and after and is
never written to. Each case runs on every way a drill restores (`drill --from`: a snapshot, a
clone or a point in time of the same-region production cluster, which stays untouched)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from handlers.lib import naming

from . import drill_support, support
from .aws_rules import AwsRules
from .drill_support import RdsWrites
from .moto_patches import RdsScript
from .support import TARGET, World

pytestmark = pytest.mark.usefixtures("each_engine", "router")
PATHS = support.engine_paths()
# Where the restore waits, by path (a clone in its own loop).
RESTORE_LOOP = {"snapshot": "WaitForCluster", "clone": "WaitForClone",
                "point_in_time": "WaitForCluster"}


@pytest.fixture
def target_guard(world: World) -> Iterator[RdsWrites]:
    before = drill_support.target_fingerprint()
    members = [m["DBInstanceIdentifier"] for m in before["cluster"]["DBClusterMembers"]]
    with drill_support.recording_rds_writes() as writes:
        yield writes
    assert drill_support.target_fingerprint() == before
    assert writes.touching(TARGET, before["cluster"]["DBClusterArn"], *members) == []


def start_stuck_in_restore(
    world: World, rds_script: RdsScript, operation_id: str, path: str, timeout: int = 300
) -> tuple[str, str]:
    """A drill (from `path`) whose cluster stays `creating` (each check waits 1 s): the
    restore loop spins."""
    settings = None if path == "snapshot" else support.path_settings(world, path)
    machine = drill_support.deploy_drill(
        world, poll_interval=1, max_attempts=500, timeout=timeout, settings=settings
    )
    drill_id = naming.drill_cluster_id(TARGET, operation_id)
    rds_script.script_cluster(drill_id, *["creating"] * 10_000)
    request = drill_support.drill_request(restore_from=None if path == "snapshot" else path)
    arn = support.start(machine, operation_id, request)
    support.wait_until_entered(arn, RESTORE_LOOP[path])
    assert drill_id in support.cluster_ids()
    return arn, drill_id


def source_before(world: World, path: str) -> dict[str, Any] | None:
    """The same-region production cluster's fingerprint (created here for a fast path)."""
    if path == "snapshot":
        return None
    support.add_same_region_source(world)
    return support.source_fingerprint()


def restore_finishes(rds_script: RdsScript, drill_id: str) -> None:
    """On AWS the restore ends (`available`) whatever happened to the execution; only then does
    RDS accept the deletion."""
    rds_script.clusters[drill_id].clear()


def snapshot_ids() -> set[str]:
    found = support.rds().describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return {s["DBClusterSnapshotIdentifier"] for s in found}


def drill_lock(operation_id: str) -> Any:
    key = {
        "operation_id": {"S": f"lock#{naming.drill_cluster_id(TARGET, operation_id)}"},
        "timestamp": {"S": "LOCK"},
    }
    return support.client("dynamodb").get_item(TableName=support.TABLE, Key=key).get("Item")


def counts(world: World, operation_id: str) -> tuple[int, int]:
    return len(support.audit_items(operation_id)), len(support.notifications(world.topic_arn))


def assert_cleaned_up(
    world: World, operation_id: str, drill_id: str, snapshots_before: set[str], error: str,
    source: dict[str, Any] | None,
) -> dict[str, Any]:
    """Cleaned up; `source`: the same-region production cluster's fingerprint before the
    drill (clone and point in time), which must not have changed."""
    expected = {TARGET} if source is None else {TARGET, support.SOURCE}
    assert drill_id not in support.cluster_ids() and support.cluster_ids() == expected
    assert support.source_fingerprint() == source
    assert snapshot_ids() == snapshots_before  # this drill's copy is gone too
    assert drill_lock(operation_id) is None
    items = sorted(support.audit_items(operation_id), key=lambda i: i["timestamp"])
    final = next(i for i in items if i["step"] == "pipeline")
    assert final["status"] == "FAILED" and final["details"]["error"] == error
    summary = next(i["details"] for i in items if i["step"] == "drill")
    assert summary["status"] == "FAILED" and summary["rto_seconds"] is None
    phases = {i["details"]["phase"]: i["status"] for i in items if i["step"] == "drill-phase"}
    assert phases == {"copy": "SUCCEEDED", "restore": "FAILED"}  # stopped while restoring
    (sent,) = support.notifications(world.topic_arn)
    assert sent["subject"] == f"aurora-restore [dev] DRILL FAILED: {TARGET} ({error})"
    facts = dict(json.loads(sent["message"].split("\n\n", 1)[1]))
    assert facts["serving_under_target"] == "the target, untouched (a drill never changes it)"
    assert "left_behind" not in facts
    return facts


@PATHS
def test_a_drill_timed_out_mid_restore_is_cleaned_up_by_the_recovery_function(
    world: World, rds_script: RdsScript, target_guard: RdsWrites, aws_rules: AwsRules, path: str
) -> None:
    operation_id = f"drill-timeout-{path}"
    source = source_before(world, path)
    snapshots_before = snapshot_ids()
    # 12 s: room to reach the restore loop on a busy machine before the execution times out
    arn, drill_id = start_stuck_in_restore(world, rds_script, operation_id, path, timeout=12)
    execution = support.wait_for(arn, {"TIMED_OUT"}, timeout=60)
    assert "CleanUpAfterFailure" not in support.entered_states(arn)  # no Catch ran
    assert drill_id in support.cluster_ids() and drill_lock(operation_id) is not None
    restore_finishes(rds_script, drill_id)

    answer = support.invoke("recover_execution", support.status_change_event(execution))

    assert answer["status"] == "recovered" and answer["execution_status"] == "TIMED_OUT"
    assert not aws_rules.fired  # the cleanup asked AWS for nothing it would refuse
    assert answer["lock_released"] is True
    facts = assert_cleaned_up(
        world, operation_id, drill_id, snapshots_before, "States.Timeout", source
    )
    assert facts["recovered_by"] == "recovery function (TIMED_OUT event)"
    assert f"deleting {drill_id}" in facts["undone"]
    assert "DeleteDBCluster" in target_guard.operations(drill_id)

    state, before = support.world_state(), counts(world, operation_id)
    again = support.invoke("recover_execution", support.status_change_event(execution))
    assert again["status"] == "already recovered"
    assert support.world_state() == state and counts(world, operation_id) == before


@PATHS
def test_an_aborted_drill_is_cleaned_up_by_the_recover_command(
    world: World, rds_script: RdsScript, target_guard: RdsWrites, moto_config_dir: Path,
    path: str,
) -> None:
    operation_id = f"drill-abort-{path}"
    source = source_before(world, path)
    snapshots_before = snapshot_ids()
    arn, drill_id = start_stuck_in_restore(world, rds_script, operation_id, path)

    def recover() -> tuple[int, dict[str, Any], str]:
        result = CliRunner().invoke(
            cli,
            [
                "recover",
                operation_id,
                "--env",
                "dev",
                "--config-dir",
                str(moto_config_dir),
                "-o",
                "json",
            ],
        )
        return result.exit_code, json.loads(result.stdout or "{}"), result.stderr

    code, refused, _ = recover()  # still running: nothing may be deleted under it
    assert code == 1 and refused["status"] == "refused"
    assert drill_id in support.cluster_ids()

    support.client("stepfunctions").stop_execution(executionArn=arn, cause="operator stop")
    support.wait_for(arn, {"ABORTED"})
    restore_finishes(rds_script, drill_id)
    code, answer, stderr = recover()
    assert code == 0, stderr
    assert answer["status"] == "recovered" and answer["execution_status"] == "ABORTED"
    facts = assert_cleaned_up(world, operation_id, drill_id, snapshots_before, "ABORTED", source)
    assert facts["recovered_by"].startswith("aurora-restore recover")

    state, before = support.world_state(), counts(world, operation_id)
    code, again, stderr = recover()
    assert code == 0 and again["status"] == "already recovered", stderr
    assert support.world_state() == state and counts(world, operation_id) == before
