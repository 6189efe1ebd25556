"""swap_out_target, check_rename, swap_in_staging, delete_old_cluster, check_delete, finalize."""

from __future__ import annotations

import json

import pytest

from handlers import (
    check_delete,
    check_rename,
    copy_snapshot,
    create_instances,
    delete_old_cluster,
    finalize,
    find_snapshot,
    restore_cluster,
    swap_in_staging,
    swap_out_target,
    undo_changes,
)
from handlers.lib import naming
from handlers.lib.errors import RestoreFailed, SwapFailed, UnsafeTarget

from . import support
from .aws_rules import AwsRules
from .moto_patches import RdsScript
from .support import MANAGED_TAGS, REGION, TARGET, DocumentFactory, World

STAGING = naming.staging_cluster_id(TARGET, "op-unit")
OLD = naming.old_cluster_id(TARGET, "op-unit")


def restored(make_document: DocumentFactory, **target: object) -> dict:
    document = make_document()
    document["settings"]["target"].update(target)
    for step in (find_snapshot, copy_snapshot, restore_cluster, create_instances):
        document = step.handler(document, None)
    return document


def settled(document: dict) -> dict:
    """CheckRename until the rename settled (renames are asynchronous on AWS: aws_rules)."""
    for _ in range(10):
        document = check_rename.handler(document, None)
        if document["poll"]["ready"]:
            return document
    raise AssertionError(f"the rename did not settle: {document['poll']}")


def swapped(document: dict) -> dict:
    document = settled(swap_out_target.handler(document, None))
    return settled(swap_in_staging.handler(document, None))


def members(cluster_id: str) -> list[str]:
    cluster = support.cluster(cluster_id)
    assert cluster is not None, cluster_id
    return sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"])


def operation_tag(cluster_id: str) -> str | None:
    cluster = support.cluster(cluster_id)
    tags = {t["Key"]: t["Value"] for t in (cluster or {}).get("TagList", [])}
    return tags.get("aurora-restore:operation")


def test_swap_renames_both_and_keeps_the_endpoint_name(
    world: World, make_document: DocumentFactory
) -> None:
    old_arn = support.cluster(TARGET)["DBClusterArn"]  # type: ignore[index]
    document = swap_out_target.handler(restored(make_document), None)
    assert document["old_cluster_id"] == OLD
    assert document["rename"] == {"from": TARGET, "to": OLD}
    # On AWS the rename takes a while: the old id still resolves and the check waits.
    document = check_rename.handler(document, None)
    assert document["poll"]["ready"] is False and document["poll"]["what"] == "swap-out"
    document = settled(document)
    assert support.cluster(TARGET) is None and members(OLD) == [f"{TARGET}-1"]
    document = settled(swap_in_staging.handler(document, None))
    assert document["poll"]["what"] == "swap-in" and document["poll"]["status"] == "available"
    assert operation_tag(TARGET) == "op-unit"
    assert support.cluster(TARGET)["Endpoint"].startswith(f"{TARGET}.")  # type: ignore[index]
    assert support.cluster(STAGING) is None
    assert support.cluster(OLD)["DBClusterArn"] != old_arn  # type: ignore[index]


def test_check_rename_waits_while_the_rename_settles(
    world: World, make_document: DocumentFactory, rds_script: RdsScript
) -> None:
    document = swap_out_target.handler(restored(make_document), None)
    rds_script.script_cluster(OLD, "renaming", "renaming")
    readiness = []
    for _ in range(3):
        document = check_rename.handler(document, None)
        readiness.append((document["poll"]["attempt"], document["poll"]["status"]))
    still = f"renaming; {TARGET} still present"  # the old id resolves while renaming (AWS)
    assert readiness == [(1, still), (2, still), (3, "available")]


def test_swap_out_refuses_an_untagged_target_and_changes_nothing(
    world: World, make_document: DocumentFactory
) -> None:
    document = restored(make_document)
    arn = support.cluster(TARGET)["DBClusterArn"]  # type: ignore[index]
    support.rds().remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-restore:env"])
    with pytest.raises(UnsafeTarget, match="lacks the tags"):
        swap_out_target.handler(document, None)
    assert support.cluster(TARGET)["DBClusterArn"] == arn  # type: ignore[index]
    assert support.cluster(OLD) is None


def test_swap_out_refuses_when_the_old_id_is_taken(
    world: World, make_document: DocumentFactory
) -> None:
    document = restored(make_document)
    support.create_cluster(OLD, REGION, tags=MANAGED_TAGS, instances=0)
    with pytest.raises(SwapFailed, match="already exists"):
        swap_out_target.handler(document, None)
    assert support.cluster(TARGET) is not None


