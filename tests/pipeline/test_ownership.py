"""Never touch what is not ours (DESIGN.md §5, Undo contract): the ownership rule of the test
layer (ownership.py) itself, and the pipeline end to end against somebody else's cluster that
appears under one of a run's own derived ids."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from handlers.lib import naming, tags

from . import support
from .guarantees import body
from .ownership import Ownership
from .support import MANAGED_TAGS, REGION, TARGET, World

pytestmark = pytest.mark.usefixtures("router")


def arn(cluster_id: str) -> str:
    cluster = support.cluster(cluster_id)
    assert cluster is not None, cluster_id
    return str(cluster["DBClusterArn"])


def pipeline_code(call: Any, **kwargs: Any) -> None:
    """Run `call(**kwargs)` from a frame of a `handlers.*` module, as pipeline code would."""
    scope = {"__name__": "handlers.probe", "call": call, "kwargs": kwargs}
    exec(compile("call(**kwargs)", "handlers/probe.py", "exec"), scope)


@pytest.mark.foreign_writes
def test_the_rule_records_pipeline_writes_to_what_is_not_ours(
    world: World, ownership: Ownership
) -> None:
    op = "op-rule"
    staging = naming.staging_cluster_id(TARGET, op)
    support.create_cluster(staging, REGION, tags=[*MANAGED_TAGS, *tag(tags.OPERATION_KEY, op)])
    foreign = naming.old_cluster_id(TARGET, op)
    support.create_cluster(foreign, REGION, tags=None)  # untagged, at one of op's ids
    stranger = naming.staging_cluster_id(TARGET, "op-other")  # ours, but of another run's id
    support.create_cluster(stranger, REGION, tags=[*MANAGED_TAGS, *tag(tags.OPERATION_KEY, op)])
    rds = support.rds()
    expiry = tag(tags.EXPIRES_KEY, "2999-01-01T00:00:00Z")
    rds.add_tags_to_resource(ResourceName=arn(foreign), Tags=expiry)  # the test's own: not judged
    assert ownership.violations == [] and ownership.checked == 0

    for cluster_id in (TARGET, staging, foreign, stranger):
        pipeline_code(rds.add_tags_to_resource, ResourceName=arn(cluster_id), Tags=expiry)
    pipeline_code(rds.delete_db_instance, DBInstanceIdentifier=f"{foreign}-1")
    pipeline_code(rds.delete_db_instance, DBInstanceIdentifier=f"{staging}-1")
    assert ownership.checked == 6
    assert [(write, resource) for write, resource, _ in ownership.violations] == [
        ("AddTagsToResource", foreign),
        ("AddTagsToResource", stranger),
        ("DeleteDBInstance", f"{foreign}-1"),  # an instance is ours only in a cluster of ours
    ]
    assert "lacks the tags" in ownership.violations[0][2]
    assert "no operation id of token" in ownership.violations[1][2]


@pytest.mark.foreign_writes
def test_a_final_snapshot_our_delete_made_is_ours_to_tag(
    world: World, ownership: Ownership
) -> None:
    op = "op-final"
    old = naming.old_cluster_id(TARGET, op)
    support.create_cluster(
        old, REGION, tags=[*MANAGED_TAGS, *tag(tags.SWAPPED_OUT_KEY, op)], instances=0
    )
    support.rds().create_db_cluster_snapshot(
        DBClusterIdentifier=TARGET, DBClusterSnapshotIdentifier="somebody-elses"
    )
    final = naming.final_snapshot_id(TARGET, op)
    rds = support.rds()
    pipeline_code(rds.delete_db_cluster, DBClusterIdentifier=old, FinalDBSnapshotIdentifier=final)
    for snapshot_id in (final, "somebody-elses"):
        snapshot_arn = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)[
            "DBClusterSnapshots"
        ][0]["DBClusterSnapshotArn"]
        pipeline_code(rds.add_tags_to_resource, ResourceName=snapshot_arn, Tags=MANAGED_TAGS)
    assert [resource for _, resource, _ in ownership.violations] == ["somebody-elses"]


def tag(key: str, value: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value}]


# --- end to end: somebody's cluster under a run's own staging or old id -----------------------


@dataclass
class Intruder:
    """An untagged cluster (with an instance) that appears under `cluster_id` just before the
    state `before_state` runs."""

    cluster_id: str
    arn: str = ""
    fired: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        cluster = support.cluster(self.cluster_id)
        assert cluster is not None, f"{self.cluster_id} is gone"
        instance = support.rds().describe_db_instances(DBInstanceIdentifier=f"{self.cluster_id}-1")[
            "DBInstances"
        ][0]
        return {
            "arn": cluster["DBClusterArn"],
            "status": cluster["Status"],
            "tags": cluster["TagList"],
            "protection": cluster["DeletionProtection"],
            "members": [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]],
            "instance": (instance["DBInstanceStatus"], instance["TagList"]),
        }


def intrude(monkeypatch: pytest.MonkeyPatch, module: str, cluster_id: str) -> Intruder:
    intruder = Intruder(cluster_id)
    handlers_module = importlib.import_module(f"handlers.{module}")
    real = handlers_module.handler

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not intruder.fired:
            support.create_cluster(cluster_id, REGION, tags=None)
            intruder.arn = arn(cluster_id)
            intruder.fired.append(module)
        return dict(real(event, context))

    monkeypatch.setattr(handlers_module, "handler", handler)
    return intruder


CASES = [
    # where, placed just before: CheckTarget (right after the run started), FindSnapshot
    # (CheckTarget passed), and the error the run fails with
    ("stg", "check_target", "UnsafeTarget"),
    ("old", "check_target", "UnsafeTarget"),
    ("stg", "find_snapshot", "RestoreFailed"),
    ("old", "find_snapshot", "SwapFailed"),
]


@pytest.mark.parametrize(("kind", "module", "error"), CASES, ids=[f"{k}-{m}" for k, m, _ in CASES])
def test_a_foreign_cluster_under_a_runs_own_id_keeps_its_tags_and_state(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    ownership: Ownership,
    kind: str,
    module: str,
    error: str,
) -> None:
    op = f"intruded-{kind}-{module.replace('_', '-')}"
    derive = naming.staging_cluster_id if kind == "stg" else naming.old_cluster_id
    intruder = intrude(monkeypatch, module, derive(TARGET, op))
    machine = support.deploy(world)
    target_before = support.cluster(TARGET)

    execution = support.run(machine, op)

    assert intruder.fired == [module]
    assert execution["status"] == "FAILED" and execution["error"] == error, execution
    assert intruder.state() == {
        "arn": intruder.arn,
        "status": "available",
        "tags": [],
        "protection": False,
        "members": [f"{intruder.cluster_id}-1"],
        "instance": ("available", []),
    }
    assert ownership.violations == []
    # The target serves as before; the run says what it left alone, and why.
    target = support.cluster(TARGET)
    assert target is not None and target["DBClusterArn"] == target_before["DBClusterArn"]  # type: ignore[index]
    assert target["TagList"] == target_before["TagList"]  # type: ignore[index]
    assert support.lock_item() is None
    facts = body(support.notifications(world.topic_arn)[-1])
    assert any(line.startswith(f"{intruder.cluster_id} left alone") for line in facts["left"])
    ours = support.cluster_ids() - {TARGET, intruder.cluster_id}
    assert ours <= {naming.staging_cluster_id(TARGET, op)}  # this run's own, kept to expire
