"""Which way a run gets production's data — a snapshot, a clone of the source cluster, or a
point-in-time restore of it — and why (the document's `restore_from` part). ChooseSource
decides before anything is copied or created; `aurora-restore preflight` and `run --to-time`
run the same code read-only.

The paths (docs/fast-paths.md):
- `snapshot`: FindSnapshot → CopySnapshot → RestoreDBClusterFromSnapshot (today's path);
- `clone`: RestoreDBClusterToPointInTime(RestoreType=copy-on-write, UseLatestRestorableTime)
  of the source cluster; minutes whatever the size;
- `point_in_time`: RestoreDBClusterToPointInTime(RestoreType=full-copy) to the requested time
  (`request.to_time`, or the latest restorable time).

What decides (`choose`): the execution input first (`snapshot_id` → snapshot, `to_time` →
point in time, `restore_from` — a drill's `--from`; a drill without one restores a snapshot
when its config allows it), then `settings.source.restore_from`;
`auto` clones when the source cluster is in the target's region and visible from this account
and a clone can give the target what it needs, else restores a snapshot, and says why. A path
outside `settings.source.restore_paths` (what the Lambda role is granted) is refused.

AWS's rules (RDS API reference RestoreDBClusterToPointInTime; Aurora User Guide, "Cloning a
volume for an Aurora DB cluster" and "Cross-account cloning with AWS RAM"; notes/aws-rules.md):
- a clone is made in the source's region only; a cluster of another account only when it is
  shared with this account through AWS RAM (DescribeDBClusters with IncludeShared shows it),
  and its KMS key is usable by this account;
- a clone needs a source with at least one DB instance; a source's clone group holds at most
  15 copy-on-write clones (the quota ClonesPerSource, lib/quotas.py: QuotaExceeded naming it;
  `auto` restores a snapshot instead);
- RestoreToTime and UseLatestRestorableTime are exclusive; RestoreToTime lies in
  [EarliestRestorableTime, LatestRestorableTime] of the source; a point-in-time restore reads
  the source's own backups (same account and region);
- the request takes no EngineVersion: the new cluster runs the source's version, so the
  target's configured version must not be newer;
- the new cluster starts with the source's master password: ResetMasterPassword replaces it,
  and the undo replaces it on a cluster a failed run keeps (lib/undo).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from handlers.lib import aws, quotas, snapshots
from handlers.lib import document as doc
from handlers.lib.errors import (
    QuotaExceeded,
    RestorePathRefused,
    RestoreTimeOutsideWindow,
    SnapshotIncompatible,
    SourceIncompatible,
    SourceUnavailable,
)

Document = dict[str, Any]
RdsFor = Callable[[str], Any]  # region → RDS client

SNAPSHOT, CLONE, POINT_IN_TIME = "snapshot", "clone", "point_in_time"
PATHS = (SNAPSHOT, CLONE, POINT_IN_TIME)
LATEST = "latest"
SHARING = (
    "a cluster of another account is cloned only when it is shared with this account through "
    "AWS RAM and its KMS key is shared too (docs/fast-paths.md: `aurora-restore clone-share` "
    "prints the production account's commands)"
)


def path(document: Document) -> str:
    """The path this run takes (`snapshot` for a document from before the fast paths)."""
    return str((document.get("restore_from") or {}).get("path") or SNAPSHOT)


def from_source_cluster(document: Document) -> bool:
    """The restore reads the source cluster itself (a clone or a point-in-time restore)."""
    return path(document) in (CLONE, POINT_IN_TIME)


def configured(document: Document) -> str:
    return str(doc.source(document).get("restore_from") or SNAPSHOT)


def allowed(document: Document) -> list[str]:
    """The paths the config allows (and the Lambda role is granted)."""
    source = doc.source(document)
    paths = source.get("restore_paths")
    if paths:
        return [str(p) for p in paths]
    return [configured(document)] if configured(document) != "auto" else [SNAPSHOT]


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (`Z` or an offset; without one: UTC) as an aware UTC datetime."""
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_arn(document: Document) -> str:
    source = doc.source(document)
    partition = "aws-cn" if str(source["region"]).startswith("cn-") else "aws"
    if str(source["region"]).startswith("us-gov-"):
        partition = "aws-us-gov"
    account = str(source.get("account_id") or doc.account_id(document))
    return f"arn:{partition}:rds:{source['region']}:{account}:cluster:{source['cluster_id']}"


def cross_account(document: Document) -> bool:
    account = str(doc.source(document).get("account_id") or "")
    return bool(account) and account != doc.account_id(document)


def source_identifier(document: Document) -> str:
    """How RestoreDBClusterToPointInTime names the source: its id in this account, its ARN
    when it is another account's (shared through RAM)."""
    if cross_account(document):
        return source_arn(document)
    return str(doc.source(document)["cluster_id"])