def test_swap_without_a_current_target(world: World, make_document: DocumentFactory) -> None:
    document = restored(make_document)
    support.rds().delete_db_instance(DBInstanceIdentifier=f"{TARGET}-1")
    support.rds().delete_db_cluster(DBClusterIdentifier=TARGET, SkipFinalSnapshot=True)
    document = swapped(document)
    assert document["old_cluster_id"] is None and operation_tag(TARGET) == "op-unit"
    items = support.audit_items("op-unit")
    assert [i["status"] for i in items if i["step"] == "swap-out-target"] == ["SKIPPED"]
    document = delete_old_cluster.handler(document, None)
    assert support.audit_items("op-unit")[-1]["status"] == "SKIPPED"


def test_failed_swap_in_is_undone_by_renaming_the_old_target_back(
    world: World,
    make_document: DocumentFactory,
    monkeypatch: pytest.MonkeyPatch,
    aws_rules: AwsRules,
) -> None:
    document = settled(swap_out_target.handler(restored(make_document), None))
    from moto.rds.models import RDSBackend

    modify = RDSBackend.modify_db_cluster

    def failing(self: RDSBackend, kwargs: dict) -> object:
        if kwargs.get("db_cluster_identifier") == STAGING:
            raise RuntimeError("simulated rename failure")
        return modify(self, kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_cluster", failing)
    with pytest.raises(Exception, match="simulated rename failure"):
        swap_in_staging.handler(document, None)
    assert support.cluster(TARGET) is None  # the failure path undoes it, not the step
    monkeypatch.setattr(RDSBackend, "modify_db_cluster", modify)
    document = undo_changes.handler({**document, "error": {"Error": "SwapFailed"}}, None)
    assert f"renamed {OLD} back to {TARGET}" in document["undo"]["actions"]
    aws_rules.settle()  # the rename back is asynchronous on AWS too
    assert operation_tag(TARGET) is None and members(TARGET) == [f"{TARGET}-1"]
    assert support.cluster(OLD) is None and support.cluster(STAGING) is not None


def test_swap_in_refuses_while_the_target_id_is_taken(
    world: World, make_document: DocumentFactory
) -> None:
    document = restored(make_document)
    document["old_cluster_id"] = None
    with pytest.raises(SwapFailed, match="still exists"):
        swap_in_staging.handler(document, None)
    assert support.cluster(STAGING) is not None and operation_tag(TARGET) is None


def test_delete_old_cluster_after_swap(world: World, make_document: DocumentFactory) -> None:
    document = delete_old_cluster.handler(swapped(restored(make_document)), None)
    assert support.cluster(OLD) is None
    assert document["deleted_cluster_id"] == OLD
    assert f"{TARGET}-1" not in {
        i["DBInstanceIdentifier"] for i in support.rds().describe_db_instances()["DBInstances"]
    }
    assert members(TARGET) == [naming.instance_id(TARGET, "op-unit", 1)]
    document = check_delete.handler(document, None)
    assert document["poll"]["ready"] is True and document["poll"]["status"] == "deleted"


def test_delete_takes_a_final_snapshot_when_configured(
    world: World, make_document: DocumentFactory
) -> None:
    document = swapped(restored(make_document, final_snapshot=True))
    document = delete_old_cluster.handler(document, None)
    final = naming.final_snapshot_id(TARGET, "op-unit")
    assert document["final_snapshot_id"] == final == f"{TARGET}-final-{naming.token('op-unit')}"
    (snapshot,) = support.rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)[
        "DBClusterSnapshots"
    ]
    tags = {t["Key"]: t["Value"] for t in snapshot["TagList"]}
    assert tags["aurora-restore:kind"] == "final-snapshot"
    assert tags["aurora-restore:operation"] == "op-unit" and tags["aurora-restore:env"] == "dev"


