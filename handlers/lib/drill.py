"""Restore drills (definitions/drill.asl.json): what the drill steps share.

A drill restores the chosen source snapshot into a temporary cluster `<target>-drill-<token>`
(never the target), verifies it, measures how long each phase took, and deletes the cluster
and this operation's snapshot copy again — on success and on every failure path. This module
needs no database driver (it is in every function's zip); the database half of a drill's
verification is `handlers/lib/drill_verify.py`.

Document fields of a drill (handlers/CONTRACT.md, "Restore drills"):
- `mode: "drill"` (from the definition's Initialize state, never from the input);
- `settings.drill`: the drill settings rendered by the CLI (see `DrillSettings` keys below);
- `drill`: `{cluster_id, keep_seconds, expires_at}` (drill_prepare);
- `marks`: `{<phase>: {"at": <ISO time the state machine entered the phase>}}`, one per phase
  of PHASES plus `verified` (Pass states of the definition: Step Functions' own clock);
- `verification`, `cleanup`: what the verify and drill_cleanup steps found.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from handlers.lib import audit, aws, clusters, guards, naming, notify, rds, secrets, tags
from handlers.lib import document as doc
from handlers.lib.errors import SettingsInvalid, UnsafeTarget

Document = dict[str, Any]

DRILL_KEY = "aurora-restore:drill"
EXPIRES_KEY = tags.EXPIRES_KEY  # the expiry sweep (lib/expiry.py) reads it too
DRILL_SECRET_ENV = "DRILL_SECRET_ID"
PHASES = ("copy", "restore", "instances", "verification")
END_MARK = "verified"
DEFAULT_NAMESPACE = "AuroraRestore"
RTO_METRIC = "DrillRtoSeconds"
RPO_METRIC = "DrillRpoSeconds"  # a point-in-time drill: how far production's recovery point trails
PHASE_METRIC = "DrillPhaseSeconds"
INSTANCE_NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
NOT_YET = ("InvalidDBClusterStateFault", "InvalidDBInstanceState", "InvalidDBInstanceStateFault")
SNAPSHOT_NOT_YET = ("InvalidDBClusterSnapshotStateFault",)


def require(document: Document, step: str) -> None:
    if not doc.is_drill(document):
        raise SettingsInvalid(f"{step} runs only in a restore drill (mode: drill)")


def cluster_id(document: Document) -> str:
    return naming.drill_cluster_id(doc.target_cluster_id(document), doc.operation_id(document))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(tags.EXPIRY_FORMAT)


def parse_time(value: Any) -> datetime | None:
    """Step Functions' `$$.State.EnteredTime`, snapshot times and our ISO stamps."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- preparing: keep time, expiry ------------------------------------------------------------


def keep_seconds(requested: Any, settings: dict[str, Any]) -> tuple[int, str | None]:
    """Seconds to keep the drill cluster before deleting it: the request's `keep_minutes`,
    else the configured default; clamped to `max_keep_minutes` (returns a note when clamped)."""
    value = settings.get("keep_minutes", 0) if requested is None else requested
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsInvalid(f"keep_minutes must be a whole number of minutes >= 0, got {value!r}")
    limit = int(settings.get("max_keep_minutes") or 0)
    if value > limit:
        return limit * 60, f"keep_minutes {value} clamped to the maximum {limit}"
    return value * 60, None


def expires_at(now: datetime, keep: int, margin_seconds: int) -> str:
    """When anything of this drill still existing is an orphan: after the keep time plus the
    longest the rest of the run may take."""
    return iso(now + timedelta(seconds=keep + margin_seconds))


def cluster_tags(document: Document) -> dict[str, str]:
    """Our managed tags + operation, the drill marker and the expiry."""
    expiry = str((document.get("drill") or {}).get("expires_at") or "")
    if not expiry:
        raise SettingsInvalid("the drill has no expires_at (drill_prepare did not run)")
    return {
        **tags.managed(doc.env(document), doc.operation_id(document)),
        DRILL_KEY: "true",
        EXPIRES_KEY: expiry,
    }


def is_this_drills(resource_tags: dict[str, str], document: Document) -> bool:
    return (
        tags.is_managed(resource_tags, doc.env(document))
        and resource_tags.get(tags.OPERATION_KEY) == doc.operation_id(document)
        and resource_tags.get(DRILL_KEY) == "true"
    )


# --- the drill's own master password -----------------------------------------------------------


