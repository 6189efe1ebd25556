"""find_snapshot, copy_snapshot, check_copy on moto (unit level: handlers called directly)."""

from __future__ import annotations

import pytest

from handlers import check_copy, copy_snapshot, find_snapshot
from handlers.lib import naming
from handlers.lib.errors import (
    CopyFailed,
    SnapshotIncompatible,
    SnapshotNotAvailable,
    SnapshotNotFound,
    SnapshotTooOld,
)

from . import support
from .moto_patches import RdsScript
from .support import SOURCE, SOURCE_REGION, DocumentFactory, World


def snapshot(snapshot_id: str, cluster_id: str = SOURCE, region: str = SOURCE_REGION) -> dict:
    return support.rds(region).create_db_cluster_snapshot(
        DBClusterIdentifier=cluster_id, DBClusterSnapshotIdentifier=snapshot_id
    )["DBClusterSnapshot"]


def found(document: dict) -> dict:
    return find_snapshot.handler(document, None)["snapshot"]


def test_newest_available_snapshot_of_the_source(
    world: World, make_document: DocumentFactory, rds_script: RdsScript
) -> None:
    snapshot("prod-orders-manual-0")
    automated = support.rds(SOURCE_REGION).describe_db_cluster_snapshots(
        DBClusterIdentifier=SOURCE, SnapshotType="automated"
    )["DBClusterSnapshots"][0]["DBClusterSnapshotIdentifier"]
    support.age_snapshot(automated, 3)
    support.age_snapshot("prod-orders-manual-0", 2)
    support.age_snapshot("prod-orders-manual-1", 1)
    snapshot("prod-orders-manual-2")
    rds_script.script_snapshot("prod-orders-manual-2", "creating")  # newest, not yet available
    support.create_cluster("prod-other", SOURCE_REGION, tags=None, instances=0)
    snapshot("prod-other-newer", cluster_id="prod-other")
    chosen = found(make_document())
    assert chosen["id"] == "prod-orders-manual-1"
    assert chosen["region"] == SOURCE_REGION and chosen["arn"] == world.snapshot_arn
    assert chosen["encrypted"] is True and chosen["engine"] == "aurora-postgresql"
    assert "newest available" in chosen["reason"]
    items = support.audit_items("op-unit")
    assert items[0]["step"] == "find-snapshot" and items[0]["details"]["id"] == chosen["id"]


def test_snapshot_type_filter(world: World, make_document: DocumentFactory) -> None:
    document = make_document()
    document["settings"]["source"]["snapshot_type"] = "manual"
    assert found(document)["type"] == "manual"
    document["settings"]["source"]["snapshot_type"] = "automated"
    assert found(document)["type"] == "automated"  # moto makes one when the cluster is created


@pytest.mark.parametrize("given", ["id", "arn"])
def test_snapshot_given_in_the_input(
    world: World, make_document: DocumentFactory, given: str
) -> None:
    snapshot("prod-orders-manual-2")
    wanted = world.snapshot_id if given == "id" else world.snapshot_arn
    document = make_document(request={"snapshot_id": wanted, "requested_by": "dba"})
    chosen = found(document)
    assert chosen["id"] == world.snapshot_id
    assert chosen["reason"] == "given in the execution input"


def test_missing_snapshot(world: World, make_document: DocumentFactory) -> None:
    document = make_document(request={"snapshot_id": "does-not-exist"})
    with pytest.raises(SnapshotNotFound, match="does-not-exist"):
        find_snapshot.handler(document, None)
    items = support.audit_items("op-unit")
    assert [(i["step"], i["status"], i["details"]["error"]) for i in items] == [
        ("find-snapshot", "FAILED", "SnapshotNotFound")
    ]


def test_no_snapshot_of_the_source(world: World, make_document: DocumentFactory) -> None:
    document = make_document()
    document["settings"]["source"]["cluster_id"] = "prod-nothing"
    with pytest.raises(SnapshotNotFound, match="prod-nothing"):
        find_snapshot.handler(document, None)


def test_too_old(world: World, make_document: DocumentFactory) -> None:
    support.age_snapshot(world.snapshot_id, 49)
    document = make_document()
    document["settings"]["source"]["snapshot_type"] = "manual"
    with pytest.raises(SnapshotTooOld, match=r"49\.0 h old; the limit is 48 h"):
        find_snapshot.handler(document, None)


def test_not_available(world: World, make_document: DocumentFactory, rds_script: RdsScript) -> None:
    rds_script.script_snapshot(world.snapshot_id, "failed")
    document = make_document(request={"snapshot_id": world.snapshot_id})
    with pytest.raises(SnapshotNotAvailable, match="is failed"):
        find_snapshot.handler(document, None)
    document = make_document()
    document["settings"]["source"]["snapshot_type"] = "manual"
    with pytest.raises(SnapshotNotAvailable, match="none available"):
        find_snapshot.handler(document, None)