def test_a_retried_delete_still_gets_its_final_snapshot_tagged(
    world: World, make_document: DocumentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invocation that deleted the old cluster died before tagging its final snapshot; the
    retry finds the cluster gone (SKIPPED) and CheckOldDeleted tags the snapshot that delete
    made (it names the deleted cluster: ours to tag)."""
    from handlers.lib import clusters

    document = swapped(restored(make_document, final_snapshot=True))
    retry = json.loads(json.dumps(document))
    tag_final = clusters.Writes.tag_final_snapshot

    def dies(*args: object) -> bool:
        raise TimeoutError("the invocation timed out after the delete")

    monkeypatch.setattr(clusters.Writes, "tag_final_snapshot", dies)
    with pytest.raises(TimeoutError):
        delete_old_cluster.handler(document, None)
    monkeypatch.setattr(clusters.Writes, "tag_final_snapshot", tag_final)
    document = check_delete.handler(delete_old_cluster.handler(retry, None), None)
    assert document["poll"]["ready"] is True
    final = naming.final_snapshot_id(TARGET, "op-unit")
    assert support.manual_snapshots()[final]["aurora-restore:kind"] == "final-snapshot"


@pytest.mark.parametrize("problem", ["untagged", "protected", "foreign-id"])
def test_delete_guard_refuses_and_deletes_nothing(
    world: World, make_document: DocumentFactory, problem: str
) -> None:
    document = swapped(restored(make_document))
    if problem == "untagged":
        arn = support.cluster(OLD)["DBClusterArn"]  # type: ignore[index]
        support.rds().remove_tags_from_resource(
            ResourceName=arn, TagKeys=["aurora-restore:managed-by"]
        )
    elif problem == "protected":
        document["settings"]["target"]["protected_cluster_ids"].append(OLD)
    else:
        support.create_cluster("dev-reporting", REGION, tags=MANAGED_TAGS)
        document["old_cluster_id"] = "dev-reporting"
    before = support.cluster_ids()
    with pytest.raises(UnsafeTarget):
        delete_old_cluster.handler(document, None)
    assert support.cluster_ids() == before
    victim = "dev-reporting" if problem == "foreign-id" else OLD
    assert members(victim)  # its instances are still there


def test_deletion_protection_is_lifted_only_if_we_set_it(
    world: World, make_document: DocumentFactory
) -> None:
    document = swapped(restored(make_document))
    support.rds().modify_db_cluster(
        DBClusterIdentifier=OLD, DeletionProtection=True, ApplyImmediately=True
    )
    with pytest.raises(UnsafeTarget, match="did not set"):
        delete_old_cluster.handler(document, None)
    assert support.cluster(OLD) is not None
    # A cluster restored by an earlier operation, with protection asked for in the config.
    support.rds().add_tags_to_resource(
        ResourceName=support.cluster(OLD)["DBClusterArn"],  # type: ignore[index]
        Tags=[{"Key": "aurora-restore:operation", "Value": "op-earlier"}],
    )
    document["settings"]["target"]["deletion_protection"] = True
    delete_old_cluster.handler(document, None)
    assert support.cluster(OLD) is None


def test_replace_deletes_the_target_first(world: World, make_document: DocumentFactory) -> None:
    document = make_document()
    document["settings"]["target"]["strategy"] = "replace"
    document = delete_old_cluster.handler(document, None)
    assert document["deleted_cluster_id"] == TARGET and support.cluster(TARGET) is None


def test_replace_refuses_an_untagged_target(world: World, make_document: DocumentFactory) -> None:
    arn = support.cluster(TARGET)["DBClusterArn"]  # type: ignore[index]
    support.rds().remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-restore:managed-by"])
    document = make_document()
    document["settings"]["target"]["strategy"] = "replace"
    with pytest.raises(UnsafeTarget):
        delete_old_cluster.handler(document, None)
    assert support.cluster(TARGET) is not None


def test_finalize_deletes_our_copy_and_points_the_app_secret_at_the_cluster(
    world: World, make_document: DocumentFactory
) -> None:
    document = delete_old_cluster.handler(swapped(restored(make_document)), None)
    copy_id = document["copy"]["snapshot_id"]
    document = finalize.handler(document, None)
    with pytest.raises(support.rds().exceptions.DBClusterSnapshotNotFoundFault):
        support.rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=copy_id)
    endpoint = support.cluster(TARGET)["Endpoint"]  # type: ignore[index]
    app = json.loads(support.secret_values()[support.APP_SECRET])
    assert app == {
        "host": endpoint,
        "port": 5432,
        "dbname": "orders",
        "users": {"orders_app": support.APP_PASSWORD},
    }
    assert document["result"]["endpoint"] == endpoint and document["result"]["copy_deleted"]


def test_finalize_keeps_the_copy_when_configured(
    world: World, make_document: DocumentFactory
) -> None:
    document = swapped(restored(make_document, delete_copied_snapshot=False))
    document = finalize.handler(document, None)
    assert document["result"]["copy_deleted"] is False
    assert support.rds().describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=document["copy"]["snapshot_id"]
    )["DBClusterSnapshots"]


def test_finalize_refuses_when_the_target_is_not_ours(
    world: World, make_document: DocumentFactory
) -> None:
    with pytest.raises(RestoreFailed, match="not the cluster this operation restored"):
        finalize.handler(restored(make_document), None)