def password_version(operation_id: str) -> str:
    """The drill secret's version holding this drill's password (concurrent drills each have
    their own; readers ask for this version, not AWSCURRENT)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aurora-restore:{operation_id}:drill"))


def store_password(
    sm: Any, secret: str, operation_id: str, cluster: dict[str, Any], excluded: str
) -> str:
    """A random master password for the drill cluster, as a new version of the drill secret
    (never the env's master secret). The version id derives from the operation, so a retried
    invocation reuses the same password."""
    version = password_version(operation_id)
    try:
        return str(secrets.read_json(sm, secret, VersionId=version)["password"])
    except Exception as exc:
        if aws.error_code(exc) != "ResourceNotFoundException":
            raise
    password = sm.get_random_password(
        PasswordLength=32, ExcludeCharacters=excluded, RequireEachIncludedType=True
    )["RandomPassword"]
    value = {
        "username": str(cluster.get("MasterUsername") or "postgres"),
        "password": password,
        "cluster_id": cluster.get("DBClusterIdentifier"),
        "host": cluster.get("Endpoint") or "",
        "port": cluster.get("Port") or 5432,
        "operation_id": operation_id,
    }
    sm.put_secret_value(SecretId=secret, ClientRequestToken=version, SecretString=json.dumps(value))
    return str(password)


# --- cleaning up: instances, then the cluster, then this operation's copy -------------------


def clean_up(document: Document) -> dict[str, Any]:
    """One idempotent pass towards "nothing of this drill is left": delete the drill cluster's
    instances, then the cluster (no final snapshot), then this operation's snapshot copy.
    Returns what it saw; `done` once both are gone. Call it again until then (AWS refuses to
    delete a cluster while an instance is still being created, and a copy while it copies).

    Only this drill's own resources: the guard (in drill mode it allows only the drill
    cluster id), our tags for this env, this operation and the drill marker."""
    client = aws.client("rds", doc.region(document))
    cluster = _clean_up_cluster(document, client)
    copy = _clean_up_copy(document, client)
    return {
        "cluster_id": cluster_id(document),
        "cluster": cluster,
        "copy": copy,
        "done": cluster == "gone" and copy == "gone",
    }


def _clean_up_cluster(document: Document, client: Any) -> str:
    drill_id = cluster_id(document)
    cluster = rds.describe_cluster(client, drill_id)
    if cluster is None:
        return "gone"
    cluster_tags_found = rds.cluster_tags(client, cluster)
    writes = clusters.Writes(guards.Guard(document), client)
    writes.guard.cluster(cluster, cluster_tags_found, "delete")
    if not is_this_drills(cluster_tags_found, document):
        raise UnsafeTarget(f"refusing to delete {drill_id}: it is not this drill's cluster")
    if cluster.get("Status") == "deleting":
        return "deleting"
    if cluster.get("DeletionProtection"):
        raise UnsafeTarget(f"{drill_id} has deletion protection (set by hand?); refusing")
    members = _instances(document, client, cluster)
    waiting = [i for i in members if not _delete_instance(writes, cluster, cluster_tags_found, i)]
    try:
        writes.delete_cluster(cluster, cluster_tags_found, None)
    except Exception as exc:
        if aws.error_code(exc) in NOT_YET:
            return (
                f"waiting ({len(waiting)} instance(s) not deletable yet)"
                if waiting
                else (f"waiting ({cluster.get('Status')})")
            )
        if aws.error_code(exc) == rds.CLUSTER_NOT_FOUND:
            return "gone"
        raise
    return "deleting"


def _instances(document: Document, client: Any, cluster: dict[str, Any]) -> list[str]:
    """The cluster's members and the instances this operation creates, if they belong to it."""
    drill_id = cluster_id(document)
    found = set(rds.member_ids(cluster))
    count = int(doc.target(document).get("instance_count") or 1)
    for number in range(1, count + 1):
        candidate = naming.instance_id(
            doc.target_cluster_id(document), doc.operation_id(document), number
        )
        instance = rds.describe_instance(client, candidate)
        if (
            instance is not None
            and str(instance.get("DBClusterIdentifier", "")).lower() == drill_id
        ):
            found.add(candidate)
    return sorted(found)


def _delete_instance(
    writes: clusters.Writes, cluster: dict[str, Any], found: dict[str, str], instance_id: str
) -> bool:
    """True when the instance (one of the drill cluster's) is gone or being deleted."""
    try:
        writes.delete_instance(cluster, found, instance_id)
    except Exception as exc:
        code = aws.error_code(exc)
        if code in INSTANCE_NOT_FOUND:
            return True
        if code in NOT_YET:
            instance = rds.describe_instance(writes.client, instance_id)
            return instance is None or instance.get("DBInstanceStatus") == "deleting"
        raise
    return True