def describe(document: Document, rds_for: RdsFor) -> dict[str, Any] | None:
    """The source cluster as this account sees it (a shared one with IncludeShared), or None."""
    source = doc.source(document)
    client = rds_for(str(source["region"]))
    kwargs: dict[str, Any] = {"DBClusterIdentifier": source_identifier(document)}
    if cross_account(document):
        kwargs["IncludeShared"] = True
    try:
        clusters = client.describe_db_clusters(**kwargs)["DBClusters"]
    except Exception as exc:
        if aws.error_code(exc) == "DBClusterNotFoundFault":
            return None
        raise
    wanted = str(source["cluster_id"]).lower()
    for cluster in clusters:
        if str(cluster.get("DBClusterIdentifier", "")).lower() == wanted:
            return dict(cluster)
    return None


def window(cluster: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return _moment(cluster.get("EarliestRestorableTime")), _moment(
        cluster.get("LatestRestorableTime")
    )


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return parse_time(str(value))


# --- the decision ------------------------------------------------------------------------------


def choose(document: Document, rds_for: RdsFor, now: datetime | None = None) -> dict[str, Any]:
    """The document's `restore_from` part: {path, reason, configured, …facts of the source
    for a clone or point-in-time restore}; raises the named error when the asked path cannot
    be taken. Read-only."""
    now = now or datetime.now(timezone.utc)
    request = document.get("request") or {}
    asked, why = _asked(request)
    paths = allowed(document)
    if asked is None and doc.is_drill(document) and SNAPSHOT in paths:
        # A drill proves that production's snapshots restore, unless `--from` says otherwise.
        asked, why = SNAPSHOT, "a restore drill restores a snapshot unless --from names a path"
    base = {"configured": configured(document)}
    if asked is not None:
        if asked not in paths:
            raise RestorePathRefused(
                f"{why}, but source.restore_from is {configured(document)} (this config may "
                f"restore from: {', '.join(paths)}; the Lambda role is granted only those)"
            )
        if asked == SNAPSHOT:
            return {**base, "path": SNAPSHOT, "reason": why}
        return {**base, **_checked(document, asked, rds_for, now), "reason": why}
    if configured(document) != "auto":
        chosen = configured(document)
        reason = f"source.restore_from: {chosen}"
        if chosen == SNAPSHOT:
            return {**base, "path": SNAPSHOT, "reason": reason}
        return {**base, **_checked(document, chosen, rds_for, now), "reason": reason}
    return {**base, **_auto(document, paths, rds_for, now)}


def _asked(request: dict[str, Any]) -> tuple[str | None, str]:
    named = request.get("restore_from")
    if request.get("snapshot_id") and request.get("to_time"):
        raise RestorePathRefused("the execution input gives both a snapshot and a time")
    if named:
        if named not in PATHS:
            raise RestorePathRefused(
                f"restore_from {named!r} in the execution input: expected {', '.join(PATHS)}"
            )
        if request.get("to_time") and named != POINT_IN_TIME:
            raise RestorePathRefused(f"a time (to_time) is given with restore_from {named}")
        if request.get("snapshot_id") and named != SNAPSHOT:
            raise RestorePathRefused(f"a snapshot is given with restore_from {named}")
        return str(named), f"{named} asked for in the execution input"
    if request.get("snapshot_id"):
        return SNAPSHOT, "a snapshot is given in the execution input"
    if request.get("to_time"):
        return POINT_IN_TIME, f"a point in time ({request['to_time']}) is asked for"
    return None, ""


def _auto(document: Document, paths: list[str], rds_for: RdsFor, now: datetime) -> dict[str, Any]:
    source = doc.source(document)
    if CLONE not in paths:
        return {
            "path": SNAPSHOT,
            "reason": f"auto: the source is in {source['region']}, the target in "
            f"{doc.region(document)}, and Aurora clones only within a region: snapshot",
        }
    try:
        facts = _checked(document, CLONE, rds_for, now)
    except (SourceUnavailable, SourceIncompatible) as exc:
        return {"path": SNAPSHOT, "reason": f"auto: no clone ({exc}): snapshot"}
    except QuotaExceeded as exc:
        full = "; ".join(u.describe() for u in exc.usages if isinstance(u, quotas.Usage))
        return {"path": SNAPSHOT, "reason": f"auto: no clone ({full}): snapshot"}
    where = "shared with this account, " if cross_account(document) else ""
    facts["reason"] = (
        f"auto: the source {source['cluster_id']} is in {source['region']} like the target, "
        f"{where}visible and cloneable: a copy-on-write clone"
    )
    return facts


def _checked(document: Document, chosen: str, rds_for: RdsFor, now: datetime) -> dict[str, Any]:
    """A clone or point-in-time restore of the source, checked against AWS's rules."""
    source = doc.source(document)
    if source["region"] != doc.region(document):
        raise SourceUnavailable(
            f"{chosen}: the source is in {source['region']}, the target in "
            f"{doc.region(document)}; RDS restores a cluster to a point in time and clones "
            "it only within its region"
        )
    if chosen == POINT_IN_TIME and cross_account(document):
        raise SourceUnavailable(
            "point_in_time: the source is another account's; a point-in-time restore reads "
            "the cluster's own backups (same account and region)"
        )
    cluster = describe(document, rds_for)
    if cluster is None:
        hint = f"; {SHARING}" if cross_account(document) else ""
        raise SourceUnavailable(
            f"source cluster {source['cluster_id']} is not visible in {source['region']} from "
            f"this account{hint}"
        )
    facts = _facts(document, cluster, chosen)
    _check_engine(document, cluster)
    _check_key(document, cluster)
    if chosen == CLONE:
        facts["clones"] = _check_cloneable(document, cluster, rds_for)
    else:
        facts.update(_point_in_time(document, cluster, now))
    return facts


def _facts(document: Document, cluster: dict[str, Any], chosen: str) -> dict[str, Any]:
    earliest, latest = window(cluster)
    return {
        "path": chosen,
        "source": source_identifier(document),
        "source_arn": str(cluster.get("DBClusterArn") or source_arn(document)),
        "engine": cluster.get("Engine"),
        "engine_version": cluster.get("EngineVersion"),
        "encrypted": bool(cluster.get("StorageEncrypted")),
        "kms_key_id": cluster.get("KmsKeyId"),
        "earliest_restorable": iso(earliest) if earliest else None,
        "latest_restorable": iso(latest) if latest else None,
    }


def _check_engine(document: Document, cluster: dict[str, Any]) -> None:
    target = doc.target(document)
    engine = target.get("engine") or "aurora-postgresql"
    cluster_id = cluster.get("DBClusterIdentifier")
    if cluster.get("Engine") != engine:
        raise SourceIncompatible(f"source cluster {cluster_id} is {cluster.get('Engine')}, not {engine}")
    have = str(cluster.get("EngineVersion") or "")
    try:
        wanted = snapshots.restore_engine_version(str(cluster_id), have, target)
    except SnapshotIncompatible as exc:
        raise SourceIncompatible(str(exc).replace("snapshot ", "source cluster ", 1)) from None
    if wanted != have:
        raise SourceIncompatible(
            f"source cluster {cluster_id} runs {have} and target.engine_version is {wanted}: a "
            "clone or point-in-time restore keeps the source's version (RDS takes no "
            "EngineVersion for it); restore a snapshot, or set target.engine_version to "
            f"{have}"
        )


def _check_key(document: Document, cluster: dict[str, Any]) -> None:
    if not cluster.get("StorageEncrypted"):
        return
    key = str(cluster.get("KmsKeyId") or "")
    configured_key = doc.source(document).get("kms_key_id")
    if not configured_key or not snapshots.same_key(key, str(configured_key)):
        raise SourceIncompatible(
            f"source cluster {cluster.get('DBClusterIdentifier')} is encrypted with {key}, and "
            f"source.kms_key_id is {configured_key or 'not set'}: the Lambda role is granted "
            "only the configured source key"
        )


def _check_cloneable(document: Document, cluster: dict[str, Any], rds_for: RdsFor) -> int:
    cluster_id = cluster.get("DBClusterIdentifier")
    status = cluster.get("Status")
    if status != "available":
        raise SourceUnavailable(f"source cluster {cluster_id} is {status}, not available")
    if not cluster.get("DBClusterMembers"):
        raise SourceUnavailable(
            f"source cluster {cluster_id} has no DB instance; Aurora clones only a cluster "
            "with at least one"
        )
    usage = quotas.clones(rds_for(str(doc.source(document)["region"])), cluster)
    quotas.refuse([usage])
    return usage.used


def _point_in_time(document: Document, cluster: dict[str, Any], now: datetime) -> dict[str, Any]:
    cluster_id = cluster.get("DBClusterIdentifier")
    earliest, latest = window(cluster)
    if earliest is None or latest is None:
        raise SourceUnavailable(
            f"source cluster {cluster_id} reports no restorable window (are its automated "
            "backups on?)"
        )
    asked = str((document.get("request") or {}).get("to_time") or LATEST)
    facts: dict[str, Any] = {"rpo_seconds": round(max(0.0, (now - latest).total_seconds()), 1)}
    if asked == LATEST:
        return {**facts, "to_time": LATEST}
    try:
        moment = parse_time(asked)
    except ValueError:
        raise RestoreTimeOutsideWindow(
            f"to_time {asked!r} is not an ISO-8601 time (e.g. 2026-01-31T13:45:00Z) or 'latest'"
        ) from None
    if not earliest <= moment <= latest:
        raise RestoreTimeOutsideWindow(
            f"{iso(moment)} is outside {cluster_id}'s restorable window "
            f"[{iso(earliest)}, {iso(latest)}] (the latest restorable time trails now by "
            f"{facts['rpo_seconds']:g} s); nothing was created"
        )
    return {**facts, "to_time": iso(moment)}