def test_wrong_engine(world: World, make_document: DocumentFactory) -> None:
    document = make_document()
    document["settings"]["target"]["engine"] = "aurora-mysql"
    with pytest.raises(SnapshotIncompatible, match="not aurora-mysql"):
        find_snapshot.handler(document, None)


def test_snapshot_of_another_cluster_is_refused(
    world: World, make_document: DocumentFactory
) -> None:
    support.create_cluster("prod-other", SOURCE_REGION, tags=None, instances=0)
    other = snapshot("prod-other-1", cluster_id="prod-other")
    document = make_document(request={"snapshot_id": other["DBClusterSnapshotArn"]})
    with pytest.raises(SnapshotIncompatible, match="not of the source prod-orders"):
        find_snapshot.handler(document, None)


def with_snapshot(make_document: DocumentFactory, operation_id: str = "op-unit") -> dict:
    document = make_document(operation_id)
    return find_snapshot.handler(document, None)


def test_cross_region_copy_reencrypts_and_tags(
    world: World, make_document: DocumentFactory
) -> None:
    document = copy_snapshot.handler(with_snapshot(make_document), None)
    copy_id = naming.copy_snapshot_id("dev-orders", "op-unit")
    assert document["copy"] == {"required": True, "snapshot_id": copy_id, "status": "available"}
    assert document["poll"] == {
        "what": "copy",
        "attempt": 0,
        "ready": False,
        "status": "started",
        "wait_seconds": 1,  # the copy loop's first_seconds
        "waited_seconds": 0,
    }
    made = support.rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=copy_id)[
        "DBClusterSnapshots"
    ][0]
    assert made["KmsKeyId"] == world.target_kms
    tags = {t["Key"]: t["Value"] for t in made["TagList"]}
    assert tags == {
        "team": "orders",  # the source snapshot's own tags come along
        "aurora-restore:managed-by": "aurora-restore",
        "aurora-restore:env": "dev",
        "aurora-restore:operation": "op-unit",
    }
    details = support.audit_items("op-unit")[-1]["details"]
    assert details["reasons"] == ["another region", "re-encryption with the target key"]


def test_copy_is_idempotent(world: World, make_document: DocumentFactory) -> None:
    document = copy_snapshot.handler(with_snapshot(make_document), None)
    again = copy_snapshot.handler(document, None)
    assert again["copy"]["snapshot_id"] == document["copy"]["snapshot_id"]
    assert support.audit_items("op-unit")[-1]["details"]["action"] == "reused"


def test_copy_refuses_a_foreign_snapshot_with_our_name(
    world: World, make_document: DocumentFactory
) -> None:
    support.create_cluster("dev-x", support.REGION, tags=None, instances=0)
    snapshot(naming.copy_snapshot_id("dev-orders", "op-unit"), "dev-x", support.REGION)
    with pytest.raises(CopyFailed, match="not made by this operation"):
        copy_snapshot.handler(with_snapshot(make_document), None)


def test_copy_skipped_in_the_same_region_with_the_same_key(
    world: World, make_document: DocumentFactory
) -> None:
    support.create_cluster(
        "prod-local", support.REGION, tags=None, instances=0, kms=world.target_kms
    )
    snapshot("prod-local-1", "prod-local", support.REGION)
    document = make_document()
    document["settings"]["source"].update(cluster_id="prod-local", region=support.REGION)
    document = copy_snapshot.handler(find_snapshot.handler(document, None), None)
    assert document["copy"] == {"required": False}
    assert support.audit_items("op-unit")[-1]["status"] == "SKIPPED"


def test_check_copy_loops_until_available(
    world: World, make_document: DocumentFactory, rds_script: RdsScript
) -> None:
    document = copy_snapshot.handler(with_snapshot(make_document), None)
    rds_script.script_snapshot(document["copy"]["snapshot_id"], "copying", "copying")
    polls = []
    for _ in range(3):
        document = check_copy.handler(document, None)
        polls.append((document["poll"]["attempt"], document["poll"]["ready"]))
    assert polls == [(1, False), (2, False), (3, True)]
    assert document["copy"]["status"] == "available"


def test_check_copy_fails_on_a_failed_or_vanished_copy(
    world: World, make_document: DocumentFactory, rds_script: RdsScript
) -> None:
    document = copy_snapshot.handler(with_snapshot(make_document), None)
    copy_id = document["copy"]["snapshot_id"]
    rds_script.script_snapshot(copy_id, "failed")
    with pytest.raises(CopyFailed, match="is failed"):
        check_copy.handler(document, None)
    support.rds().delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=copy_id)
    with pytest.raises(CopyFailed, match="disappeared"):
        check_copy.handler(document, None)
