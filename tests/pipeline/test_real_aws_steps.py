"""What a real account would reject, refused by our steps before anything is copied (issue
"Real AWS, right the first time"): snapshot provenance, engine versions, encryption keys, the
target's state and kind, Aurora Serverless v2. Unit level (handlers called directly) and end
to end on moto's interpreter, all with the AWS-rules layer on."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

import pytest

from handlers import check_target, copy_snapshot, create_instances, find_snapshot, restore_cluster
from handlers.lib import naming, restore
from handlers.lib.errors import (
    SnapshotIncompatible,
    SnapshotKeyUnusable,
    SnapshotNotFound,
    TargetNotAvailable,
    TargetUnsupported,
)

from . import support
from .aws_rules import AwsRules
from .support import REGION, SOURCE, SOURCE_REGION, TARGET, DocumentFactory, World

OTHER_ACCOUNT = "222222222222"


def snapshot(snapshot_id: str, cluster_id: str = SOURCE, region: str = SOURCE_REGION) -> Any:
    return support.rds(region).create_db_cluster_snapshot(
        DBClusterIdentifier=cluster_id, DBClusterSnapshotIdentifier=snapshot_id
    )["DBClusterSnapshot"]


def copies() -> list[str]:
    found = support.rds().describe_db_cluster_snapshots()["DBClusterSnapshots"]
    return [
        s["DBClusterSnapshotIdentifier"]
        for s in found
        if "-src-" in s["DBClusterSnapshotIdentifier"]
    ]


def given(make_document: DocumentFactory, snapshot_id: str) -> dict[str, Any]:
    return make_document(request={"snapshot_id": snapshot_id, "requested_by": "dba"})


def shared_from_other_account(cluster_id: str = SOURCE, region: str = SOURCE_REGION) -> str:
    """A same-named cluster's snapshot in another account, shared with ours: its ARN."""
    from moto.rds.models import rds_backends

    os.environ["MOTO_ACCOUNT_ID"] = OTHER_ACCOUNT
    try:
        support.create_cluster(cluster_id, region, tags=None, instances=0)
        made = snapshot(f"{cluster_id}-theirs", cluster_id, region)
    finally:
        del os.environ["MOTO_ACCOUNT_ID"]
    owner = rds_backends[OTHER_ACCOUNT][region].cluster_snapshots[f"{cluster_id}-theirs"]
    owner.attributes["restore"] = [support.ACCOUNT]
    return str(made["DBClusterSnapshotArn"])


# --- 9.6: the snapshot is of the configured source (cluster, region, account) ------------


def test_same_named_cluster_in_another_region_is_refused_by_arn_and_by_id(
    world: World, make_document: DocumentFactory
) -> None:
    support.create_cluster(SOURCE, REGION, tags=None, instances=0)  # same name, target region
    elsewhere = snapshot("prod-orders-here", SOURCE, REGION)
    with pytest.raises(
        SnapshotIncompatible, match=r"us-east-1/.*configured source is in us-west-2"
    ):
        find_snapshot.handler(given(make_document, elsewhere["DBClusterSnapshotArn"]), None)
    # a plain id is looked up in the source region only: that one is not there
    with pytest.raises(SnapshotNotFound, match="prod-orders-here not found in us-west-2"):
        find_snapshot.handler(given(make_document, "prod-orders-here"), None)
    assert copies() == []


def test_same_named_cluster_in_another_account_is_refused_by_arn(
    world: World, make_document: DocumentFactory
) -> None:
    theirs = shared_from_other_account()
    with pytest.raises(SnapshotIncompatible, match=f"{OTHER_ACCOUNT}, but the configured source"):
        find_snapshot.handler(given(make_document, theirs), None)
    assert copies() == []


