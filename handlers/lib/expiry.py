"""The sweep: what earlier runs kept on purpose goes once it has expired, our final snapshots
once they are past retention. Run by `finalize` (every successful run), the failure path and
`recover` — so nothing of a failed run outlives its expiry by more than one run.

Only ours, only expired:
- clusters `<target>-stg-<token>` / `<target>-old-<token>` and copies `<target>-src-<token>`
  carrying our managed-by/env tags and an `aurora-restore:expires-at` in the past (never the
  source, never a protected id). An old target is deleted with a final snapshot when the config
  asks for one (`<target>-final-<token>`); a staging cluster without (its snapshot still exists);
- final snapshots `<target>-final-<token>` tagged ours and `aurora-restore:kind=final-snapshot`,
  older than `target.final_snapshot_retention_days`; the newest one is always kept.

Best effort: a refusal (e.g. a cluster whose instances are still being deleted) is reported
and retried by the next sweep; it never fails the step that sweeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from handlers.lib import clusters, naming, rds, tags
from handlers.lib import document as doc

LOG = logging.getLogger("aurora_restore")


def sweep(document: dict[str, Any], client: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    found: dict[str, list[str]] = {"deleted": [], "waiting": [], "errors": []}
    target_id = doc.target_cluster_id(document)
    env = doc.env(document)
    excluded = {str(c).lower() for c in doc.target(document).get("protected_cluster_ids") or []}
    excluded.add(str(doc.source(document).get("cluster_id") or "").lower())
    staging = naming.derived_pattern(target_id, "stg")
    old = naming.derived_pattern(target_id, "old")
    final = bool(doc.target(document).get("final_snapshot"))
    for cluster in _clusters(client):
        cluster_id = str(cluster.get("DBClusterIdentifier", "")).lower()
        if cluster_id in excluded or not (
            staging.fullmatch(cluster_id) or old.fullmatch(cluster_id)
        ):
            continue
        cluster_tags = rds.cluster_tags(client, cluster)
        if not (tags.is_managed(cluster_tags, env) and tags.expired(cluster_tags, now)):
            continue
        final_id = None
        if final and old.fullmatch(cluster_id):
            final_id = naming.final_snapshot_for(target_id, cluster_id)
        _attempt(found, cluster_id, clusters.delete_with_instances, client, cluster, final_id)
        if final_id:
            _attempt(found, final_id, _tag_final, client, final_id, env, cluster_tags)
    _sweep_snapshots(document, client, now, found)
    return {key: value for key, value in found.items() if value}


def _sweep_snapshots(
    document: dict[str, Any], client: Any, now: datetime, found: dict[str, list[str]]
) -> None:
    target_id = doc.target_cluster_id(document)
    env = doc.env(document)
    copies = naming.derived_pattern(target_id, "src")
    finals = naming.derived_pattern(target_id, "final")
    kept_finals: list[dict[str, Any]] = []
    for snapshot in _snapshots(client):
        snapshot_id = str(snapshot.get("DBClusterSnapshotIdentifier", "")).lower()
        snapshot_tags = tags.from_list(snapshot.get("TagList"))
        if not tags.is_managed(snapshot_tags, env):
            continue
        if copies.fullmatch(snapshot_id) and tags.expired(snapshot_tags, now):
            _attempt(found, snapshot_id, _delete_snapshot, client, snapshot_id)
        elif finals.fullmatch(snapshot_id) and (
            snapshot_tags.get(tags.KIND_KEY) == tags.FINAL_SNAPSHOT_KIND
        ):
            kept_finals.append(snapshot)
    limit = now - timedelta(days=doc.final_snapshot_retention_days(document))
    newest_first = sorted(kept_finals, key=_created, reverse=True)
    for snapshot in newest_first[1:]:
        if snapshot.get("Status") == "available" and _created(snapshot) < limit:
            snapshot_id = str(snapshot["DBClusterSnapshotIdentifier"])
            _attempt(found, snapshot_id, _delete_snapshot, client, snapshot_id)


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


def _tag_final(client: Any, snapshot_id: str, env: str, cluster_tags: dict[str, str]) -> str:
    operation = cluster_tags.get(tags.OPERATION_KEY) or "sweep"
    clusters.tag_final_snapshot(client, snapshot_id, env, operation)
    return "tagged"


def _delete_snapshot(client: Any, snapshot_id: str) -> str:
    client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot_id)
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
