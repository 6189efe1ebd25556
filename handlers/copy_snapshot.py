"""Step: copy the snapshot into the target region/account, re-encrypted with the target's key.

Needed when the snapshot is in another region or account, or encrypted with another key;
otherwise SKIPPED (the restore reads it in place). Idempotent: a copy this operation already
made is reused. The copy keeps the source snapshot's tags plus ours (AWS ignores CopyTags
when Tags are given, so the two are merged here).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, naming, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import CopyFailed
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


def copy_reasons(document: Document) -> list[str]:
    snapshot = document["snapshot"]
    reasons = []
    if snapshot["region"] != doc.region(document):
        reasons.append("another region")
    if doc.account_id(document) and snapshot["account_id"] != doc.account_id(document):
        reasons.append("another account")
    kms = doc.target(document).get("kms_key_id")
    if snapshot.get("encrypted") and kms and not same_key(str(snapshot.get("kms_key_id")), kms):
        reasons.append("re-encryption with the target key")
    return reasons


def same_key(a: str, b: str) -> bool:
    """Key ARN vs bare key id of the same key count as equal; aliases never do (copy to be safe)."""
    return a.rsplit("key/", 1)[-1] == b.rsplit("key/", 1)[-1] and "alias/" not in a + b


@pipeline_step("copy-snapshot")
def handler(document: Document, context: Any) -> StepResult:
    reasons = copy_reasons(document)
    if not reasons:
        document["copy"] = {"required": False}
        return document, skipped("snapshot is in the target region and account, with its key")
    operation_id = doc.operation_id(document)
    copy_id = naming.copy_snapshot_id(doc.target_cluster_id(document), operation_id)
    client = aws.client("rds", doc.region(document))
    existing = rds.describe_cluster_snapshot(client, copy_id)
    if existing is not None:
        if tags.from_list(existing.get("TagList")).get(tags.OPERATION_KEY) != operation_id:
            raise CopyFailed(f"snapshot {copy_id} exists and was not made by this operation")
        status, action = str(existing.get("Status")), "reused"
    else:
        status, action = _copy(document, client, copy_id), "started"
    document["copy"] = {"required": True, "snapshot_id": copy_id, "status": status}
    polling.start(document, "copy")
    return document, {"copy_snapshot_id": copy_id, "reasons": reasons, "action": action}


def _copy(document: Document, client: Any, copy_id: str) -> str:
    snapshot = document["snapshot"]
    source_tags = _source_tags(snapshot)
    merged = {**source_tags, **tags.managed(doc.env(document), doc.operation_id(document))}
    kwargs: dict[str, Any] = {
        "SourceDBClusterSnapshotIdentifier": snapshot["arn"],
        "TargetDBClusterSnapshotIdentifier": copy_id,
        "CopyTags": True,
        "Tags": tags.to_list(merged),
    }
    kms = doc.target(document).get("kms_key_id")
    if kms:
        kwargs["KmsKeyId"] = kms
    if snapshot["region"] != doc.region(document):
        kwargs["SourceRegion"] = snapshot["region"]  # boto3 signs the PreSignedUrl from it
    response = client.copy_db_cluster_snapshot(**kwargs)
    return str(response["DBClusterSnapshot"].get("Status", "creating"))


def _source_tags(snapshot: dict[str, Any]) -> dict[str, str]:
    found = rds.describe_cluster_snapshot(aws.client("rds", snapshot["region"]), snapshot["arn"])
    # Our own tags from the source side (if any) are replaced by this operation's below.
    return {
        k: v
        for k, v in tags.from_list((found or {}).get("TagList")).items()
        if not k.startswith("aurora-restore:") and not k.startswith("aws:")
    }
