"""Step: copy the snapshot into the target region/account, re-encrypted with the target's key.

Needed when the snapshot is in another region or account, or encrypted with another key;
otherwise SKIPPED (the restore reads it in place). `KmsKeyId` is sent only for an encrypted
snapshot (AWS refuses it for an unencrypted one, whose copy RestoreCluster then encrypts).
Idempotent: a copy this operation already made is reused. The copy keeps the source snapshot's tags plus ours (AWS ignores CopyTags
when Tags are given, so the two are merged here).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, naming, polling, rds, snapshots, tags
from handlers.lib import document as doc
from handlers.lib.errors import CopyFailed, SnapshotKeyUnusable
from handlers.lib.step import Document, StepResult, pipeline_step, skipped

copy_reasons = snapshots.copy_reasons
same_key = snapshots.same_key


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
    # AWS refuses KmsKeyId for an unencrypted snapshot (the copy stays unencrypted and the
    # restore encrypts it with the target key), and requires it for an encrypted one copied
    # across regions or accounts (FindSnapshot refuses that case already).
    if snapshot.get("encrypted") and kms:
        kwargs["KmsKeyId"] = kms
    elif snapshot.get("encrypted") and snapshots.crosses_boundary(document):
        raise SnapshotKeyUnusable(
            f"snapshot {snapshot['id']} is encrypted and copied across regions/accounts: "
            "set target.kms_key_id"
        )
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
