"""Preflight checks of the way a run gets production's data (docs/fast-paths.md): which path
it takes and why — the pipeline's own ChooseSource code (handlers/lib/source_cluster.py), run
read-only — and, for a clone or a point-in-time restore, the source cluster: visible from this
account (a shared one through RAM, `DescribeDBClusters` with `IncludeShared`), cloneable (an
instance; room in its clone group is a quota row, preflight_quotas.py, from `clone_source`),
and the time asked for inside its restorable window. The key the restore uses is asked of
IAM's policy simulator with the rest (preflight_access.py)."""

from __future__ import annotations

from typing import Any

from ..resources.base.resource import Context
from .preflight_checks import FAIL, PASS, Check, pipeline, pipeline_error

FIXES = {
    "RestorePathRefused": "set source.restore_from to a path that allows it (auto allows every "
    "path the source's place permits), or drop --snapshot / --to-time / --from",
    "SourceUnavailable": "see the message: share the cluster with this account through RAM "
    "(`aurora-restore clone-share`), start it, give it an instance, or restore a snapshot "
    "(source.restore_from: snapshot or auto)",
    "SourceIncompatible": "see the message (target.engine_version, source.kms_key_id), or "
    "restore a snapshot (source.restore_from: snapshot or auto)",
    "RestoreTimeOutsideWindow": "pick a time inside the window, or --to-time latest",
    "QuotaExceeded": "delete clones of the source that are no longer needed, or restore a "
    "snapshot (source.restore_from: snapshot, or auto, which does so by itself)",
}


def restore_path(ctx: Context, document: dict[str, Any]) -> tuple[list[Check], dict[str, Any] | None]:
    """The rows of the path check, and the document's `restore_from` part (None when the path
    would be refused: the run would fail at ChooseSource before creating anything)."""
    source_cluster = pipeline("lib.source_cluster")
    try:
        chosen: dict[str, Any] = source_cluster.choose(
            document, lambda region: ctx.clients.get("rds", region)
        )
    except pipeline_error() as exc:
        name = type(exc).__name__
        return [Check("source", "restore path", FAIL, f"{name}: {exc}", FIXES.get(name, ""))], None
    rows = [Check("source", "restore path", PASS, f"{chosen['path']}: {chosen['reason']}")]
    if chosen["path"] == source_cluster.SNAPSHOT:
        return rows, chosen
    shared = " (shared with this account through RAM)" if source_cluster.cross_account(
        document
    ) else ""
    encryption = (
        f"encrypted with {chosen['kms_key_id']}" if chosen.get("encrypted") else "unencrypted"
    )
    rows.append(
        Check(
            "source",
            "source cluster",
            PASS,
            f"{chosen['source_arn']} visible{shared}, engine {chosen['engine']} "
            f"{chosen['engine_version']}, {encryption}",
        )
    )
    if chosen["path"] == source_cluster.POINT_IN_TIME:
        rows.append(
            Check(
                "source",
                "point in time",
                PASS,
                f"{chosen.get('to_time')} inside [{chosen.get('earliest_restorable')}, "
                f"{chosen.get('latest_restorable')}]; the latest restorable time trails now by "
                f"{chosen.get('rpo_seconds')} s (RPO)",
            )
        )
    return rows, chosen


def clone_source(
    ctx: Context, document: dict[str, Any], chosen: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The source cluster when the run clones it — or would, but was refused (its clone
    quota, among others): what the quota rows count the clones of. None otherwise."""
    source_cluster = pipeline("lib.source_cluster")
    if chosen is not None:
        cloning = chosen["path"] == source_cluster.CLONE
    else:
        asked = (document.get("request") or {}).get("restore_from")
        cloning = (asked or source_cluster.configured(document)) == source_cluster.CLONE
    if not cloning:
        return None
    try:
        found: dict[str, Any] | None = source_cluster.describe(
            document, lambda region: ctx.clients.get("rds", region)
        )
    except Exception:  # not visible, no permission: the restore path row says why
        return None
    return found