def test_plain_id_cannot_name_another_accounts_snapshot(
    world: World, make_document: DocumentFactory
) -> None:
    """Source in another account: a plain id would find a same-named snapshot of *ours*."""
    document = given(make_document, world.snapshot_id)  # exists in our account's source region
    document["settings"]["source"]["account_id"] = OTHER_ACCOUNT
    with pytest.raises(SnapshotIncompatible, match="give the ARN"):
        find_snapshot.handler(document, None)


def test_shared_snapshot_of_the_configured_source_is_accepted(
    world: World, make_document: DocumentFactory
) -> None:
    theirs = shared_from_other_account()
    document = given(make_document, theirs)
    document["settings"]["source"].update(account_id=OTHER_ACCOUNT, kms_key_id=None)
    chosen = find_snapshot.handler(document, None)["snapshot"]
    assert (chosen["account_id"], chosen["region"], chosen["arn"]) == (
        OTHER_ACCOUNT,
        SOURCE_REGION,
        theirs,
    )


def test_provenance_refused_end_to_end_before_any_copy(world: World, router: None) -> None:
    theirs = shared_from_other_account()
    arn = support.deploy(world)
    result = support.run(arn, "provenance", {"snapshot_id": theirs, "requested_by": "dba"})
    assert result["status"] == "FAILED"
    assert json.loads(result["cause"])["errorType"] == "SnapshotIncompatible"
    assert "CopySnapshot" not in support.entered_states(result["executionArn"])
    assert copies() == []


# --- engine versions ----------------------------------------------------------------------


def version_world(version: str) -> None:
    support.create_cluster("prod-v", SOURCE_REGION, tags=None, instances=0)
    from moto.rds.models import rds_backends

    rds_backends[support.ACCOUNT][SOURCE_REGION].clusters["prod-v"].engine_version = version
    snapshot("prod-v-1", "prod-v")


def version_document(make_document: DocumentFactory, configured: str, upgrade: bool = False) -> Any:
    document = given(make_document, "prod-v-1")
    document["settings"]["source"]["cluster_id"] = "prod-v"
    document["settings"]["target"].update(
        engine_version=configured, allow_major_version_upgrade=upgrade
    )
    return document


@pytest.mark.parametrize(
    ("snapshot_version", "configured", "restored"),
    [("15.6", "15.4", "15.6"), ("15.4", "15.8", "15.8"), ("15.4", "15.4", "15.4")],
)
def test_restore_version_is_never_below_the_snapshots(
    world: World,
    make_document: DocumentFactory,
    snapshot_version: str,
    configured: str,
    restored: str,
) -> None:
    version_world(snapshot_version)
    document = find_snapshot.handler(version_document(make_document, configured), None)
    assert document["snapshot"]["restore_engine_version"] == restored
    params = restore.restore_parameters(document, "x", "y")
    assert params["EngineVersion"] == restored


def test_major_versions_must_match_unless_an_upgrade_is_asked_for(
    world: World, make_document: DocumentFactory
) -> None:
    version_world("14.9")
    with pytest.raises(SnapshotIncompatible, match=r"14\.9.*15\.4.*allow_major_version_upgrade"):
        find_snapshot.handler(version_document(make_document, "15.4"), None)
    document = find_snapshot.handler(version_document(make_document, "15.4", upgrade=True), None)
    assert document["snapshot"]["restore_engine_version"] == "15.4"


def test_a_final_snapshot_is_restored_at_its_own_version(
    world: World, make_document: DocumentFactory
) -> None:
    """The undo of `replace` brings the target back from its final snapshot: at that snapshot's
    version, not the production snapshot's; after a major upgrade run, without the configured
    (new major's) parameter group. End to end: test_never_lose."""
    from handlers.lib import undo

    version_world("14.9")
    document = version_document(make_document, "15.4", upgrade=True)
    document["settings"]["target"]["parameter_group"] = "orders-pg15"
    document = find_snapshot.handler(document, None)
    work = undo._Pass(document, datetime.now(timezone.utc))
    same_major = work.final_restore_parameters({"EngineVersion": "15.6"})
    assert same_major["EngineVersion"] == "15.6"
    assert same_major["DBClusterParameterGroupName"] == "orders-pg15"
    older_major = work.final_restore_parameters({"EngineVersion": "14.9"})
    assert older_major["EngineVersion"] == "14.9"
    assert "DBClusterParameterGroupName" not in older_major


