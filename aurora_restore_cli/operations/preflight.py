"""`aurora-restore preflight`: will a refresh work? Read-only checks, one record each.

Each check returns `Check(area, name, status, detail, fix)` with status `pass`, `fail` or
`not checkable`; nothing here prints (the output layer renders the records) and nothing writes.
What the sandbox cannot answer (IAM's policy simulator, the network, the account mapping) is
reported as "not checkable in the sandbox" — never as a pass.

The snapshot and target checks run the pipeline's own code (handlers.find_snapshot.select,
handlers.check_target), so preflight refuses exactly what the run would refuse, before a
terabyte is copied. Permissions are asked of IAM's policy simulator
(`iam:SimulatePrincipalPolicy`, preflight_access.py) for the exact actions and ARNs the run
will use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .. import bundled
from ..config.database import ca_bundle_fetch_command, ca_certificate_count, require_ca_bundle
from ..config.reader import ConfigError
from ..contract.pipeline_settings import pipeline_settings
from ..resources.base.changes import Action
from ..resources.base.resource import Context
from .preflight_checks import FAIL, OPERATION, PASS, Check, pipeline, pipeline_error, sandbox_row

RDS_CA_MARK = ("organizationalUnitName", "Amazon RDS")

def preflight(
    ctx: Context,
    snapshot_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    drill: bool = False,
    to_time: str | None = None,
    restore_from: str | None = None,
) -> list[Check]:
    """Every check, in the order a run would meet them. For a restore drill: what the drill
    asks of IAM, and no target checks (a drill never touches the target). `to_time` (`run
    --to-time`) and `restore_from` (`drill --from`) are the run's request: the path check runs
    ChooseSource's own code on them (docs/fast-paths.md)."""
    from . import preflight_access as access
    from .preflight_network import network
    from .preflight_notify import topic_key
    from .preflight_quotas import iam_auth, quotas
    from .preflight_runs import in_flight
    from .preflight_source import clone_source, restore_path

    say = progress or (lambda _: None)
    document = state_document(ctx, snapshot_id, to_time, restore_from, drill)
    checks = [account(ctx)]
    say("setup resources")
    checks += setup_resources(ctx)
    say("the topic's key")
    checks.append(topic_key(ctx))
    if not drill:  # a drill locks its own cluster: it may run beside a refresh
        say("runs in flight")
        checks.append(in_flight(ctx, document))
    say("restore path")
    path_checks, chosen = restore_path(ctx, document)
    checks += path_checks
    snapshot = None
    if chosen is not None and chosen["path"] == "snapshot":
        say("source snapshot")
        snapshot_check, snapshot = source_snapshot(ctx, document)
        checks.append(snapshot_check)
        checks += access.snapshot_key(ctx, snapshot)
    cluster = None if drill else read_target(ctx)
    say("IAM policy simulator")
    checks += access.permissions(ctx, document, snapshot, drill, member_ids(cluster), chosen)
    if not drill:
        say("target")
        checks += target(ctx, document, cluster)
        checks += iam_auth(ctx, cluster)
    say("RDS quotas")
    copied = None if snapshot is None else bool(access.copy_needed(ctx, snapshot))
    if chosen is not None and chosen["path"] != "snapshot":
        copied = False  # a clone or point-in-time restore copies no snapshot
    checks += quotas(ctx, document["settings"], None if drill else cluster, copied,
                     clone_source(ctx, document, chosen))
    say("network")
    checks += network(ctx)
    checks += database_steps(ctx)
    checks.append(ca_bundle(ctx))
    return checks


def state_document(
    ctx: Context,
    snapshot_id: str | None,
    to_time: str | None = None,
    restore_from: str | None = None,
    drill: bool = False,
) -> dict[str, Any]:
    """The state document a run would start from (CONTRACT.md), for the pipeline's checks."""
    request: dict[str, Any] = {"snapshot_id": snapshot_id, "requested_by": "preflight"}
    if to_time:
        request["to_time"] = to_time
    if restore_from:
        request["restore_from"] = restore_from
    document = {
        "operation_id": OPERATION,
        "request": request,
        "settings": pipeline_settings(ctx.settings, ctx.names),
    }
    if drill:
        document["mode"] = "drill"
    return document