def _clean_up_copy(document: Document, client: Any) -> str:
    copy_id = naming.copy_snapshot_id(doc.target_cluster_id(document), doc.operation_id(document))
    snapshot = rds.describe_cluster_snapshot(client, copy_id)
    if snapshot is None:
        return "gone"
    found = tags.from_list(snapshot.get("TagList"))
    if not (
        tags.is_managed(found, doc.env(document))
        and found.get(tags.OPERATION_KEY) == doc.operation_id(document)
    ):
        raise UnsafeTarget(f"refusing to delete snapshot {copy_id}: it is not this drill's copy")
    if snapshot.get("Status") == "deleting":
        return "deleting"
    try:
        clusters.Writes(guards.Guard(document), client).delete_snapshot(snapshot)
    except Exception as exc:
        if aws.error_code(exc) in SNAPSHOT_NOT_YET:
            return f"waiting ({snapshot.get('Status')})"
        if aws.error_code(exc) == rds.SNAPSHOT_NOT_FOUND:
            return "gone"
        raise
    return "deleting"


# --- measuring: RTO per phase ---------------------------------------------------------------


def phase_seconds(document: Document) -> dict[str, float]:
    """Seconds per phase that both started and ended (the next phase's mark ends a phase)."""
    marks = document.get("marks") or {}
    out: dict[str, float] = {}
    for phase, following in zip(PHASES, (*PHASES[1:], END_MARK), strict=True):
        start, end = _mark(marks, phase), _mark(marks, following)
        if start is not None and end is not None:
            out[phase] = round((end - start).total_seconds(), 3)
    return out


def rto_seconds(document: Document) -> float | None:
    """From choosing the snapshot to a verified database (None if the drill did not get there)."""
    marks = document.get("marks") or {}
    start, end = _mark(marks, PHASES[0]), _mark(marks, END_MARK)
    return round((end - start).total_seconds(), 3) if start and end else None


def phase_bounds(document: Document, phase: str) -> tuple[str | None, str | None]:
    marks = document.get("marks") or {}
    following = (*PHASES[1:], END_MARK)[PHASES.index(phase)]
    start, end = _mark(marks, phase), _mark(marks, following)
    return (iso(start) if start else None, iso(end) if end else None)


def _mark(marks: dict[str, Any], name: str) -> datetime | None:
    entry = marks.get(name)
    return parse_time(entry.get("at")) if isinstance(entry, dict) else None


def rpo_seconds(document: Document) -> float | None:
    """A point-in-time drill's recovery point objective as measured: how far production's
    LatestRestorableTime trailed the moment ChooseSource read it (None on other paths)."""
    chosen = document.get("restore_from") or {}
    if chosen.get("path") != "point_in_time" or chosen.get("rpo_seconds") is None:
        return None
    return float(chosen["rpo_seconds"])


def snapshot_age_hours(document: Document) -> float | None:
    """The snapshot's age when the drill started restoring it."""
    created = parse_time((document.get("snapshot") or {}).get("created"))
    started = _mark(document.get("marks") or {}, PHASES[0])
    if created is None or started is None:
        return None
    return round((started - created).total_seconds() / 3600, 2)


def summary(document: Document, status: str) -> dict[str, Any]:
    """The drill's result: what the summary audit item, the metric and the notification say."""
    snapshot = document.get("snapshot") or {}
    facts: dict[str, Any] = {
        "status": status,
        "drill_cluster_id": cluster_id(document),
        "target_cluster_id": doc.target_cluster_id(document),
        "snapshot_id": snapshot.get("id"),
        "snapshot_arn": snapshot.get("arn"),
        "snapshot_created": snapshot.get("created"),
        "snapshot_age_hours": snapshot_age_hours(document),
        "phases": phase_seconds(document),
        "rto_seconds": rto_seconds(document),
        "restored_from": (document.get("restore_from") or {}).get("path") or "snapshot",
        "rpo_seconds": rpo_seconds(document),
        "verification": document.get("verification") or {},
        "cleanup": document.get("cleanup") or {},
        "keep_seconds": (document.get("drill") or {}).get("keep_seconds", 0),
    }
    if document.get("cleanup_error"):
        # The failure path's cleanup itself failed (e.g. the guard refused): say why.
        facts["cleanup_error"] = notify.failure({"error": document["cleanup_error"]})
    return facts


def write_report(document: Document, facts: dict[str, Any], ttl: int) -> None:
    """One `drill-phase` audit item per phase the drill entered (FAILED for the one it stopped
    in), then the `drill` summary item with `facts` (see `summary`)."""
    operation_id, env = doc.operation_id(document), doc.env(document)
    phases = facts.get("phases") or {}
    for phase in PHASES:
        started, ended = phase_bounds(document, phase)
        if started is None:
            continue
        details: dict[str, Any] = {"phase": phase, "started": started, "ended": ended}
        if phase in phases:
            details["seconds"] = phases[phase]
        status = "SUCCEEDED" if ended else "FAILED"
        audit.put_event(operation_id, "drill-phase", status, details, env, ttl_days=ttl)
    audit.put_event(operation_id, "drill", str(facts["status"]), facts, env, ttl_days=ttl)