def test_a_newer_major_snapshot_is_refused_naming_both(
    world: World, make_document: DocumentFactory
) -> None:
    version_world("16.2")
    with pytest.raises(SnapshotIncompatible, match=r"16\.2.*15\.4"):
        find_snapshot.handler(version_document(make_document, "15.4", upgrade=True), None)


# --- encryption keys ---------------------------------------------------------------------


def test_encrypted_copy_needs_the_configured_source_key(
    world: World, make_document: DocumentFactory
) -> None:
    document = make_document()
    document["settings"]["source"]["kms_key_id"] = None
    with pytest.raises(SnapshotKeyUnusable, match=f"set it to {world.source_kms}"):
        find_snapshot.handler(document, None)
    other = support.client("kms", SOURCE_REGION).create_key()["KeyMetadata"]["Arn"]
    document["settings"]["source"]["kms_key_id"] = other
    with pytest.raises(SnapshotKeyUnusable, match=r"not with source.kms_key_id"):
        find_snapshot.handler(document, None)


def test_cross_account_key_error_explains_aws_rds(
    world: World, make_document: DocumentFactory
) -> None:
    theirs = shared_from_other_account()
    from moto.rds.models import rds_backends

    shared = rds_backends[OTHER_ACCOUNT][SOURCE_REGION].cluster_snapshots["prod-orders-theirs"]
    shared.encrypted = shared.storage_encrypted = True
    shared.kms_key_id = f"arn:aws:kms:{SOURCE_REGION}:{OTHER_ACCOUNT}:key/default-rds"
    document = given(make_document, theirs)
    document["settings"]["source"].update(
        account_id=OTHER_ACCOUNT,
        kms_key_id=f"arn:aws:kms:{SOURCE_REGION}:{OTHER_ACCOUNT}:key/customer",
    )
    with pytest.raises(
        SnapshotKeyUnusable, match=r"aws/rds key cannot be shared|aws/rds key: only"
    ):
        find_snapshot.handler(document, None)


def test_encrypted_copy_across_regions_needs_a_target_key(
    world: World, make_document: DocumentFactory
) -> None:
    document = make_document()
    document["settings"]["target"]["kms_key_id"] = None
    with pytest.raises(SnapshotKeyUnusable, match=r"set target.kms_key_id"):
        find_snapshot.handler(document, None)


def test_unencrypted_source_is_copied_without_a_key_and_encrypted_at_restore(
    world: World, make_document: DocumentFactory, aws_rules: AwsRules
) -> None:
    support.create_cluster("prod-plain", SOURCE_REGION, tags=None, instances=0)
    snapshot("prod-plain-1", "prod-plain")
    document = given(make_document, "prod-plain-1")
    document["settings"]["source"].update(cluster_id="prod-plain", kms_key_id=None)
    for step in (find_snapshot, copy_snapshot, restore_cluster):
        document = step.handler(document, None)
    copy_id = naming.copy_snapshot_id(TARGET, "op-unit")
    made = support.rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=copy_id)[
        "DBClusterSnapshots"
    ][0]
    assert made["StorageEncrypted"] is False  # no KmsKeyId on the copy (AWS would refuse it)
    restored = support.cluster(document["staging_cluster_id"])
    assert restored is not None
    assert restored["StorageEncrypted"] is True and restored["KmsKeyId"] == world.target_kms
    assert aws_rules.fired["kms_on_unencrypted_copy"] == 0


# --- 7 / 9.8: the target's state and kind, refused before anything is copied ------------