# --- account and setup --------------------------------------------------------------------


def account(ctx: Context) -> Check:
    if ctx.sandbox:
        return sandbox_row(
            "account", "credentials", "one fake account; the config's account ids are mapped to it"
        )
    # The CLI refuses credentials of another account before any command runs.
    return Check(
        "account",
        "credentials",
        PASS,
        f"the credentials are for account {ctx.names.account_id}, the config's account_id",
    )


def setup_resources(ctx: Context) -> list[Check]:
    """Every resource `setup` makes: present, ours, not drifted (one row per setup step)."""
    from ..provisioning import engine
    from ..resources import available_steps

    steps = available_steps()
    report = engine.status(ctx, steps, lambda _: None)
    rows = []
    for step in steps:
        mine = [c for c in report.changes if c.step == step]
        bad = [c for c in mine if c.action is not Action.PRESENT]
        if not bad:
            rows.append(
                Check("setup", step, PASS, f"{len(mine)} resource(s) present as configured")
            )
            continue
        listed = "; ".join(
            f"{c.name} {c.action.value}" + (f" ({c.detail})" if c.detail else "") for c in bad
        )
        fix = (
            "a same-named resource is not ours: rename or remove it, then run setup"
            if any(c.action is Action.FOREIGN for c in bad)
            else f"aurora-restore setup {step} --env {ctx.env}"
        )
        rows.append(Check("setup", step, FAIL, listed, fix))
    return rows


# --- the source snapshot ------------------------------------------------------------------

SNAPSHOT_FIXES = {
    "SnapshotNotFound": "share a manual snapshot of the source with this account, or pass "
    "--snapshot with an id/ARN that exists",
    "SnapshotNotAvailable": "wait until the snapshot is available",
    "SnapshotTooOld": "take a newer snapshot or raise source.max_age_hours",
    "SnapshotIncompatible": "use a snapshot of the configured source cluster, region and "
    "account, of a compatible engine version (see the message)",
    "SnapshotKeyUnusable": "set source.kms_key_id / target.kms_key_id as the message says",
}


def source_snapshot(ctx: Context, document: dict[str, Any]) -> tuple[Check, dict[str, Any] | None]:
    """The snapshot a run would use, checked by the pipeline's own FindSnapshot logic."""
    find_snapshot, snapshots = pipeline("find_snapshot"), pipeline("lib.snapshots")
    try:
        chosen = find_snapshot.select(document, lambda region: ctx.clients.get("rds", region))
    except pipeline_error() as exc:
        name = type(exc).__name__
        return Check(
            "snapshot", "source snapshot", FAIL, f"{name}: {exc}", SNAPSHOT_FIXES.get(name, "")
        ), None
    created = datetime.fromisoformat(chosen["created"])
    age = (datetime.now(timezone.utc) - created).total_seconds() / 3600
    reasons = snapshots.copy_reasons({**document, "snapshot": chosen})
    encryption = f"encrypted with {chosen['kms_key_id']}" if chosen["encrypted"] else "unencrypted"
    detail = (
        f"{chosen['id']} ({chosen['reason']}), {age:.1f} h old, engine "
        f"{chosen['engine']} {chosen['engine_version']} → restored as "
        f"{chosen['restore_engine_version']}, {encryption}; "
        + (f"copied ({', '.join(reasons)})" if reasons else "restored in place")
    )
    return Check("snapshot", "source snapshot", PASS, detail), chosen


# --- the target -----------------------------------------------------------------------------


def read_target(ctx: Context) -> dict[str, Any] | None:
    found: dict[str, Any] | None = pipeline("lib.rds").describe_cluster(
        ctx.clients.get("rds"), ctx.settings.target.cluster_id
    )
    return found


