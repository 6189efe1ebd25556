"""Step: preflight safety check of the target, before any copy or restore is spent on it.

Refuses a target that:
- is the source, is protected, exists without our managed-by/env tags, or has deletion
  protection aurora-restore did not set (UnsafeTarget);
- exists but is not `available` — stopped, modifying, renaming, … (TargetNotAvailable, naming
  the state): AWS refuses renames and deletes then, and we would find out only after hours of
  copy and restore;
- manages its master password through RDS (`ManageMasterUserPassword`; TargetUnsupported): RDS
  refuses `MasterUserPassword` for such a cluster, and the refreshed cluster would not keep the
  RDS-managed secret the applications read.
It also refuses when this operation's staging or old id is already taken by a cluster we did
not restore in this operation, and when the run would exceed one of the account's RDS quotas
(lib/quotas.py: clusters, manual snapshots, copies in flight; QuotaExceeded). The same guard runs again right before every rename and delete.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, guards, naming, quotas, rds
from handlers.lib import document as doc
from handlers.lib.errors import TargetNotAvailable, TargetUnsupported, UnsafeTarget
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("check-target")
def handler(document: Document, context: Any) -> StepResult:
    guards.check_config(document)
    client = aws.client("rds", doc.region(document))
    target_id = doc.target_cluster_id(document)
    operation_id = doc.operation_id(document)
    target = rds.describe_cluster(client, target_id)
    if target is not None:
        target_tags = rds.cluster_tags(client, target)
        check_existing_target(document, target, target_tags)
    for other in (
        naming.staging_cluster_id(target_id, operation_id),
        naming.old_cluster_id(target_id, operation_id),
    ):
        found = rds.describe_cluster(client, other)
        if found is not None and not _ours(document, found, rds.cluster_tags(client, found)):
            raise UnsafeTarget(f"cluster id {other} is already taken; refusing")
    usage = quotas.check(client, doc.settings(document), target is not None)
    quotas.refuse(usage)
    return document, {
        "quotas": [u.to_json() for u in usage],
        "target_cluster_id": target_id,
        "target_exists": target is not None,
        "target_status": target.get("Status") if target else None,
        "strategy": doc.strategy(document),
    }


def _ours(document: Document, cluster: dict[str, Any], cluster_tags: dict[str, str]) -> bool:
    try:
        guards.check_cluster(document, cluster, cluster_tags, "use")
    except UnsafeTarget:
        return False
    return True


def check_existing_target(
    document: Document, target: dict[str, Any], target_tags: dict[str, str]
) -> None:
    """Every refusal about an existing target (also used by `aurora-restore preflight`)."""
    guards.check_cluster(document, target, target_tags, "replace")
    check_state(target)
    # Refuse now, not after hours of copy/restore: delete_old_cluster would refuse later.
    if target.get("DeletionProtection") and not guards.Guard(document).may_lift_protection(
        target_tags
    ):
        raise UnsafeTarget(
            f"{target.get('DBClusterIdentifier')} has deletion protection that aurora-restore "
            "did not set; refusing"
        )


def check_state(cluster: dict[str, Any]) -> None:
    """Raise unless AWS would accept a rename and a delete of this cluster now."""
    cluster_id = cluster.get("DBClusterIdentifier")
    status = str(cluster.get("Status"))
    if status != "available":
        hint = " (start it first: aws rds start-db-cluster)" if status == "stopped" else ""
        raise TargetNotAvailable(
            f"target {cluster_id} is {status!r}, not 'available': AWS refuses renames and "
            f"deletes in that state; refusing before anything is copied{hint}"
        )
    if cluster.get("MasterUserSecret"):
        raise TargetUnsupported(
            f"target {cluster_id} has an RDS-managed master password (ManageMasterUserPassword): "
            "RDS refuses MasterUserPassword for it, and the refreshed cluster would not keep "
            "the RDS-managed secret. Turn it off first: aws rds modify-db-cluster "
            f"--db-cluster-identifier {cluster_id} --no-manage-master-user-password "
            "--master-user-password … --apply-immediately (aurora-restore keeps the password "
            "in its own master secret)"
        )
