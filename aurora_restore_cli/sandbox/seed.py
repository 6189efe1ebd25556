"""The sandbox as one AWS account, and what a real account would already hold.

The sandbox (a moto server) is a single account (moto's 123456789012), so `for_sandbox()`
rewrites the config's account ids to it, points KMS settings at keys that `seed()` (or, for
the topic, `setup`) creates, and polls every second (moto's resources are ready at once).
`seed()` makes what the pipeline expects to find: the production cluster (encrypted with its
own key) with a snapshot in the source region, the target cluster (tagged as ours) in the
target region, its subnet group, and the target's KMS key. When the sandbox has a database
server for the target's engine (PostgreSQL; MySQL for aurora-mysql, started by the first
aurora-mysql cluster), the production cluster's database gets a few tables of fake personal
data before the snapshot is taken (data.py) — with an outbound e-mail queue and, on
PostgreSQL, a foreign server pointing at production (on MySQL, an event that would send the
queue), the side effects the quarantine must neutralise in the refreshed target — and the admin
login the database steps use is stored as the secret `aurora-restore-sandbox/postgres`
(`…/mysql`).
Everything is created only when missing (re-runnable).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import Any

from ..config.settings import Settings, notification_key_alias
from ..contract.naming import managed_tags
from ..resources.base.changes import Action, Change
from ..resources.base.resource import Context, tag_list
from .databases import SandboxDatabase, for_engine

SANDBOX_KEY_ALIAS = "alias/aurora-restore-sandbox"
SOURCE_KEY_ALIAS = "alias/aurora-restore-sandbox-source"
SEED_TAG = {"Key": "aurora-restore:sandbox-seed", "Value": "true"}
MASTER_USERS = {"aurora-postgresql": "postgres", "aurora-mysql": "admin"}  # RDS's usual names


def for_sandbox(settings: Settings, account_id: str, source_key_arn: str | None = None) -> Settings:
    """The settings as they apply inside the one-account sandbox. `source_key_arn`: the seeded
    source key (`seeded_source_key`), used when the config names a source key (before the
    seed, the config's key stays as a placeholder that `seed()` replaces)."""
    target_key = SANDBOX_KEY_ALIAS if settings.target.kms_key_id else None
    source_key = (
        (source_key_arn or settings.source.kms_key_id) if settings.source.kms_key_id else None
    )
    return dataclasses.replace(
        settings,
        account_id=account_id,
        source=dataclasses.replace(settings.source, account_id=account_id, kms_key_id=source_key),
        target=dataclasses.replace(settings.target, kms_key_id=target_key),
        audit=dataclasses.replace(settings.audit, kms_key_id=None),
        # a key of the config's own is not in the sandbox: the topic gets the one setup makes
        notifications=dataclasses.replace(
            settings.notifications,
            kms_key_id=notification_key_alias(settings.environment)
            if settings.notifications.kms_key_id
            else None,
        ),
        secrets=dataclasses.replace(settings.secrets, kms_key_id=None),
        dba_principals=tuple(
            f"arn:aws:iam::{account_id}:root" for _ in settings.dba_principals[:1]
        ),
        # moto's clusters and copies are ready at once: poll every second, not every minute
        pipeline=settings.pipeline.compressed(1),
    )


def seeded_source_key(clients: Any, source_region: str) -> str | None:
    """ARN of the source key `seed()` made (None before the seed)."""
    kms = clients.get("kms", source_region)
    try:
        return str(kms.describe_key(KeyId=SOURCE_KEY_ALIAS)["KeyMetadata"]["Arn"])
    except kms.exceptions.NotFoundException:
        return None


def seed(ctx: Context) -> list[Change]:
    """Create the pre-existing world of a real account in the sandbox; returns what it did."""
    st = ctx.settings
    changes = [_kms_key(ctx, st.region, SANDBOX_KEY_ALIAS, "target")]
    changes.append(_subnet_group(ctx))
    source_key = _kms_key(ctx, st.source.region, SOURCE_KEY_ALIAS, "source snapshots'")
    changes.append(source_key)
    if st.source.kms_key_id:  # this command goes on (the demo: setup, run) with the real key
        ctx.settings = st = dataclasses.replace(
            st, source=dataclasses.replace(st.source, kms_key_id=source_key.arn)
        )
    source = ctx.clients.get("rds", st.source.region)
    changes.append(
        _cluster(ctx, source, st.source.cluster_id, tags=[SEED_TAG], kms_key=source_key.arn)
    )
    database = _database(st.target.engine)  # after the source cluster: MySQL starts with it
    if database is not None:  # the data first: the snapshot copies the database as it is
        endpoint = source.describe_db_clusters(DBClusterIdentifier=st.source.cluster_id)[
            "DBClusters"][0].get("Endpoint") or f"{st.source.cluster_id}.cluster.invalid"
        changes.append(_source_database(database, st.source.cluster_id, str(endpoint)))
        changes.append(_admin_secret(ctx, database))
    changes.append(_snapshot(ctx, source, st.source.cluster_id))
    target = ctx.clients.get("rds", st.region)
    ours = [*tag_list(managed_tags(ctx.env)), SEED_TAG]
    changes.append(
        _cluster(ctx, target, st.target.cluster_id, tags=ours, subnet_group=st.target.subnet_group)
    )
    return changes


def _database(engine: str) -> SandboxDatabase | None:
    from .control import find

    box = find()  # read again: the sandbox's MySQL, if needed, started with the source cluster
    return for_engine(box, engine) if box is not None else None


def _source_database(database: SandboxDatabase, cluster_id: str, endpoint: str) -> Change:
    """The fake data, and production's side effects (`endpoint`: a host of production's; the
    quarantine refuses it in the refreshed target)."""
    had, counts, linked = database.fill(cluster_id, endpoint)
    detail = ", ".join(f"{table.split('.')[-1]} {n}" for table, n in counts.items())
    detail += f"; {linked}"
    action = Action.UNCHANGED if had else Action.CREATED
    return Change("seed", f"{database.kind} database", database.database(cluster_id), action,
                  f"fake personal data: {detail}")


def _admin_secret(ctx: Context, database: SandboxDatabase) -> Change:
    """The login the database steps use in the sandbox (AURORA_RESTORE_DB_ADMIN_SECRET_ID)."""
    sm = ctx.clients.get("secretsmanager")
    name = database.admin_secret
    user, password = database.login()
    value = json.dumps({"username": user, "password": password})
    try:
        current = sm.get_secret_value(SecretId=name)["SecretString"]
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=name, SecretString=value, Tags=[SEED_TAG],
                         Description=f"aurora-restore sandbox: {database.kind} admin")
        return Change("seed", "Secrets Manager secret", name, Action.CREATED)
    if current == value:
        return Change("seed", "Secrets Manager secret", name, Action.UNCHANGED)
    sm.put_secret_value(SecretId=name, SecretString=value)
    return Change("seed", "Secrets Manager secret", name, Action.UPDATED)