def member_ids(cluster: dict[str, Any] | None) -> list[str]:
    """The target's instance ids, as RDS names them (the run deletes them after the swap)."""
    return [str(m["DBInstanceIdentifier"]) for m in (cluster or {}).get("DBClusterMembers") or []]


def target(
    ctx: Context, document: dict[str, Any], cluster: dict[str, Any] | None
) -> list[Check]:
    check_target, guards = pipeline("check_target"), pipeline("lib.guards")
    rds_lib, tags = pipeline("lib.rds"), pipeline("lib.tags")
    target_id = ctx.settings.target.cluster_id
    rows = []
    try:
        guards.check_config(document)
        rows.append(Check("target", "not the source, not protected", PASS, f"{target_id}"))
    except pipeline_error() as exc:
        rows.append(
            Check(
                "target", "not the source, not protected", FAIL, str(exc), "fix target.cluster_id"
            )
        )
    rds = ctx.clients.get("rds")
    if cluster is None:
        rows.append(
            Check(
                "target",
                "exists",
                PASS,
                f"{target_id} does not exist yet: the first refresh creates it",
            )
        )
        return rows + _ids_free(ctx, rds)
    status = str(cluster.get("Status"))
    rows.append(Check("target", "exists", PASS, f"{target_id} is {status}"))
    cluster_tags = rds_lib.cluster_tags(rds, cluster)
    arn = cluster.get("DBClusterArn")
    if tags.is_managed(cluster_tags, ctx.env):
        rows.append(Check("target", "tagged as ours", PASS, f"{tags.ENV_KEY}={ctx.env}"))
    else:
        rows.append(
            Check(
                "target",
                "tagged as ours",
                FAIL,
                f"{target_id} lacks {tags.MANAGED_BY_KEY}={tags.MANAGED_BY_VALUE} and "
                f"{tags.ENV_KEY}={ctx.env}: the run would refuse to replace it",
                "after checking it is the right cluster, tag it once: aws rds "
                f"add-tags-to-resource --resource-name {arn} --tags "
                f"Key={tags.MANAGED_BY_KEY},Value={tags.MANAGED_BY_VALUE} "
                f"Key={tags.ENV_KEY},Value={ctx.env}",
            )
        )
    rows.append(
        _row(
            "target",
            "available",
            lambda: check_target.check_state(dict(cluster, MasterUserSecret=None)),
            status,
            "start it (aws rds start-db-cluster) or wait until it is available",
        )
    )
    rows.append(
        _row(
            "target",
            "master password set by aurora-restore",
            lambda: check_target.check_state(dict(cluster, Status="available")),
            "not RDS-managed",
            "turn off ManageMasterUserPassword on the target (see the message)",
        )
    )
    protected = dict(cluster, Status="available", MasterUserSecret=None)
    rows.append(
        _row(
            "target",
            "deletion protection as expected",
            lambda: (
                check_target.check_existing_target(document, protected, cluster_tags)
                if tags.is_managed(cluster_tags, ctx.env)
                else None
            ),
            "on, set by aurora-restore" if cluster.get("DeletionProtection") else "off",
            "turn deletion protection off on the target (aurora-restore did not set it)",
        )
    )
    rows.append(instances_deletable(ctx, cluster))
    return rows + _ids_free(ctx, rds)


def instances_deletable(ctx: Context, cluster: dict[str, Any]) -> Check:
    """After the swap the run deletes the old target with its instances, and the Lambda role
    may delete only instances named `<target>-*` (documents/policies: `db:<target>-*`). A
    member named otherwise would be refused (AccessDenied) after the target was swapped out."""
    import fnmatch

    from ..documents.policies.arns import Arns

    arns = Arns(ctx.settings, ctx.names)
    patterns = arns.instances()
    members = member_ids(cluster)
    outside = [
        m
        for m in members
        if not any(fnmatch.fnmatchcase(arns.rds(f"db:{m.lower()}"), p) for p in patterns)
    ]
    name = "instances deletable by the Lambda role"
    if not outside:
        return Check("target", name, PASS, f"{len(members)} instance(s), all {arns.target}-*")
    first = outside[0]
    return Check(
        "target",
        name,
        FAIL,
        f"{', '.join(outside)}: the Lambda role may delete only instances named "
        f"{arns.target}-*, so after the swap the old cluster could not be deleted",
        f"rename each: aws rds modify-db-instance --db-instance-identifier {first} "
        f"--new-db-instance-identifier {arns.target}-{first} --apply-immediately",
    )