def notification(
    document: Document, status: str, failure: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Subject and facts of a drill's SNS message (no secrets: ids, times, outcomes)."""
    facts: dict[str, Any] = {
        "operation_id": document.get("operation_id"),
        "env": doc.env(document),
        "requested_by": (document.get("request") or {}).get("requested_by"),
        **summary(document, status),
    }
    phases = facts.get("phases") or {}
    if phases:
        facts["phase_seconds"] = ", ".join(f"{name} {secs:.1f}" for name, secs in phases.items())
    env = doc.env(document)
    if failure is not None:
        facts.update(failure)
        cleanup = document.get("cleanup") or {}
        if not cleanup.get("done"):
            facts["left_behind"] = (
                f"{cluster_id(document)} and/or its snapshot copy (cleanup: "
                f"{cleanup.get('cluster', 'not run')}/{cleanup.get('copy', 'not run')}); "
                f"expires at {(document.get('drill') or {}).get('expires_at')}"
            )
        subject = (
            f"aurora-restore [{env}] DRILL FAILED: {doc.target_cluster_id(document)} "
            f"({failure['error']})"
        )
        return subject, facts
    rto = facts.get("rto_seconds")
    took = f"in {rto:.0f} s" if isinstance(rto, (int, float)) else "(RTO unknown)"
    origin = facts.get("snapshot_id") or "?"
    if facts.get("restored_from") in ("clone", "point_in_time"):
        kind = "clone" if facts["restored_from"] == "clone" else "point-in-time restore"
        origin = f"a {kind} of {doc.source(document).get('cluster_id')}"
    rpo = facts.get("rpo_seconds")
    subject = (
        f"aurora-restore [{env}] DRILL SUCCEEDED: {origin} restored and verified {took}"
        + ("" if rpo is None else f", RPO {rpo:.0f} s")
    )
    return subject, facts


# --- recovery: a drill that timed out, was aborted, or failed with its cleanup unfinished ---


def recovery_pass(document: Document) -> dict[str, Any]:
    """One pass of recovery for a drill (lib/recovery.py calls it instead of the refresh's
    undo): the drill's cleanup (`clean_up`), reported in the shape of the undo
    (`document["undo"]`: actions, left, pending, done, wait_seconds, max_passes). A drill never
    changed the target, so there is nothing to roll back — only the drill's own cluster and
    copy to delete. A cluster at the drill's id that is not this drill's is left alone (done,
    with a note)."""
    undo = document.setdefault("undo", {"attempt": 0, "actions": []})
    undo["attempt"] = int(undo.get("attempt") or 0) + 1
    drill_id = cluster_id(document)
    try:
        status = clean_up(document)
    except UnsafeTarget as exc:
        undo.update(done=True, left=[drill_id], pending=[], note=f"{exc}; nothing deleted")
        _pace(document, undo)
        return dict(undo)
    document["cleanup"] = status
    actions = list(undo.get("actions") or [])
    for what, state in ((drill_id, status["cluster"]), ("its snapshot copy", status["copy"])):
        entry = f"deleting {what}"
        if state == "deleting" and entry not in actions:
            actions.append(entry)
    pending = [] if status["done"] else [
        f"{drill_id}: {status['cluster']}",
        f"snapshot copy: {status['copy']}",
    ]
    expires = (document.get("drill") or {}).get("expires_at") or "its expires-at tag"
    undo.update(
        serving="the target, untouched (a drill never changes it)",
        actions=actions,
        left=[] if status["done"] else [f"{drill_id} and/or its copy, until {expires}"],
        pending=pending,
        done=bool(status["done"]),
    )
    _pace(document, undo)
    return dict(undo)


def _pace(document: Document, undo: dict[str, Any]) -> None:
    """When to pass again and how often at most: like the `delete` wait loop (lib/polling)."""
    from handlers.lib import polling

    pipeline = document.get("pipeline") or {}
    loop = (pipeline.get("waits") or {}).get("delete") or {}
    poll = int(loop.get("poll_seconds", polling.FALLBACK_WAIT_SECONDS))
    growth = int(pipeline.get("poll_growth_percent", 0))
    waited = int(undo.get("waited_seconds", 0)) + int(undo.get("wait_seconds", 0))
    undo["waited_seconds"] = waited
    undo["wait_seconds"] = polling.next_wait(poll, growth, waited)
    undo["max_passes"] = int(loop.get("max_polls", 0)) + 3
