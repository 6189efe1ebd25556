"""The sweep: what earlier runs kept on purpose goes once it has expired, our final snapshots
once they are past retention. Run by `finalize` (every successful run), the failure path and
`recover` — so nothing of a failed run outlives its expiry by more than one run.

Only ours (the guard, lib/guards, in its sweep mode), only expired:
- clusters `<target>-stg-<token>` / `<target>-old-<token>` / `<target>-drill-<token>` (a
  restore drill's, when its cleanup could not finish) and copies `<target>-src-<token>`
  carrying our managed-by/env tags, the id of the operation their `<token>` names, and an
  `aurora-restore:expires-at` in the past (never the source, never a protected id). An old
  target is deleted with a final snapshot when the config asks for one
  (`<target>-final-<token>`); a staging cluster without (its snapshot still exists). Deletion
  protection that aurora-restore set is lifted first;
- final snapshots `<target>-final-<token>` tagged ours, with their operation's id and
  `aurora-restore:kind=final-snapshot`, older than `target.final_snapshot_retention_days`; the
  newest one is always kept.
An expired cluster that is not ours is reported (`left_alone`) and never touched. Last, the
master secret's `aurora-restore-<token>` labels of operations none of whose restored clusters
is left (under the target id or a derived one) are removed (`password_labels_removed`;
lib/secrets).

Best effort: a refusal (e.g. a cluster whose instances are still being deleted) is reported
and retried by the next sweep; it never fails the step that sweeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from handlers.lib import aws, clusters, guards, naming, rds, secrets, tags
from handlers.lib import document as doc
from handlers.lib.errors import UnsafeTarget

LOG = logging.getLogger("aurora_restore")
MASTER_SECRET = "MASTER_SECRET_ID"
CLUSTER_KINDS = ("stg", "old", "drill")  # drill: a restore drill's, left behind


def sweep(document: dict[str, Any], client: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    found: dict[str, list[str]] = {"deleted": [], "waiting": [], "errors": [], "left_alone": []}
    writes = clusters.Writes(guards.Guard(document, sweeping=True), client)
    target_id = doc.target_cluster_id(document)
    patterns = [naming.derived_pattern(target_id, kind) for kind in CLUSTER_KINDS]
    restored_by: dict[str, str | None] = {}  # cluster id -> the operation whose password it has
    for cluster in _clusters(client):
        cluster_id = str(cluster.get("DBClusterIdentifier", "")).lower()
        derived = any(p.fullmatch(cluster_id) for p in patterns)
        if not derived and cluster_id != target_id.lower():
            continue
        cluster_tags = rds.cluster_tags(client, cluster)
        if cluster.get("Status") != "deleting":
            restored_by[cluster_id] = _password_of(cluster_tags, doc.env(document))
        expired = derived and tags.expired(cluster_tags, now)
        if expired and _ours(writes, found, cluster_id, cluster, cluster_tags):
            _sweep_cluster(document, writes, found, cluster, cluster_tags)
    _sweep_snapshots(document, writes, now, found)
    live = {naming.token(op) for c, op in restored_by.items() if op and c not in found["deleted"]}
    _attempt(found, "password labels", _sweep_password_labels, document, live, found)
    return {key: value for key, value in found.items() if value}


def _password_of(cluster_tags: dict[str, str], env: str) -> str | None:
    """The operation whose master-secret version opens this cluster: the one that restored it
    (and reset its password) — not for a target brought back from its final snapshot (it has
    the password it had), nor for a cluster that is not ours."""
    if not tags.is_managed(cluster_tags, env) or tags.RESTORED_FROM_KEY in cluster_tags:
        return None
    return cluster_tags.get(tags.OPERATION_KEY)


def _sweep_password_labels(document: dict[str, Any], live: set[str], found: dict[str, Any]) -> None:
    """The cluster an operation restored is found by its label (lib/secrets.cluster_label)
    wherever it sits; once no such cluster is left — deleted here, by a run, the undo, or by
    hand — the label goes too (Secrets Manager limits the labels of a secret)."""
    sm = aws.client("secretsmanager", doc.region(document))
    secret = secrets.secret_id(MASTER_SECRET)
    removed = secrets.remove_labels(sm, secret, secrets.stale_cluster_labels(sm, secret, live))
    if removed:
        found["password_labels_removed"] = removed


def _ours(
    writes: clusters.Writes,
    found: dict[str, list[str]],
    cluster_id: str,
    cluster: dict[str, Any],
    cluster_tags: dict[str, str],
) -> bool:
    """Expired is not enough: only ours (lib/guards) — a cluster with our expiry tag but not
    our tags and its operation's id is reported, never touched."""
    try:
        writes.guard.cluster(cluster, cluster_tags, "delete")
    except UnsafeTarget as exc:
        LOG.warning("sweep: %s", exc)
        found["left_alone"].append(cluster_id)
        return False
    return True