def _row(area: str, name: str, check: Callable[[], Any], ok_detail: str, fix: str) -> Check:
    try:
        check()
    except pipeline_error() as exc:
        return Check(area, name, FAIL, f"{type(exc).__name__}: {exc}", fix)
    return Check(area, name, PASS, ok_detail)


def _ids_free(ctx: Context, rds: Any) -> list[Check]:
    rds_lib, naming = pipeline("lib.rds"), pipeline("lib.naming")
    target_id = ctx.settings.target.cluster_id
    taken = [
        other
        for other in (
            naming.staging_cluster_id(target_id, OPERATION),
            naming.old_cluster_id(target_id, OPERATION),
        )
        if rds_lib.describe_cluster(rds, other) is not None
    ]
    if taken:
        return [
            Check("target", "derived ids free", FAIL, f"taken: {', '.join(taken)}", "remove them")
        ]
    return []


# --- the database steps and TLS -------------------------------------------------------------


def database_steps(ctx: Context) -> list[Check]:
    """The database functions run in the configured VPC; the others outside it."""
    vpc = ctx.settings.lambda_.vpc
    lam = ctx.clients.get("lambda")
    rows = []
    for step in bundled.database_steps():
        name = ctx.names.function(step)
        try:
            config = lam.get_function(FunctionName=name)["Configuration"]
        except lam.exceptions.ResourceNotFoundException:
            rows.append(
                Check(
                    "database",
                    name,
                    FAIL,
                    "missing",
                    f"aurora-restore setup lambdas --env {ctx.env}",
                )
            )
            continue
        subnets = set((config.get("VpcConfig") or {}).get("SubnetIds") or [])
        if vpc is None:
            rows.append(
                Check(
                    "database",
                    name,
                    FAIL,
                    "runs outside a VPC: it cannot reach a private cluster",
                    "set lambda.vpc (subnets that reach the cluster, and a security group the "
                    "cluster's security group admits)",
                )
            )
        elif subnets != set(vpc.subnet_ids):
            rows.append(
                Check(
                    "database",
                    name,
                    FAIL,
                    f"in subnets {sorted(subnets)}, not the configured ones",
                    f"aurora-restore setup lambdas --env {ctx.env}",
                )
            )
        else:
            rows.append(Check("database", name, PASS, f"in the VPC ({len(subnets)} subnets)"))
    return rows


def ca_bundle(ctx: Context) -> Check:
    settings = ctx.settings
    try:
        path = require_ca_bundle(settings)
    except ConfigError as exc:
        if ctx.sandbox:
            return sandbox_row(
                "tls",
                "RDS CA bundle",
                "its database is a local PostgreSQL with a CA of its own (or none), not Aurora; "
                "against AWS database.ca_bundle is required",
            )
        return Check(
            "tls", "RDS CA bundle", FAIL, exc.message, ca_bundle_fetch_command(settings.config_dir)
        )
    count = ca_certificate_count(path)
    rds_cas = rds_ca_count(path)
    if not rds_cas:
        return Check(
            "tls",
            "RDS CA bundle",
            FAIL,
            f"{path} holds {count} CA certificate(s), none of Amazon RDS",
            ca_bundle_fetch_command(settings.config_dir),
        )
    return Check("tls", "RDS CA bundle", PASS, f"{path}: {rds_cas} Amazon RDS CA certificate(s)")


def rds_ca_count(path: Any) -> int:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError):
        return 0
    found = 0
    for cert in context.get_ca_certs():
        subject = [pair for rdn in cert.get("subject", ()) for pair in rdn]
        if RDS_CA_MARK in subject:
            found += 1
    return found
