"""Step: give the restored cluster a new random master password (never production's).

The password goes into the env's master secret as a new version labelled AWSPENDING (its
version id derives from the operation, so a retried invocation reuses the same password) and
is applied with modify_db_cluster(ApplyImmediately). It is *not* promoted here: AWSCURRENT
keeps opening the cluster that serves under the target id until this run's cluster takes its
place (check_rename after the swap-in; finalize for `replace`). The database steps in between
read this version (`document["master_secret_version"]`). A failed run leaves AWSCURRENT as it
was; the version's own label `aurora-restore-<token>` (lib/secrets.cluster_label) opens the
staging cluster kept for inspection — AWSPENDING moves on at the next run.

In a restore drill the env's master secret is never touched: the drill cluster's password goes
into the drill secret (`DRILL_SECRET_ID`, `aurora-restore/<env>/drill`) as a version of its own.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, drill, guards, polling, rds, secrets, tags
from handlers.lib import document as doc
from handlers.lib.errors import UnsafeTarget
from handlers.lib.step import Document, StepResult, pipeline_step

MASTER_SECRET = "MASTER_SECRET_ID"
EXCLUDED = secrets.MASTER_PASSWORD_EXCLUDED


version_id = secrets.master_version_id


@pipeline_step("reset-master-password")
def handler(document: Document, context: Any) -> StepResult:
    operation_id = doc.operation_id(document)
    cluster_id = str(document["staging_cluster_id"])
    region = doc.region(document)
    client = aws.client("rds", region)
    cluster = rds.describe_cluster(client, cluster_id)
    cluster_tags = rds.cluster_tags(client, cluster) if cluster else {}
    # Only the cluster this operation restored: never touch another cluster's credentials.
    if cluster is None or cluster_tags.get(tags.OPERATION_KEY) != operation_id:
        raise UnsafeTarget(f"{cluster_id} was not restored by this operation; password untouched")
    writes = clusters.Writes(guards.Guard(document), client)
    writes.guard.cluster(cluster, cluster_tags, "change the master password of")
    sm = aws.client("secretsmanager", region)
    if doc.is_drill(document):
        drill_secret = secrets.secret_id(drill.DRILL_SECRET_ENV)
        password = drill.store_password(sm, drill_secret, operation_id, cluster, EXCLUDED)
        writes.set_master_password(cluster, cluster_tags, password)
        polling.start(document, "password")
        return document, {"cluster_id": cluster_id, "secret": drill_secret}
    secret = secrets.secret_id(MASTER_SECRET)
    version = version_id(operation_id)
    password = secrets.staged_master_password(
        sm, secret, operation_id, str(cluster.get("MasterUsername") or ""), EXCLUDED
    )
    writes.set_master_password(cluster, cluster_tags, password)
    document["master_secret_version"] = version
    polling.start(document, "password")
    return document, {"cluster_id": cluster_id, "secret_version": version}
