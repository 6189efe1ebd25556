"""Step: clean up after a successful refresh.

Turns on deletion protection of the refreshed target when `target.deletion_protection` (restored
clusters start without it, so that a failed run's clean-up can delete them), promotes this
run's master password to AWSCURRENT (already done after a swap; `replace` does it here), deletes the copied snapshot when `target.delete_copied_snapshot` (only the copy this
operation made), updates the app secret's host/port to the refreshed cluster (users untouched),
sweeps what earlier failed runs kept past its expiry and our final snapshots past retention
(lib/expiry), and puts the outcome in `document["result"]`.
"""

from __future__ import annotations

import json
from typing import Any

from handlers.lib import aws, clusters, expiry, guards, rds, secrets, tags
from handlers.lib import document as doc
from handlers.lib.errors import RestoreFailed, UnsafeTarget
from handlers.lib.step import Document, StepResult, pipeline_step

APP_SECRET = "APP_SECRET_ID"
MASTER_SECRET = "MASTER_SECRET_ID"


@pipeline_step("finalize")
def handler(document: Document, context: Any) -> StepResult:
    region = doc.region(document)
    client = aws.client("rds", region)
    target_id = doc.target_cluster_id(document)
    cluster = rds.describe_cluster(client, target_id)
    operation_id = doc.operation_id(document)
    cluster_tags = rds.cluster_tags(client, cluster) if cluster else {}
    if cluster is None or cluster_tags.get(tags.OPERATION_KEY) != operation_id:
        raise RestoreFailed(f"{target_id} is not the cluster this operation restored")
    writes = clusters.Writes(guards.Guard(document), client)
    protected = writes.protect(cluster, cluster_tags)
    sm = aws.client("secretsmanager", region)
    promoted = secrets.promote(
        sm, secrets.secret_id(MASTER_SECRET), secrets.master_version_id(operation_id)
    )
    copy_deleted = _delete_copy(writes, document, client)
    endpoint, port = str(cluster.get("Endpoint") or ""), int(cluster.get("Port") or 5432)
    secret_updated = _update_app_secret(sm, endpoint, port)
    swept = expiry.sweep(document, client)
    document["result"] = {
        "cluster_id": target_id,
        "endpoint": endpoint,
        "port": port,
        "snapshot_id": (document.get("snapshot") or {}).get("id"),
        "restored_from": (document.get("restore_from") or {}).get("path") or "snapshot",
        "old_cluster_id": document.get("old_cluster_id"),
        "copy_deleted": copy_deleted,
        # rds-db:connect policies name it: it changes with every refresh (IAM auth)
        "db_cluster_resource_id": cluster.get("DbClusterResourceId"),
        "iam_auth": bool(cluster.get("IAMDatabaseAuthenticationEnabled")),
    }
    return document, {
        "cluster_id": target_id,
        "copy_deleted": copy_deleted,
        "app_secret_updated": secret_updated,
        "master_password_promoted": promoted,
        "deletion_protection_turned_on": protected,
        "db_cluster_resource_id": cluster.get("DbClusterResourceId"),
        **({"swept": swept} if swept else {}),
    }


def _delete_copy(writes: clusters.Writes, document: Document, client: Any) -> bool:
    copy = document.get("copy") or {}
    if not copy.get("required") or not doc.target(document).get("delete_copied_snapshot"):
        return False
    snapshot = rds.describe_cluster_snapshot(client, str(copy["snapshot_id"]))
    if snapshot is None:
        return False
    try:
        writes.delete_snapshot(snapshot)
    except UnsafeTarget:
        return False  # not ours: leave it
    return True


def _update_app_secret(sm: Any, host: str, port: int) -> bool:
    secret = secrets.secret_id(APP_SECRET)
    value = secrets.read_json(sm, secret)
    if value.get("host") == host and value.get("port") == port:
        return False
    value.update({"host": host, "port": port})
    sm.put_secret_value(SecretId=secret, SecretString=json.dumps(value))
    return True
