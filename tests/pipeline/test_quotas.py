"""The account's RDS quotas before anything is copied (handlers/lib/quotas.py): botocore's
Stubber for what AWS answers (moto has no DescribeAccountAttributes), and a run on moto refused
at CheckTarget when the sandbox's cluster quota has no room."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers.lib import quotas
from handlers.lib.errors import QuotaExceeded

from . import support
from .support import REGION, World

SETTINGS = {"region": "us-east-1", "account_id": "111111111111",
            "source": {"region": "us-west-2", "account_id": "222222222222"},
            "target": {"strategy": "swap", "final_snapshot": True}}


def stubbed(*answers: tuple[str, dict[str, Any]]) -> Any:
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    stub = Stubber(client)
    for operation, answer in answers:
        stub.add_response(operation, answer)
    stub.activate()
    return client


def account(clusters: tuple[int, int], snapshots: tuple[int, int]) -> dict[str, Any]:
    return {"AccountQuotas": [
        {"AccountQuotaName": "DBClusters", "Used": clusters[0], "Max": clusters[1]},
        {"AccountQuotaName": "ManualClusterSnapshots", "Used": snapshots[0], "Max": snapshots[1]},
        {"AccountQuotaName": "DBInstances", "Used": 3, "Max": 40},
    ]}


def copies(*statuses: str) -> dict[str, Any]:
    return {"DBClusterSnapshots": [
        {"DBClusterSnapshotIdentifier": f"c{n}", "Status": status,
         "DBClusterSnapshotArn": f"arn:aws:rds:us-east-1:111111111111:cluster-snapshot:c{n}",
         "SourceDBClusterSnapshotArn": f"arn:aws:rds:us-west-2:222222222222:cluster-snapshot:s{n}"}
        for n, status in enumerate(statuses)]}


def test_a_full_cluster_quota_refuses_naming_quota_and_usage() -> None:
    client = stubbed(("describe_account_attributes", account((40, 40), (10, 100))),
                     ("describe_db_cluster_snapshots", copies("available")))
    usage = quotas.check(client, SETTINGS, target_exists=True)
    assert [(u.quota, u.used, u.limit, u.needed) for u in usage] == [
        ("DBClusters", 40, 40, 1), ("ManualClusterSnapshots", 10, 100, 2),
        ("ConcurrentCrossRegionSnapshotCopies", 0, 5, 1)]
    with pytest.raises(QuotaExceeded) as refused:
        quotas.refuse(usage)
    assert "DB clusters in this region (DBClusters): 40 of 40 used, the run needs 1 more" in \
        str(refused.value)
    assert "ManualClusterSnapshots" not in str(refused.value)  # that one has room


def test_snapshots_and_copies_in_flight_count() -> None:
    client = stubbed(("describe_account_attributes", account((3, 40), (99, 100))),
                     ("describe_db_cluster_snapshots",
                      copies("copying", "creating", "copying", "copying", "copying", "available")))
    usage = {u.quota: u for u in quotas.check(client, SETTINGS, target_exists=True)}
    assert not usage["ManualClusterSnapshots"].room  # a copy and a final snapshot: 101 > 100
    assert usage["ConcurrentCrossRegionSnapshotCopies"].used == 5
    assert not usage["ConcurrentCrossRegionSnapshotCopies"].room


def test_what_each_strategy_needs() -> None:
    replace = {**SETTINGS, "target": {"strategy": "replace", "final_snapshot": True}}
    assert quotas.needs(replace, target_exists=True, copy_required=False) == {
        "DBClusters": 0, "ManualClusterSnapshots": 1, "ConcurrentCrossRegionSnapshotCopies": 0}
    assert quotas.needs(SETTINGS, target_exists=False, copy_required=True)["DBClusters"] == 1
    assert quotas.needs(SETTINGS, False, False, clone=True)["ClonesPerSource"] == 1


def test_a_config_that_never_restores_a_snapshot_copies_none() -> None:
    """A cross-account clone (the source shared through RAM, same region) copies no snapshot:
    CheckTarget counts no copy, whatever the source's account."""
    shared = {**SETTINGS, "source": {"region": "us-east-1", "account_id": "222222222222"}}
    assert quotas.copy_required(shared)
    cloning = {**shared, "source": {**shared["source"], "restore_paths": ["clone"]}}
    assert not quotas.copy_required(cloning)
    auto = {**shared, "source": {**shared["source"], "restore_paths": ["snapshot", "clone"]}}
    assert quotas.copy_required(auto)  # auto may fall back to a snapshot: counted


