"""The AWS-rules layer (aws_rules.py): each rule fires on the request real AWS refuses, with
AWS's error code, and lets the correct request through. These run on plain moto calls (no
pipeline), so they show the layer itself; every other pipeline test runs with it on."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from . import support
from .aws_rules import AwsRules
from .support import REGION, SOURCE_REGION

PASSWORD = "Corr3ct-horse-battery"
OTHER_ACCOUNT = "222222222222"


def cluster(cluster_id: str, region: str = REGION, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"MasterUserPassword": PASSWORD, **extra}
    if extra.get("ManageMasterUserPassword"):
        kwargs.pop("MasterUserPassword")
    return dict(
        support.rds(region).create_db_cluster(
            DBClusterIdentifier=cluster_id,
            Engine="aurora-postgresql",
            EngineVersion=str(extra.pop("EngineVersion", "15.4")),
            MasterUsername="postgres",
            **{k: v for k, v in kwargs.items() if k != "EngineVersion"},
        )["DBCluster"]
    )


def snapshot(cluster_id: str, snapshot_id: str, region: str = REGION) -> dict[str, Any]:
    return dict(
        support.rds(region).create_db_cluster_snapshot(
            DBClusterIdentifier=cluster_id, DBClusterSnapshotIdentifier=snapshot_id
        )["DBClusterSnapshot"]
    )


def refused(rules: AwsRules, rule: str, code: str, call: Any, **kwargs: Any) -> str:
    before = rules.fired[rule]
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    assert info.value.response["Error"]["Code"] == code
    assert rules.fired[rule] == before + 1, dict(rules.fired)
    return str(info.value)


def test_kms_key_on_an_unencrypted_copy(aws: None, aws_rules: AwsRules) -> None:
    cluster("plain", SOURCE_REGION)
    source = snapshot("plain", "plain-1", SOURCE_REGION)
    key = support.client("kms").create_key()["KeyMetadata"]["Arn"]
    rds = support.rds()
    refused(
        aws_rules,
        "kms_on_unencrypted_copy",
        "InvalidParameterValue",
        rds.copy_db_cluster_snapshot,
        SourceDBClusterSnapshotIdentifier=source["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="copy-1",
        KmsKeyId=key,
        SourceRegion=SOURCE_REGION,
    )
    copied = rds.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=source["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="copy-1",
        SourceRegion=SOURCE_REGION,
    )["DBClusterSnapshot"]
    assert copied["StorageEncrypted"] is False


def test_encrypted_copy_across_regions_needs_a_key(aws: None, aws_rules: AwsRules) -> None:
    key = support.client("kms", SOURCE_REGION).create_key()["KeyMetadata"]["Arn"]
    cluster("secret", SOURCE_REGION, StorageEncrypted=True, KmsKeyId=key)
    source = snapshot("secret", "secret-1", SOURCE_REGION)
    refused(
        aws_rules,
        "encrypted_copy_needs_key",
        "InvalidParameterValue",
        support.rds().copy_db_cluster_snapshot,
        SourceDBClusterSnapshotIdentifier=source["DBClusterSnapshotArn"],
        TargetDBClusterSnapshotIdentifier="copy-2",
        SourceRegion=SOURCE_REGION,
    )


def _shared_snapshot(cluster_id: str, kind: str, key: str) -> str:
    """A snapshot of a new cluster in OTHER_ACCOUNT, shared with ours; returns its ARN."""
    from moto.rds.models import rds_backends

    rds = support.client("rds", REGION)
    cluster(cluster_id, REGION, StorageEncrypted=True, KmsKeyId=key)
    if kind == "automated":
        found = rds.describe_db_cluster_snapshots(
            DBClusterIdentifier=cluster_id, SnapshotType="automated"
        )["DBClusterSnapshots"][0]
    else:
        found = snapshot(cluster_id, f"{cluster_id}-shared")
    owner = rds_backends[OTHER_ACCOUNT][REGION]
    # as modify-db-cluster-snapshot-attribute --attribute-name restore would (moto refuses
    # nothing there either)
    owner.cluster_snapshots[found["DBClusterSnapshotIdentifier"]].attributes["restore"] = [
        support.ACCOUNT
    ]
    return str(found["DBClusterSnapshotArn"])


def test_cross_account_copy_of_automated_or_default_key_snapshots(
    aws: None, aws_rules: AwsRules
) -> None:
    os.environ["MOTO_ACCOUNT_ID"] = OTHER_ACCOUNT
    try:
        kms = support.client("kms", REGION)
        customer = kms.create_key()["KeyMetadata"]["Arn"]
        default = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
        automated = _shared_snapshot("prod-auto", "automated", customer)
        default_key = _shared_snapshot("prod-default", "manual", default)
        good = _shared_snapshot("prod-good", "manual", customer)
    finally:
        del os.environ["MOTO_ACCOUNT_ID"]
    target_key = support.client("kms").create_key()["KeyMetadata"]["Arn"]
    copy = support.rds().copy_db_cluster_snapshot
    refused(
        aws_rules,
        "shared_automated",
        "DBClusterSnapshotNotFoundFault",
        copy,
        SourceDBClusterSnapshotIdentifier=automated,
        TargetDBClusterSnapshotIdentifier="copy-a",
        KmsKeyId=target_key,
    )
    message = refused(
        aws_rules,
        "shared_default_key",
        "KMSKeyNotAccessibleFault",
        copy,
        SourceDBClusterSnapshotIdentifier=default_key,
        TargetDBClusterSnapshotIdentifier="copy-b",
        KmsKeyId=target_key,
    )
    assert "aws/rds" in message
    copied = copy(
        SourceDBClusterSnapshotIdentifier=good,
        TargetDBClusterSnapshotIdentifier="copy-c",
        KmsKeyId=target_key,
    )["DBClusterSnapshot"]
    assert copied["DBClusterSnapshotArn"].split(":")[4] == support.ACCOUNT
    assert copied["KmsKeyId"] == target_key


def test_restore_to_a_lower_engine_version(aws: None, aws_rules: AwsRules) -> None:
    cluster("newer", EngineVersion="15.6")
    snapshot("newer", "newer-1")
    rds = support.rds()
    message = refused(
        aws_rules,
        "lower_engine_version",
        "InvalidParameterCombination",
        rds.restore_db_cluster_from_snapshot,
        DBClusterIdentifier="restored",
        SnapshotIdentifier="newer-1",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
    )
    assert "15.6" in message and "15.4" in message
    restored = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="restored",
        SnapshotIdentifier="newer-1",
        Engine="aurora-postgresql",
        EngineVersion="15.6",
    )["DBCluster"]
    assert restored["EngineVersion"] == "15.6"


def test_restore_onto_an_existing_id(aws: None, aws_rules: AwsRules) -> None:
    """Two recoveries that overlap (automatic and by hand) may both restore a final snapshot
    under the target id: AWS refuses the second; moto would overwrite the first."""
    cluster("taken")
    snapshot("taken", "taken-1")
    rds = support.rds()
    refused(
        aws_rules,
        "restore_onto_existing",
        "DBClusterAlreadyExistsFault",
        rds.restore_db_cluster_from_snapshot,
        DBClusterIdentifier="taken",
        SnapshotIdentifier="taken-1",
        Engine="aurora-postgresql",
    )
    restored = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="free", SnapshotIdentifier="taken-1", Engine="aurora-postgresql"
    )["DBCluster"]
    assert restored["DBClusterIdentifier"] == "free"


def test_serverless_instance_needs_scaling_on_the_cluster(aws: None, aws_rules: AwsRules) -> None:
    cluster("provisioned")
    rds = support.rds()
    refused(
        aws_rules,
        "serverless_without_scaling",
        "InvalidParameterCombination",
        rds.create_db_instance,
        DBInstanceIdentifier="provisioned-1",
        DBClusterIdentifier="provisioned",
        Engine="aurora-postgresql",
        DBInstanceClass="db.serverless",
    )
    cluster("scaled", ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4})
    rds.create_db_instance(
        DBInstanceIdentifier="scaled-1",
        DBClusterIdentifier="scaled",
        Engine="aurora-postgresql",
        DBInstanceClass="db.serverless",
    )


def test_modify_or_rename_of_a_cluster_that_is_not_available(
    aws: None, aws_rules: AwsRules
) -> None:
    cluster("sleepy")
    rds = support.rds()
    rds.stop_db_cluster(DBClusterIdentifier="sleepy")
    for kwargs in ({"NewDBClusterIdentifier": "sleepy-old"}, {"DeletionProtection": True}):
        message = refused(
            aws_rules,
            "modify_not_available",
            "InvalidDBClusterStateFault",
            rds.modify_db_cluster,
            DBClusterIdentifier="sleepy",
            ApplyImmediately=True,
            **kwargs,
        )
        assert "stopped" in message


def test_rename_onto_an_existing_id(aws: None, aws_rules: AwsRules) -> None:
    cluster("one")
    cluster("two")
    refused(
        aws_rules,
        "rename_onto_existing",
        "DBClusterAlreadyExistsFault",
        support.rds().modify_db_cluster,
        DBClusterIdentifier="one",
        NewDBClusterIdentifier="two",
        ApplyImmediately=True,
    )
    assert support.cluster("one") is not None and support.cluster("two") is not None


def test_master_password_on_a_managed_password_cluster(aws: None, aws_rules: AwsRules) -> None:
    cluster("managed", ManageMasterUserPassword=True)
    support.rds().describe_db_clusters(DBClusterIdentifier="managed")
    refused(
        aws_rules,
        "password_on_managed",
        "InvalidParameterCombination",
        support.rds().modify_db_cluster,
        DBClusterIdentifier="managed",
        MasterUserPassword=PASSWORD,
        ApplyImmediately=True,
    )


def test_delete_rules(aws: None, aws_rules: AwsRules) -> None:
    rds = support.rds()
    cluster("busy")
    rds.create_db_instance(
        DBInstanceIdentifier="busy-1",
        DBClusterIdentifier="busy",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    refused(
        aws_rules,
        "delete_with_instances",
        "InvalidDBClusterStateFault",
        rds.delete_db_cluster,
        DBClusterIdentifier="busy",
        SkipFinalSnapshot=True,
    )
    rds.delete_db_instance(DBInstanceIdentifier="busy-1")
    refused(
        aws_rules,
        "delete_without_final_choice",
        "InvalidParameterCombination",
        rds.delete_db_cluster,
        DBClusterIdentifier="busy",
    )
    rds.stop_db_cluster(DBClusterIdentifier="busy")
    refused(
        aws_rules,
        "delete_not_available",
        "InvalidDBClusterStateFault",
        rds.delete_db_cluster,
        DBClusterIdentifier="busy",
        SkipFinalSnapshot=True,
    )
    rds.start_db_cluster(DBClusterIdentifier="busy")
    rds.delete_db_cluster(DBClusterIdentifier="busy", FinalDBSnapshotIdentifier="busy-final")
    assert support.cluster("busy") is None


def test_delete_of_a_protected_cluster(aws: None, aws_rules: AwsRules) -> None:
    cluster("guarded", DeletionProtection=True)
    rds = support.rds()
    message = refused(
        aws_rules,
        "delete_protected",
        "InvalidParameterCombination",
        rds.delete_db_cluster,
        DBClusterIdentifier="guarded",
        SkipFinalSnapshot=True,
    )
    assert "disable deletion protection" in message
    rds.modify_db_cluster(
        DBClusterIdentifier="guarded", DeletionProtection=False, ApplyImmediately=True
    )
    rds.delete_db_cluster(DBClusterIdentifier="guarded", SkipFinalSnapshot=True)
    assert support.cluster("guarded") is None


def test_renames_are_asynchronous(aws: None, aws_rules: AwsRules) -> None:
    """The new id reports `renaming` for a few polls; the old id still resolves meanwhile;
    a cluster being renamed refuses other changes; then the rename settles."""
    cluster("before")
    rds = support.rds()
    rds.modify_db_cluster(
        DBClusterIdentifier="before", NewDBClusterIdentifier="after", ApplyImmediately=True
    )
    seen = []
    for _ in range(aws_rules.rename_polls + 1):
        new = support.cluster("after")
        old = support.cluster("before")
        seen.append(
            (
                new["Status"] if new else None,
                (old["Status"], old["DBClusterIdentifier"]) if old else None,
            )
        )
    assert seen[0] == ("renaming", ("renaming", "before"))
    assert seen[-1] == ("available", None)
    rds.modify_db_cluster(
        DBClusterIdentifier="after", NewDBClusterIdentifier="again", ApplyImmediately=True
    )
    refused(
        aws_rules,
        "modify_not_available",
        "InvalidDBClusterStateFault",
        rds.modify_db_cluster,
        DBClusterIdentifier="again",
        DeletionProtection=True,
        ApplyImmediately=True,
    )


# --- clones and point-in-time restores (RestoreDBClusterToPointInTime) ----------------------


def _with_instance(cluster_id: str, region: str = REGION) -> dict[str, Any]:
    found = cluster(cluster_id, region)
    support.rds(region).create_db_instance(
        DBInstanceIdentifier=f"{cluster_id}-1",
        DBClusterIdentifier=cluster_id,
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
    )
    return found


def test_restore_to_time_and_use_latest_are_exclusive(aws: None, aws_rules: AwsRules) -> None:
    from datetime import datetime, timezone

    _with_instance("prod")
    restore = support.rds().restore_db_cluster_to_point_in_time
    now = datetime.now(timezone.utc)
    for kwargs in ({"RestoreToTime": now, "UseLatestRestorableTime": True}, {}):
        refused(
            aws_rules,
            "restore_time_exclusive",
            "InvalidParameterCombination",
            restore,
            DBClusterIdentifier="pitr-a",
            SourceDBClusterIdentifier="prod",
            RestoreType="full-copy",
            **kwargs,
        )
    made = restore(
        DBClusterIdentifier="pitr-b",
        SourceDBClusterIdentifier="prod",
        RestoreType="full-copy",
        UseLatestRestorableTime=True,
    )["DBCluster"]
    assert made["DBClusterIdentifier"] == "pitr-b"


def test_restore_to_time_inside_the_window(aws: None, aws_rules: AwsRules) -> None:
    from datetime import timedelta

    _with_instance("prod")
    described = support.rds().describe_db_clusters(DBClusterIdentifier="prod")["DBClusters"][0]
    earliest = described["EarliestRestorableTime"]
    restore = support.rds().restore_db_cluster_to_point_in_time
    for moment in (earliest - timedelta(hours=1), earliest + timedelta(days=1)):
        message = refused(
            aws_rules,
            "restore_time_outside_window",
            "InvalidRestoreFault",
            restore,
            DBClusterIdentifier="pitr-out",
            SourceDBClusterIdentifier="prod",
            RestoreType="full-copy",
            RestoreToTime=moment,
        )
        assert "outside the restorable window" in message
    assert support.cluster("pitr-out") is None
    made = restore(
        DBClusterIdentifier="pitr-in",
        SourceDBClusterIdentifier="prod",
        RestoreType="full-copy",
        RestoreToTime=earliest,
    )["DBCluster"]
    assert made["DBClusterIdentifier"] == "pitr-in"


def test_copy_on_write_only_in_the_same_region(aws: None, aws_rules: AwsRules) -> None:
    far = _with_instance("prod-far", SOURCE_REGION)
    restore = support.rds().restore_db_cluster_to_point_in_time
    message = refused(
        aws_rules,
        "clone_other_region",
        "DBClusterNotFoundFault",
        restore,
        DBClusterIdentifier="clone-far",
        SourceDBClusterIdentifier=far["DBClusterArn"],
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
    )
    assert SOURCE_REGION in message
    near = _with_instance("prod-near")
    made = restore(
        DBClusterIdentifier="clone-near",
        SourceDBClusterIdentifier=near["DBClusterArn"],
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
    )["DBCluster"]
    assert made["DBClusterIdentifier"] == "clone-near"
    # and only a cluster with an instance (Aurora clones none without one)
    cluster("prod-empty")
    refused(
        aws_rules,
        "clone_without_instance",
        "InvalidDBClusterStateFault",
        restore,
        DBClusterIdentifier="clone-empty",
        SourceDBClusterIdentifier="prod-empty",
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
    )


def share_cluster(cluster_arn: str, with_account: str) -> None:
    """As the owner account: an AWS RAM resource share of the cluster with `with_account`."""
    support.client("ram").create_resource_share(
        name="prod-orders-clones", resourceArns=[cluster_arn], principals=[with_account]
    )


def test_cross_account_clone_only_of_a_shared_cluster(aws: None, aws_rules: AwsRules) -> None:
    os.environ["MOTO_ACCOUNT_ID"] = OTHER_ACCOUNT
    try:
        shared = _with_instance("prod-shared")
        private = _with_instance("prod-private")
        share_cluster(shared["DBClusterArn"], support.ACCOUNT)
    finally:
        del os.environ["MOTO_ACCOUNT_ID"]
    rds = support.rds()
    restore = rds.restore_db_cluster_to_point_in_time
    refused(
        aws_rules,
        "clone_not_shared",
        "DBClusterNotFoundFault",
        restore,
        DBClusterIdentifier="clone-private",
        SourceDBClusterIdentifier=private["DBClusterArn"],
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
    )
    refused(
        aws_rules,
        "full_copy_other_account",
        "DBClusterNotFoundFault",
        restore,
        DBClusterIdentifier="copy-shared",
        SourceDBClusterIdentifier=shared["DBClusterArn"],
        RestoreType="full-copy",
        UseLatestRestorableTime=True,
    )
    # The shared one is visible by its ARN (IncludeShared) and cloned into this account.
    seen = rds.describe_db_clusters(DBClusterIdentifier=shared["DBClusterArn"], IncludeShared=True)
    assert seen["DBClusters"][0]["DBClusterArn"] == shared["DBClusterArn"]
    with pytest.raises(ClientError):
        rds.describe_db_clusters(DBClusterIdentifier=private["DBClusterArn"], IncludeShared=True)
    made = restore(
        DBClusterIdentifier="clone-shared",
        SourceDBClusterIdentifier=shared["DBClusterArn"],
        RestoreType="copy-on-write",
        UseLatestRestorableTime=True,
    )["DBCluster"]
    assert made["DBClusterArn"].split(":")[4] == support.ACCOUNT