def _kms_key(ctx: Context, region: str, alias: str, what: str) -> Change:
    kms = ctx.clients.get("kms", region)
    try:
        key = kms.describe_key(KeyId=alias)["KeyMetadata"]
        return Change("seed", "KMS key", alias, Action.UNCHANGED, arn=key["Arn"])
    except kms.exceptions.NotFoundException:
        key = kms.create_key(
            Description=f"aurora-restore sandbox: {what} encryption key",
            Tags=[{"TagKey": SEED_TAG["Key"], "TagValue": "true"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return Change("seed", "KMS key", alias, Action.CREATED, arn=key["Arn"])


def _subnet_group(ctx: Context) -> Change:
    name = ctx.settings.target.subnet_group
    rds = ctx.clients.get("rds")
    try:
        rds.describe_db_subnet_groups(DBSubnetGroupName=name)
        return Change("seed", "DB subnet group", name, Action.UNCHANGED)
    except rds.exceptions.DBSubnetGroupNotFoundFault:
        pass
    ec2 = ctx.clients.get("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(zones)
    ]
    rds.create_db_subnet_group(
        DBSubnetGroupName=name,
        DBSubnetGroupDescription="sandbox",
        SubnetIds=subnets,
        Tags=[SEED_TAG],
    )
    return Change("seed", "DB subnet group", name, Action.CREATED)


def _cluster(
    ctx: Context,
    rds: Any,
    cluster_id: str,
    tags: list[dict[str, str]],
    subnet_group: str | None = None,
    kms_key: str | None = None,
) -> Change:
    try:
        found = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        return Change(
            "seed", "Aurora cluster", cluster_id, Action.UNCHANGED, arn=found["DBClusterArn"]
        )
    except rds.exceptions.DBClusterNotFoundFault:
        pass
    target = ctx.settings.target
    extra: dict[str, Any] = {"DBSubnetGroupName": subnet_group} if subnet_group else {}
    if kms_key:
        extra["KmsKeyId"] = kms_key
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine=target.engine,
        EngineVersion=target.engine_version,
        MasterUsername=MASTER_USERS.get(target.engine, "postgres"),
        MasterUserPassword=secrets.token_urlsafe(24),
        DatabaseName=ctx.settings.database.name,
        Port=target.port,
        Tags=tags,
        StorageEncrypted=True,
        **extra,
    )["DBCluster"]
    rds.create_db_instance(
        DBInstanceIdentifier=f"{cluster_id}-1",
        DBClusterIdentifier=cluster_id,
        Engine=target.engine,
        DBInstanceClass=target.instance_class,
        Tags=tags,
    )
    return Change("seed", "Aurora cluster", cluster_id, Action.CREATED, arn=cluster["DBClusterArn"])


def _snapshot(ctx: Context, rds: Any, cluster_id: str) -> Change:
    snapshot_id = f"{cluster_id}-sandbox-seed"
    try:
        rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)
        return Change("seed", "cluster snapshot", snapshot_id, Action.UNCHANGED)
    except rds.exceptions.DBClusterSnapshotNotFoundFault:
        pass
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=snapshot_id, DBClusterIdentifier=cluster_id, Tags=[SEED_TAG]
    )
    return Change("seed", "cluster snapshot", snapshot_id, Action.CREATED)
