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

import json
from typing import Any

from handlers.lib import aws, clusters, drill, guards, polling, rds, secrets, tags
from handlers.lib import document as doc
from handlers.lib.errors import UnsafeTarget
from handlers.lib.step import Document, StepResult, pipeline_step

MASTER_SECRET = "MASTER_SECRET_ID"
# RDS forbids / " @ and space in master passwords; quotes and backslash are left out too.
EXCLUDED = "/\"@' \\`"


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
    label = secrets.cluster_label(operation_id)
    password = _staged_password(
        sm, secret, version, label, str(cluster.get("MasterUsername") or "")
    )
    writes.set_master_password(cluster, cluster_tags, password)
    document["master_secret_version"] = version
    polling.start(document, "password")
    return document, {"cluster_id": cluster_id, "secret_version": version}


def _staged_password(sm: Any, secret: str, version: str, label: str, username: str) -> str:
    """The password of our version, creating it (AWSPENDING and the cluster's own label, which
    finds it after the next run moved AWSPENDING) on the first call."""
    try:
        value = secrets.read_json(sm, secret, VersionId=version)
        secrets.attach_label(sm, secret, version, label)
        return str(value["password"])
    except Exception as exc:
        if aws.error_code(exc) != "ResourceNotFoundException":
            raise
    previous = _current_value(sm, secret)
    password = sm.get_random_password(
        PasswordLength=32, ExcludeCharacters=EXCLUDED, RequireEachIncludedType=True
    )["RandomPassword"]
    value = {**previous, "username": username or previous.get("username") or "postgres"}
    value["password"] = password
    sm.put_secret_value(
        SecretId=secret,
        ClientRequestToken=version,
        SecretString=json.dumps(value),
        VersionStages=[secrets.PENDING, label],
    )
    return str(password)


def _current_value(sm: Any, secret: str) -> dict[str, Any]:
    try:
        return secrets.read_json(sm, secret)
    except Exception as exc:
        if aws.error_code(exc) == "ResourceNotFoundException":
            return {}  # the secret exists but has no value yet
        raise
