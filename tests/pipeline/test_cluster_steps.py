"""check_target, restore_cluster, create_instances, check_restore, reset_master_password."""

from __future__ import annotations

import json

import pytest

from handlers import (
    check_restore,
    check_target,
    copy_snapshot,
    create_instances,
    find_snapshot,
    reset_master_password,
    restore_cluster,
)
from handlers.lib import naming
from handlers.lib.errors import RestoreFailed, UnsafeTarget

from . import support
from .moto_patches import RdsScript
from .support import MANAGED_TAGS, REGION, TARGET, DocumentFactory, World

STAGING = naming.staging_cluster_id(TARGET, "op-unit")


def untag_target() -> None:
    arn = support.cluster(TARGET)["DBClusterArn"]  # type: ignore[index]
    support.rds().remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-restore:managed-by"])


def test_check_target_accepts_a_managed_target(
    world: World, make_document: DocumentFactory
) -> None:
    check_target.handler(make_document(), None)
    details = support.audit_items("op-unit")[0]["details"]
    assert details["target_exists"] is True and details["strategy"] == "swap"


def test_check_target_accepts_a_missing_target(
    world: World, make_document: DocumentFactory
) -> None:
    document = make_document()
    document["settings"]["target"]["cluster_id"] = "dev-new"
    check_target.handler(document, None)


def test_check_target_refuses_untagged(world: World, make_document: DocumentFactory) -> None:
    untag_target()
    with pytest.raises(UnsafeTarget, match="lacks the tags"):
        check_target.handler(make_document(), None)


def test_check_target_refuses_another_envs_cluster(
    world: World, make_document: DocumentFactory
) -> None:
    document = make_document()
    document["settings"]["env"] = "staging"
    with pytest.raises(UnsafeTarget, match="aurora-restore:env=staging"):
        check_target.handler(document, None)


def test_check_target_refuses_protected(world: World, make_document: DocumentFactory) -> None:
    document = make_document()
    document["settings"]["target"]["protected_cluster_ids"].append(TARGET.upper())
    with pytest.raises(UnsafeTarget, match="protected"):
        check_target.handler(document, None)


def test_check_target_refuses_the_source(world: World, make_document: DocumentFactory) -> None:
    document = make_document()
    document["settings"]["target"]["cluster_id"] = support.SOURCE
    document["settings"]["target"]["protected_cluster_ids"] = []
    with pytest.raises(UnsafeTarget, match="is the source"):
        check_target.handler(document, None)


def test_check_target_refuses_deletion_protection_we_did_not_set(
    world: World, make_document: DocumentFactory
) -> None:
    support.rds().modify_db_cluster(
        DBClusterIdentifier=TARGET, DeletionProtection=True, ApplyImmediately=True
    )
    with pytest.raises(UnsafeTarget, match="deletion protection"):
        check_target.handler(make_document(), None)


def test_check_target_refuses_a_taken_staging_id(
    world: World, make_document: DocumentFactory
) -> None:
    support.create_cluster(STAGING, REGION, tags=MANAGED_TAGS, instances=0)
    with pytest.raises(UnsafeTarget, match="already taken"):
        check_target.handler(make_document(), None)


def copied(make_document: DocumentFactory, **target: object) -> dict:
    document = make_document()
    document["settings"]["target"].update(target)
    return copy_snapshot.handler(find_snapshot.handler(document, None), None)


def test_restore_uses_the_target_configuration_and_our_tags(
    world: World, make_document: DocumentFactory
) -> None:
    document = restore_cluster.handler(copied(make_document, deletion_protection=True), None)
    assert document["staging_cluster_id"] == STAGING
    cluster = support.cluster(STAGING)
    assert cluster is not None
    assert cluster["Engine"] == "aurora-postgresql" and cluster["EngineVersion"] == "15.4"
    assert cluster["Port"] == 5432 and cluster["KmsKeyId"] == world.target_kms
    # Protection comes once it serves (finalize): a failed run's clean-up must delete it.
    assert cluster["DeletionProtection"] is False
    assert cluster["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [
        "sg-0a1b2c3d4e5f60718"
    ]
    tags = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert tags == {
        "aurora-restore:managed-by": "aurora-restore",
        "aurora-restore:env": "dev",
        "aurora-restore:operation": "op-unit",
    }
    # The target keeps serving meanwhile.
    assert support.cluster(TARGET)["TagList"] == world_target_tags()  # type: ignore[index]


def world_target_tags() -> list[dict[str, str]]:
    return [*MANAGED_TAGS, {"Key": "team", "Value": "dev"}]


def test_restore_reuses_its_own_cluster_and_refuses_others(
    world: World, make_document: DocumentFactory
) -> None:
    document = restore_cluster.handler(copied(make_document), None)
    restore_cluster.handler(document, None)
    assert support.audit_items("op-unit")[-1]["details"]["action"] == "reused"
    other = make_document("op-other")
    other["copy"], other["snapshot"] = document["copy"], document["snapshot"]
    support.create_cluster(
        naming.staging_cluster_id(TARGET, "op-other"), REGION, tags=MANAGED_TAGS, instances=0
    )
    with pytest.raises(RestoreFailed, match="already exists"):
        restore_cluster.handler(other, None)