def test_stopped_target_is_refused_naming_the_state(
    world: World, make_document: DocumentFactory
) -> None:
    support.rds().stop_db_cluster(DBClusterIdentifier=TARGET)
    with pytest.raises(TargetNotAvailable, match=r"'stopped', not 'available'.*start-db-cluster"):
        check_target.handler(make_document(), None)


@pytest.mark.parametrize("state", ["modifying", "renaming", "backing-up"])
def test_busy_target_is_refused(
    world: World, make_document: DocumentFactory, rds_script: Any, state: str
) -> None:
    rds_script.script_cluster(TARGET, state)
    with pytest.raises(TargetNotAvailable, match=f"'{state}'"):
        check_target.handler(make_document(), None)


def test_target_with_an_rds_managed_password_is_refused(
    world: World, make_document: DocumentFactory
) -> None:
    support.rds().create_db_cluster(
        DBClusterIdentifier="dev-managed",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="postgres",
        ManageMasterUserPassword=True,
        Tags=support.MANAGED_TAGS,
    )
    document = make_document()
    document["settings"]["target"]["cluster_id"] = "dev-managed"
    with pytest.raises(TargetUnsupported, match="ManageMasterUserPassword"):
        check_target.handler(document, None)


def test_stopped_target_fails_the_run_at_check_target_before_any_copy(
    world: World, router: None
) -> None:
    support.rds().stop_db_cluster(DBClusterIdentifier=TARGET)
    arn = support.deploy(world)
    result = support.run(arn, "stopped-target")
    assert result["status"] == "FAILED"
    cause = json.loads(result["cause"])
    assert cause["errorType"] == "TargetNotAvailable" and "stopped" in cause["errorMessage"]
    states = support.entered_states(result["executionArn"])
    assert "FindSnapshot" not in states and "CopySnapshot" not in states
    assert copies() == []
    assert support.lock_item() is None
    assert support.cluster(TARGET)["Status"] == "stopped"  # type: ignore[index]


# --- 9: Aurora Serverless v2 ---------------------------------------------------------------


def test_serverless_target_gets_its_scaling_configuration(
    world: World, make_document: DocumentFactory, aws_rules: AwsRules
) -> None:
    document = make_document()
    document["settings"]["target"].update(
        instance_class="db.serverless", serverless={"min_capacity": 0.5, "max_capacity": 8.0}
    )
    for step in (find_snapshot, copy_snapshot, restore_cluster, create_instances):
        document = step.handler(document, None)
    restored = support.cluster(document["staging_cluster_id"])
    assert restored is not None
    assert restored["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 8.0}
    instance = support.rds().describe_db_instances(
        DBInstanceIdentifier=document["instance_ids"][0]
    )["DBInstances"][0]
    assert instance["DBInstanceClass"] == "db.serverless"
    assert aws_rules.fired["serverless_without_scaling"] == 0


def test_serverless_refresh_end_to_end(world: World, router: None) -> None:
    settings = support.make_settings(
        world.target_kms,
        world.source_kms,
        instance_class="db.serverless",
        serverless={"min_capacity": 0.5, "max_capacity": 4.0},
    )
    arn = support.deploy(world, settings=settings)
    result = support.run(arn, "serverless")
    assert result["status"] == "SUCCEEDED", result.get("cause")
    cluster = support.cluster(TARGET)
    assert cluster is not None
    assert cluster["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4.0


def test_copy_step_refuses_an_encrypted_cross_region_copy_without_a_target_key(
    world: World, make_document: DocumentFactory, aws_rules: AwsRules
) -> None:
    """Defence in depth behind FindSnapshot: no request AWS would refuse is ever sent."""
    document = find_snapshot.handler(make_document(), None)
    document["settings"]["target"]["kms_key_id"] = None
    with pytest.raises(SnapshotKeyUnusable, match=r"set target\.kms_key_id"):
        copy_snapshot.handler(document, None)
    assert copies() == [] and aws_rules.fired["encrypted_copy_needs_key"] == 0
