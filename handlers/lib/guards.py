"""The safety guard (contract), checked before any rename or delete of a cluster.

A cluster may be renamed or deleted only if all hold:
- its id is the configured target, or this operation's staging or old id — in a restore drill,
  only this drill's own cluster id (a drill never renames, modifies or deletes the target);
- it carries `aurora-restore:managed-by=aurora-restore` and `aurora-restore:env=<env>`;
- it is not the source cluster (same id, or same ARN);
- its id is not in `target.protected_cluster_ids`.
Otherwise UnsafeTarget is raised and the caller must change nothing.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import document as doc
from handlers.lib import naming, tags
from handlers.lib.errors import UnsafeTarget


def allowed_ids(document: dict[str, Any]) -> set[str]:
    if doc.is_drill(document):
        return {naming.work_cluster_id(document)}
    target_id = doc.target_cluster_id(document)
    operation_id = doc.operation_id(document)
    return {
        target_id.lower(),
        naming.staging_cluster_id(target_id, operation_id),
        naming.old_cluster_id(target_id, operation_id),
    }


def check_config(document: dict[str, Any]) -> None:
    """The configured target itself is neither the source nor protected."""
    target_id = doc.target_cluster_id(document).lower()
    source_id = str(doc.source(document).get("cluster_id") or "").lower()
    if target_id == source_id:
        raise UnsafeTarget(f"target {target_id} is the source cluster; refusing")
    if target_id in _protected(document):
        raise UnsafeTarget(f"target {target_id} is listed in protected_cluster_ids; refusing")


def check_cluster(
    document: dict[str, Any], cluster: dict[str, Any], cluster_tags: dict[str, str], action: str
) -> None:
    """Raise UnsafeTarget unless `action` (rename/delete) on this cluster is allowed."""
    cluster_id = str(cluster.get("DBClusterIdentifier", "")).lower()
    env = doc.env(document)
    check_config(document)
    if cluster_id not in allowed_ids(document):
        raise UnsafeTarget(
            f"refusing to {action} {cluster_id}: it is neither the target nor this "
            "operation's staging/old cluster"
        )
    source = doc.source(document)
    if cluster_id == str(source.get("cluster_id") or "").lower() or _is_source_arn(
        document, str(cluster.get("DBClusterArn", ""))
    ):
        raise UnsafeTarget(f"refusing to {action} {cluster_id}: it is the source cluster")
    if cluster_id in _protected(document):
        raise UnsafeTarget(f"refusing to {action} {cluster_id}: it is protected")
    if not tags.is_managed(cluster_tags, env):
        raise UnsafeTarget(
            f"refusing to {action} {cluster_id}: it lacks the tags "
            f"{tags.MANAGED_BY_KEY}={tags.MANAGED_BY_VALUE} and {tags.ENV_KEY}={env}"
        )


def _protected(document: dict[str, Any]) -> set[str]:
    return {str(c).lower() for c in doc.target(document).get("protected_cluster_ids") or []}


def _is_source_arn(document: dict[str, Any], arn: str) -> bool:
    source = doc.source(document)
    parts = arn.split(":")
    if len(parts) < 7:
        return False
    return (
        parts[3] == source.get("region")
        and parts[4] == str(source.get("account_id") or "")
        and parts[6].lower() == str(source.get("cluster_id") or "").lower()
    )