def _sweep_cluster(
    document: dict[str, Any],
    writes: clusters.Writes,
    found: dict[str, list[str]],
    cluster: dict[str, Any],
    cluster_tags: dict[str, str],
) -> None:
    """An old target goes with a final snapshot when the config asks for one (named and tagged
    after the operation that swapped it out); anything else without."""
    target_id = doc.target_cluster_id(document)
    cluster_id = str(cluster["DBClusterIdentifier"]).lower()
    final_id = None
    if doc.target(document).get("final_snapshot") and naming.derived_pattern(
        target_id, "old"
    ).fullmatch(cluster_id):
        final_id = naming.final_snapshot_for(target_id, cluster_id)
    deleting = len(found["deleted"])
    _attempt(found, cluster_id, writes.delete_with_instances, cluster, cluster_tags, final_id)
    if final_id and len(found["deleted"]) > deleting:  # only the snapshot our delete made
        operation = cluster_tags[tags.SWAPPED_OUT_KEY]
        _attempt(found, final_id, _tag_final, writes, final_id, cluster_id, operation)


def _sweep_snapshots(
    document: dict[str, Any], writes: clusters.Writes, now: datetime, found: dict[str, list[str]]
) -> None:
    target_id = doc.target_cluster_id(document)
    env = doc.env(document)
    copies = naming.derived_pattern(target_id, "src")
    finals = naming.derived_pattern(target_id, "final")
    kept_finals: list[dict[str, Any]] = []
    for snapshot in _snapshots(writes.client):
        snapshot_id = str(snapshot.get("DBClusterSnapshotIdentifier", "")).lower()
        snapshot_tags = tags.from_list(snapshot.get("TagList"))
        if not tags.is_managed(snapshot_tags, env) or not _snapshot_ours(writes, snapshot):
            continue
        if copies.fullmatch(snapshot_id) and tags.expired(snapshot_tags, now):
            _attempt(found, snapshot_id, _delete_snapshot, writes, snapshot)
        elif finals.fullmatch(snapshot_id) and (
            snapshot_tags.get(tags.KIND_KEY) == tags.FINAL_SNAPSHOT_KIND
        ):
            kept_finals.append(snapshot)
    limit = now - timedelta(days=doc.final_snapshot_retention_days(document))
    newest_first = sorted(kept_finals, key=_created, reverse=True)
    for snapshot in newest_first[1:]:
        if snapshot.get("Status") == "available" and _created(snapshot) < limit:
            snapshot_id = str(snapshot["DBClusterSnapshotIdentifier"])
            _attempt(found, snapshot_id, _delete_snapshot, writes, snapshot)


def _snapshot_ours(writes: clusters.Writes, snapshot: dict[str, Any]) -> bool:
    try:
        writes.guard.snapshot(snapshot, "delete")
    except UnsafeTarget:
        return False
    return True


def _attempt(found: dict[str, list[str]], what: str, action: Any, *args: Any) -> None:
    try:
        outcome = action(*args)
    except Exception as exc:  # best effort: the next sweep tries again
        LOG.warning("sweep: %s: %s: %s", what, type(exc).__name__, exc)
        found["errors"].append(f"{what}: {type(exc).__name__}")
        return
    if outcome in ("deleting", "deleted"):
        found["deleted"].append(what)
    elif isinstance(outcome, str):
        found["waiting"].append(f"{what} ({outcome})")


def _tag_final(writes: clusters.Writes, snapshot_id: str, cluster_id: str, operation: str) -> str:
    writes.tag_final_snapshot(snapshot_id, cluster_id, operation)
    return "tagged"


def _delete_snapshot(writes: clusters.Writes, snapshot: dict[str, Any]) -> str:
    writes.delete_snapshot(snapshot)
    return "deleted"


def _created(snapshot: dict[str, Any]) -> datetime:
    created = snapshot.get("SnapshotCreateTime")
    if isinstance(created, datetime):
        return created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    return datetime.max.replace(tzinfo=timezone.utc)  # unknown age: never "too old"


def _clusters(client: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("describe_db_clusters").paginate():
        yield from page.get("DBClusters") or []


def _snapshots(client: Any) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("describe_db_cluster_snapshots")
    for page in paginator.paginate(SnapshotType="manual"):
        yield from page.get("DBClusterSnapshots") or []
