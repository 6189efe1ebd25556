"""The safety guard (contract): the ownership check every write of the pipeline goes through.

Nothing the pipeline writes — a rename, a modification (password, deletion protection), a
delete, an instance created or deleted in a cluster, a tag added or removed — goes to a
resource the guard refuses. The write helpers in lib/clusters.py take the guard and ask it
first; callers never write to RDS around them.

A cluster may be written to only if all hold:
- its id is the configured target, or this operation's staging or old id — in a restore drill,
  only this drill's own cluster id (a drill never renames, modifies or deletes the target);
  for the expiry sweep, any `<target>-stg|old|drill-<token>` id;
- it carries `aurora-restore:managed-by=aurora-restore` and `aurora-restore:env=<env>`;
- it is not the source cluster (same id, or same ARN) and its id is not in
  `target.protected_cluster_ids`;
- a derived id carries the id of the operation it is derived from (the `<token>` in it is that
  operation's): `aurora-restore:operation` on a cluster the operation restored (staging, drill),
  `aurora-restore:swapped-out-by` on the target it renamed away (old) — this operation's own, or
  (sweep) whichever operation's token the id carries. Only the configured target itself, made by
  an earlier run or a human, carries no operation of ours.
Snapshots likewise: this operation's copy or final snapshot id (sweep: any derived one), our
tags, and its operation's id. Otherwise UnsafeTarget is raised and the caller changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.lib import document as doc
from handlers.lib import naming, tags
from handlers.lib.errors import UnsafeTarget

# Which tag names the operation a derived id belongs to.
OWNER_KEY = {
    "stg": tags.OPERATION_KEY,
    "drill": tags.OPERATION_KEY,
    "src": tags.OPERATION_KEY,
    "final": tags.OPERATION_KEY,
    "old": tags.SWAPPED_OUT_KEY,
}
CLUSTER_KINDS = ("stg", "old", "drill")
SNAPSHOT_KINDS = ("src", "final")


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
    document: dict[str, Any],
    cluster: dict[str, Any],
    cluster_tags: dict[str, str],
    action: str,
    *,
    sweeping: bool = False,
) -> None:
    """Raise UnsafeTarget unless `action` (any write) on this cluster is allowed."""
    Guard(document, sweeping).cluster(cluster, cluster_tags, action)


@dataclass(frozen=True)
class Guard:
    """The ownership check for one operation; `sweeping`: the expiry sweep, which may also
    write to other operations' derived clusters and snapshots (each must carry the id of the
    operation its id derives from)."""

    document: dict[str, Any]
    sweeping: bool = False

    def cluster(self, cluster: dict[str, Any], cluster_tags: dict[str, str], action: str) -> None:
        cluster_id = str(cluster.get("DBClusterIdentifier", "")).lower()
        check_config(self.document)
        kind = self._derived_kind(cluster_id, CLUSTER_KINDS)
        if cluster_id not in allowed_ids(self.document) and not (self.sweeping and kind):
            raise UnsafeTarget(
                f"refusing to {action} {cluster_id}: it is neither the target nor this "
                "operation's staging/old cluster"
            )
        if cluster_id == _source_id(self.document) or _is_source_arn(
            self.document, str(cluster.get("DBClusterArn", ""))
        ):
            raise UnsafeTarget(f"refusing to {action} {cluster_id}: it is the source cluster")
        if cluster_id in _protected(self.document):
            raise UnsafeTarget(f"refusing to {action} {cluster_id}: it is protected")
        self._managed(cluster_id, cluster_tags, action)
        if kind:
            self._owned_by_its_operation(cluster_id, kind, cluster_tags, action)

    def snapshot(self, snapshot: dict[str, Any], action: str) -> None:
        snapshot_id = str(snapshot.get("DBClusterSnapshotIdentifier", "")).lower()
        snapshot_tags = tags.from_list(snapshot.get("TagList"))
        kind = self._derived_kind(snapshot_id, SNAPSHOT_KINDS)
        if not kind or not (self.sweeping or snapshot_id in self._own_snapshot_ids()):
            raise UnsafeTarget(
                f"refusing to {action} snapshot {snapshot_id}: it is not this operation's "
                "copy or final snapshot"
            )
        self._managed(snapshot_id, snapshot_tags, action)
        self._owned_by_its_operation(snapshot_id, kind, snapshot_tags, action)

    def final_snapshot(
        self, snapshot: dict[str, Any], deleted_cluster_id: str, operation_id: str
    ) -> None:
        """A final snapshot is born without our tags. It is ours to tag when it sits at the
        final id of `operation_id` (this operation's; for the sweep, the one the deleted
        cluster's id derives from) and AWS names `deleted_cluster_id` — a cluster the guard let
        us delete — as its cluster (delete_with_instances refuses a final id taken before)."""
        snapshot_id = str(snapshot.get("DBClusterSnapshotIdentifier", "")).lower()
        expected = naming.final_snapshot_id(doc.target_cluster_id(self.document), operation_id)
        source = str(snapshot.get("DBClusterIdentifier", "")).lower()
        if (
            (not self.sweeping and operation_id != doc.operation_id(self.document))
            or snapshot_id != expected
            or source != deleted_cluster_id.lower()
        ):
            raise UnsafeTarget(
                f"refusing to tag snapshot {snapshot_id}: it is not the final snapshot of "
                f"{deleted_cluster_id} that operation {operation_id} made"
            )

    def may_lift_protection(self, cluster_tags: dict[str, str]) -> bool:
        """Deletion protection that aurora-restore set: on a cluster it restored, with
        `target.deletion_protection` configured (a human's protection is never lifted)."""
        return tags.OPERATION_KEY in cluster_tags and bool(
            doc.target(self.document).get("deletion_protection")
        )

    def _derived_kind(self, resource_id: str, kinds: tuple[str, ...]) -> str | None:
        target_id = doc.target_cluster_id(self.document)
        for kind in kinds:
            if naming.derived_pattern(target_id, kind).fullmatch(resource_id):
                return kind
        return None

    def _own_snapshot_ids(self) -> set[str]:
        target_id = doc.target_cluster_id(self.document)
        operation_id = doc.operation_id(self.document)
        return {
            naming.copy_snapshot_id(target_id, operation_id),
            naming.final_snapshot_id(target_id, operation_id),
        }

    def _managed(self, resource_id: str, resource_tags: dict[str, str], action: str) -> None:
        env = doc.env(self.document)
        if not tags.is_managed(resource_tags, env):
            raise UnsafeTarget(
                f"refusing to {action} {resource_id}: it lacks the tags "
                f"{tags.MANAGED_BY_KEY}={tags.MANAGED_BY_VALUE} and {tags.ENV_KEY}={env}"
            )

    def _owned_by_its_operation(
        self, resource_id: str, kind: str, resource_tags: dict[str, str], action: str
    ) -> None:
        key = OWNER_KEY[kind]
        owner = resource_tags.get(key) or ""
        ours = naming.token(owner) == resource_id.rsplit("-", 1)[-1] if owner else False
        if ours and not self.sweeping:
            ours = owner == doc.operation_id(self.document)
        if not ours:
            raise UnsafeTarget(
                f"refusing to {action} {resource_id}: it does not carry {key} of the "
                f"operation its id belongs to (found {owner or 'none'}); not ours"
            )


def _source_id(document: dict[str, Any]) -> str:
    return str(doc.source(document).get("cluster_id") or "").lower()


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