def test_clones_of_the_source_are_counted() -> None:
    clusters = {"DBClusters": [
        {"DBClusterIdentifier": "prod", "CloneGroupId": "g1"},
        *({"DBClusterIdentifier": f"clone{n}", "CloneGroupId": "g1"} for n in range(15)),
        {"DBClusterIdentifier": "other", "CloneGroupId": "g2"}]}
    client = stubbed(("describe_account_attributes", account((17, 40), (0, 100))),
                     ("describe_db_clusters", clusters))
    same_region = {**SETTINGS, "source": {"region": "us-east-1", "account_id": "111111111111"}}
    usage = quotas.check(client, same_region, True, clone_source={
        "DBClusterIdentifier": "prod", "CloneGroupId": "g1"})
    clones = next(u for u in usage if u.quota == "ClonesPerSource")
    assert (clones.used, clones.limit, clones.room) == (15, 15, False)


@pytest.mark.usefixtures("router")
def test_a_run_is_refused_before_the_copy_when_the_cluster_quota_has_no_room(
    world: World,
) -> None:
    rds = support.rds()
    # the quota the sandbox reports (AWS's default), filled to the brim
    (clusters,) = [q for q in rds.describe_account_attributes()["AccountQuotas"]
                   if q["AccountQuotaName"] == "DBClusters"]
    for n in range(clusters["Max"] - clusters["Used"]):
        support.create_cluster(f"other-{n}", REGION, tags=None, instances=0)
    machine = support.deploy(world)
    execution = support.run(machine, "quota-full")

    cause = json.loads(execution["cause"])
    assert (execution["status"], cause["errorType"]) == ("FAILED", "QuotaExceeded")
    assert (f"DB clusters in this region (DBClusters): {clusters['Max']} of {clusters['Max']} "
            "used, the run needs 1 more") in cause["errorMessage"]
    states = support.entered_states(execution["executionArn"])
    assert "CopySnapshot" not in states and "FindSnapshot" not in states
    assert support.manual_snapshots() == {}  # nothing was copied


def stage_clones(count: int) -> None:
    """`count` copy-on-write clones of the same-region source (the sandbox's RDS puts each in
    the source's clone group, as AWS does)."""
    for n in range(count):
        support.rds().restore_db_cluster_to_point_in_time(
            DBClusterIdentifier=f"{support.SOURCE}-clone-{n}",
            SourceDBClusterIdentifier=support.SOURCE,
            RestoreType="copy-on-write",
            UseLatestRestorableTime=True,
        )


CLONES_FULL = ("copy-on-write clones of the source (ClonesPerSource): 15 of 15 used, the run "
               "needs 1 more")


@pytest.mark.usefixtures("router")
def test_a_clone_run_is_refused_when_the_sources_clone_group_is_full(world: World) -> None:
    support.add_same_region_source(world)
    stage_clones(15)
    before = support.cluster_ids()
    machine = support.deploy(world, settings=support.path_settings(world, "clone"))
    execution = support.run(machine, "clones-full")

    cause = json.loads(execution["cause"])
    assert (execution["status"], cause["errorType"]) == ("FAILED", "QuotaExceeded")
    assert CLONES_FULL in cause["errorMessage"]
    assert "Delete clones of the source" in cause["errorMessage"]
    failed = [i for i in support.audit_items("clones-full") if i["status"] == "FAILED"]
    assert [i["step"] for i in failed][:1] == ["choose-source"]
    assert "RestoreCluster" not in support.entered_states(execution["executionArn"])
    assert support.cluster_ids() == before  # nothing was created


@pytest.mark.usefixtures("router")
def test_auto_restores_a_snapshot_when_the_sources_clone_group_is_full(world: World) -> None:
    support.add_same_region_source(world)
    stage_clones(15)
    support.rds().create_db_cluster_snapshot(
        DBClusterIdentifier=support.SOURCE, DBClusterSnapshotIdentifier="prod-orders-here-1"
    )
    settings = support.path_settings(world, "clone")
    settings["source"].update(restore_from="auto",
                              restore_paths=["snapshot", "clone", "point_in_time"])
    machine = support.deploy(world, settings=settings)
    execution = support.run(machine, "clones-full-auto")

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    chosen = next(i for i in support.audit_items("clones-full-auto")
                  if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "snapshot"
    assert chosen["reason"] == f"auto: no clone ({CLONES_FULL}): snapshot"
    assert "FindSnapshot" in support.entered_states(execution["executionArn"])