def test_replace_strategy_restores_under_the_target_id(
    world: World, make_document: DocumentFactory
) -> None:
    document = copied(make_document, strategy="replace")
    support.rds().delete_db_instance(DBInstanceIdentifier=f"{TARGET}-1")
    support.rds().delete_db_cluster(DBClusterIdentifier=TARGET, SkipFinalSnapshot=True)
    document = restore_cluster.handler(document, None)
    assert document["staging_cluster_id"] == TARGET


def test_instances_and_the_wait_for_them(
    world: World, make_document: DocumentFactory, rds_script: RdsScript
) -> None:
    document = restore_cluster.handler(copied(make_document, instance_count=2), None)
    rds_script.script_cluster(STAGING, "creating")
    document = check_restore.handler(document, None)
    assert document["poll"] == {
        "what": "restore",
        "attempt": 1,
        "ready": False,
        "status": "cluster creating",
        "wait_seconds": 1,  # the restore loop's poll_seconds (DocumentFactory's pipeline block)
        "waited_seconds": 1,
    }
    document = check_restore.handler(document, None)
    assert document["poll"]["ready"] is True and document["poll"]["attempt"] == 2
    document = create_instances.handler(document, None)
    assert document["instance_ids"] == [naming.instance_id(TARGET, "op-unit", n) for n in (1, 2)]
    assert document["poll"]["what"] == "instances" and document["poll"]["attempt"] == 0
    members = support.cluster(STAGING)["DBClusterMembers"]  # type: ignore[index]
    assert sorted(m["DBInstanceIdentifier"] for m in members) == document["instance_ids"]
    create_instances.handler(document, None)  # idempotent
    assert len(support.cluster(STAGING)["DBClusterMembers"]) == 2  # type: ignore[index]
    document = check_restore.handler(document, None)
    assert document["poll"]["ready"] is True
    assert document["staging_endpoint"]["address"].startswith(STAGING)


def test_check_restore_waits_for_missing_instances_and_fails_on_bad_states(
    world: World, make_document: DocumentFactory, rds_script: RdsScript
) -> None:
    document = restore_cluster.handler(copied(make_document), None)
    document["instance_ids"] = ["not-created-yet"]
    document = check_restore.handler(document, None)
    assert (
        document["poll"]["ready"] is False
        and "not-created-yet missing" in (document["poll"]["status"])
    )
    rds_script.script_cluster(STAGING, "incompatible-restore")
    with pytest.raises(RestoreFailed, match="incompatible-restore"):
        check_restore.handler(document, None)


def restored(make_document: DocumentFactory) -> dict:
    document = restore_cluster.handler(copied(make_document), None)
    return create_instances.handler(document, None)


def test_master_password_is_new_secret_and_never_exposed(
    world: World, make_document: DocumentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.rds.models import RDSBackend

    applied: list[str] = []
    modify = RDSBackend.modify_db_cluster

    def recording(self: RDSBackend, kwargs: dict) -> object:
        if "master_user_password" in kwargs:
            applied.append(kwargs["master_user_password"])
        return modify(self, kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_cluster", recording)
    sm = support.client("secretsmanager")
    before = sm.get_secret_value(SecretId=support.MASTER_SECRET)
    document = reset_master_password.handler(restored(make_document), None)
    version = reset_master_password.version_id("op-unit")
    assert document["master_secret_version"] == version
    # Staged, not promoted: AWSCURRENT still opens the target that serves (the old cluster).
    current = sm.get_secret_value(SecretId=support.MASTER_SECRET)
    assert current["VersionId"] == before["VersionId"]
    assert current["SecretString"] == before["SecretString"]
    stages = sm.describe_secret(SecretId=support.MASTER_SECRET)["VersionIdsToStages"]
    # AWSPENDING for this run's database steps; its own label for as long as it is kept.
    label = f"aurora-restore-{naming.token('op-unit')}"
    assert stages[version] == ["AWSPENDING", label]
    assert stages[before["VersionId"]] == ["AWSCURRENT"]
    pending = json.loads(
        sm.get_secret_value(SecretId=support.MASTER_SECRET, VersionStage="AWSPENDING")[
            "SecretString"
        ]
    )
    assert pending["username"] == "postgres"
    assert pending["password"] != support.OLD_MASTER_PASSWORD and len(pending["password"]) == 32
    assert not set(pending["password"]) & set(reset_master_password.EXCLUDED)
    assert applied == [pending["password"]]  # moto cannot read it back; the call is recorded
    assert pending["password"] not in json.dumps(document)
    assert pending["password"] not in json.dumps(support.audit_items("op-unit"), default=str)
    assert document["poll"]["what"] == "password"
    # A retried invocation reuses the same password (the version id derives from the operation).
    reset_master_password.handler(document, None)
    assert applied == [pending["password"]] * 2
    again = sm.get_secret_value(SecretId=support.MASTER_SECRET, VersionStage="AWSPENDING")
    assert json.loads(again["SecretString"])["password"] == pending["password"]
    by_label = sm.get_secret_value(SecretId=support.MASTER_SECRET, VersionStage=label)
    assert by_label["VersionId"] == version


def test_master_password_only_for_this_operations_cluster(
    world: World, make_document: DocumentFactory
) -> None:
    document = make_document(staging_cluster_id=TARGET)
    with pytest.raises(UnsafeTarget, match="not restored by this operation"):
        reset_master_password.handler(document, None)
    sm = support.client("secretsmanager")
    value = json.loads(sm.get_secret_value(SecretId=support.MASTER_SECRET)["SecretString"])
    assert value["password"] == support.OLD_MASTER_PASSWORD
