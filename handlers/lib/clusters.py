"""Every RDS write of the pipeline — steps, failure path, expiry sweep, drill cleanup — goes
through `Writes`: each method asks the guard (lib/guards) first, so nothing is ever written
(tags included) to a cluster or snapshot that is not ours and this operation's (contract).
Written to AWS's rules (notes/aws-rules.md): renames and deletes only of `available` clusters,
instances before their cluster, deletion protection lifted (only where aurora-restore set it)
before a delete, a final snapshot or SkipFinalSnapshot on every delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.lib import aws, guards, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import UnsafeTarget

AVAILABLE = "available"
# A cluster in one of these will not become available by waiting.
BROKEN = frozenset(
    {
        "failed",
        "inaccessible-encryption-credentials",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "incompatible-credentials",
        "storage-full",
    }
)
INSTANCE_GONE = ("DBInstanceNotFound", "DBInstanceNotFoundFault")

Resource = dict[str, Any]


def status(cluster: dict[str, Any] | None) -> str:
    return "missing" if cluster is None else str(cluster.get("Status") or "unknown")


@dataclass(frozen=True)
class Writes:
    """The guarded writes of one operation (`guard`) through one RDS client."""

    guard: guards.Guard
    client: Any

    # --- clusters ----------------------------------------------------------------------------

    def rename(self, cluster: Resource, cluster_tags: dict[str, str], new_id: str) -> None:
        self.guard.cluster(cluster, cluster_tags, "rename")
        self.client.modify_db_cluster(
            DBClusterIdentifier=cluster["DBClusterIdentifier"],
            NewDBClusterIdentifier=new_id,
            ApplyImmediately=True,
        )

    def mark_swapped_out(self, cluster: Resource, cluster_tags: dict[str, str]) -> None:
        """This operation's id on the target it is about to rename to its old id: the proof,
        later, that the old cluster is ours to rename back, keep or delete."""
        operation_id = doc.operation_id(self.guard.document)
        if cluster_tags.get(tags.SWAPPED_OUT_KEY) != operation_id:
            self.add_tags(cluster, cluster_tags, {tags.SWAPPED_OUT_KEY: operation_id})

    def set_master_password(
        self, cluster: Resource, cluster_tags: dict[str, str], password: str
    ) -> None:
        self.guard.cluster(cluster, cluster_tags, "change the master password of")
        self.client.modify_db_cluster(
            DBClusterIdentifier=cluster["DBClusterIdentifier"],
            MasterUserPassword=password,
            ApplyImmediately=True,
        )

    def protect(self, cluster: Resource, cluster_tags: dict[str, str]) -> bool:
        """Deletion protection on the refreshed target when the config asks for it (restored
        clusters start without it, so a failed run's clean-up can delete them). True when set."""
        wanted = bool(doc.target(self.guard.document).get("deletion_protection"))
        if not wanted or cluster.get("DeletionProtection"):
            return False
        self.guard.cluster(cluster, cluster_tags, "protect")
        self._set_protection(cluster, True)
        return True

    def modify_settings(self, cluster: Resource, cluster_tags: dict[str, str],
                        **params: Any) -> None:
        """Settings parity (lib/parity.py): the old target's settings on this cluster."""
        self.guard.cluster(cluster, cluster_tags, "change the settings of")
        self.client.modify_db_cluster(
            DBClusterIdentifier=cluster["DBClusterIdentifier"], ApplyImmediately=True, **params
        )

    def add_role(self, cluster: Resource, cluster_tags: dict[str, str], role_arn: str,
                 feature: str) -> None:
        self.guard.cluster(cluster, cluster_tags, "associate an IAM role with")
        extra = {"FeatureName": feature} if feature else {}
        self.client.add_role_to_db_cluster(
            DBClusterIdentifier=cluster["DBClusterIdentifier"], RoleArn=role_arn, **extra
        )

    def modify_instance(self, cluster: Resource, cluster_tags: dict[str, str],
                        instance_id: str, **params: Any) -> None:
        """One instance of `cluster` (the caller found it there)."""
        self.guard.cluster(cluster, cluster_tags, "change the settings of an instance of")
        self.client.modify_db_instance(
            DBInstanceIdentifier=instance_id, ApplyImmediately=True, **params
        )

    def reboot_instance(self, cluster: Resource, cluster_tags: dict[str, str],
                        instance_id: str) -> None:
        """A pending parameter group change takes effect (the caller found it there)."""
        self.guard.cluster(cluster, cluster_tags, "reboot an instance of")
        self.client.reboot_db_instance(DBInstanceIdentifier=instance_id)

    def create_instance(
        self, cluster: Resource, cluster_tags: dict[str, str], **params: Any
    ) -> None:
        self.guard.cluster(cluster, cluster_tags, "create an instance in")
        self.client.create_db_instance(DBClusterIdentifier=cluster["DBClusterIdentifier"], **params)

    def delete_with_instances(
        self, cluster: Resource, cluster_tags: dict[str, str], final_snapshot_id: str | None
    ) -> str:
        """Delete the cluster's instances, then the cluster (with a final snapshot when an id
        is given), lifting deletion protection aurora-restore set. Returns "deleting", or
        "waiting for its instances" when AWS refuses the cluster delete because instances are
        still going away (call again later)."""
        self.guard.cluster(cluster, cluster_tags, "delete")
        cluster_id = str(cluster["DBClusterIdentifier"])
        if status(cluster) == "deleting":
            return "deleting"
        if final_snapshot_id and rds.describe_cluster_snapshot(self.client, final_snapshot_id):
            # Our final snapshot is recognised by its id and cluster: refuse an id taken before.
            raise UnsafeTarget(
                f"refusing to delete {cluster_id}: its final snapshot id {final_snapshot_id} "
                "is already taken"
            )
        if cluster.get("DeletionProtection"):
            if not self.guard.may_lift_protection(cluster_tags):
                raise UnsafeTarget(
                    f"{cluster_id} has deletion protection that aurora-restore did not set; "
                    "refusing"
                )
            self._set_protection(cluster, False)
        for instance_id in rds.member_ids(cluster):
            try:
                self.delete_instance(cluster, cluster_tags, instance_id)
            except Exception as exc:
                if aws.error_code(exc) not in (*INSTANCE_GONE, "InvalidDBInstanceState"):
                    raise
        try:
            self.delete_cluster(cluster, cluster_tags, final_snapshot_id)
        except Exception as exc:
            code = aws.error_code(exc)
            if code in ("InvalidDBClusterStateFault", "DBClusterToBeDeletedHasActiveMembers"):
                return "waiting for its instances"
            if code == rds.CLUSTER_NOT_FOUND:
                return "deleting"
            raise
        return "deleting"

    def delete_instance(
        self, cluster: Resource, cluster_tags: dict[str, str], instance_id: str
    ) -> None:
        """One instance of `cluster` (the caller found it there); AWS's errors are raised."""
        self.guard.cluster(cluster, cluster_tags, "delete an instance of")
        self.client.delete_db_instance(DBInstanceIdentifier=instance_id)

    def delete_cluster(
        self, cluster: Resource, cluster_tags: dict[str, str], final_snapshot_id: str | None
    ) -> None:
        """The cluster itself (its instances must be gone); AWS's errors are raised."""
        self.guard.cluster(cluster, cluster_tags, "delete")
        kwargs: dict[str, Any] = {"DBClusterIdentifier": cluster["DBClusterIdentifier"]}
        if final_snapshot_id:
            kwargs["FinalDBSnapshotIdentifier"] = final_snapshot_id
        else:
            kwargs["SkipFinalSnapshot"] = True
        self.client.delete_db_cluster(**kwargs)

    def _set_protection(self, cluster: Resource, on: bool) -> None:
        self.client.modify_db_cluster(
            DBClusterIdentifier=cluster["DBClusterIdentifier"],
            DeletionProtection=on,
            ApplyImmediately=True,
        )

    # --- tags (clusters and snapshots) -------------------------------------------------------

    def add_tags(
        self, resource: Resource, resource_tags: dict[str, str], new: dict[str, str]
    ) -> None:
        self._check(resource, resource_tags, "tag")
        self.client.add_tags_to_resource(ResourceName=_arn(resource), Tags=tags.to_list(new))

    def remove_tags(
        self, resource: Resource, resource_tags: dict[str, str], keys: list[str]
    ) -> list[str]:
        """Remove those of `keys` the resource carries; returns them."""
        present = [key for key in keys if key in resource_tags]
        if present:
            self._check(resource, resource_tags, "untag")
            self.client.remove_tags_from_resource(ResourceName=_arn(resource), TagKeys=present)
        return present

    def mark_expiring(
        self, resource: Resource, resource_tags: dict[str, str], expires_at: str
    ) -> bool:
        """Tag a resource we keep for inspection with its expiry (an existing expiry is kept, so
        a second pass does not push it back). True when the tag was added."""
        if resource_tags.get(tags.EXPIRES_KEY):
            return False
        self.add_tags(resource, resource_tags, {tags.EXPIRES_KEY: expires_at})
        return True

    def _check(self, resource: Resource, resource_tags: dict[str, str], action: str) -> None:
        if "DBClusterSnapshotIdentifier" in resource:
            self.guard.snapshot(resource, action)
        else:
            self.guard.cluster(resource, resource_tags, action)

    # --- snapshots -----------------------------------------------------------------------------

    def delete_snapshot(self, snapshot: Resource) -> None:
        self.guard.snapshot(snapshot, "delete")
        self.client.delete_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=snapshot["DBClusterSnapshotIdentifier"]
        )

    def tag_final_snapshot(
        self, snapshot_id: str, deleted_cluster_id: str, operation_id: str
    ) -> bool:
        """Give the final snapshot of a cluster we deleted our tags (DeleteDBCluster takes none
        for it), `operation_id` being the one its id derives from. False while it is not
        visible yet; UnsafeTarget when the snapshot at that id is not that cluster's."""
        snapshot = rds.describe_cluster_snapshot(self.client, snapshot_id)
        if snapshot is None:
            return False
        wanted = {
            **tags.managed(doc.env(self.guard.document), operation_id),
            tags.KIND_KEY: tags.FINAL_SNAPSHOT_KIND,
        }
        present = tags.from_list(snapshot.get("TagList"))
        missing = {k: v for k, v in wanted.items() if present.get(k) != v}
        if missing:
            self.guard.final_snapshot(snapshot, deleted_cluster_id, operation_id)
            self.client.add_tags_to_resource(
                ResourceName=snapshot["DBClusterSnapshotArn"], Tags=tags.to_list(missing)
            )
        return True


def _arn(resource: Resource) -> str:
    return str(resource.get("DBClusterSnapshotArn") or resource["DBClusterArn"])
