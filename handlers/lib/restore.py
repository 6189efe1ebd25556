"""The restore requests: a cluster configured like the target and tagged as ours.

`restore_parameters`: RestoreDBClusterFromSnapshot (the restore step on the snapshot path, a
drill, and the undo that brings back a `replace` target). `point_in_time_parameters`:
RestoreDBClusterToPointInTime of the source cluster — a copy-on-write clone
(UseLatestRestorableTime) or a full copy to a time (RestoreToTime, or the latest restorable
time) — configured the same way, without what that request does not take (EngineVersion: the
new cluster runs the source's version) and with KmsKeyId only for an encrypted source (AWS
rejects it for an unencrypted one)."""

from __future__ import annotations

from typing import Any

from handlers.lib import document as doc
from handlers.lib import drill, source_cluster, tags
from handlers.lib.step import Document


def restore_parameters(document: Document, cluster_id: str, snapshot_id: str) -> dict[str, Any]:
    target = doc.target(document)
    params: dict[str, Any] = {
        "DBClusterIdentifier": cluster_id,
        "SnapshotIdentifier": snapshot_id,
        "Engine": target.get("engine") or "aurora-postgresql",
        "Port": int(target.get("port") or 5432),
        "EnableIAMDatabaseAuthentication": bool(target.get("iam_auth")),
        "DeletionProtection": False,  # applied once it serves (finalize, the undo)
        "CopyTagsToSnapshot": True,
        "Tags": tags.to_list(tags.managed(doc.env(document), doc.operation_id(document))),
    }
    snapshot = document.get("snapshot") or {}
    serverless = target.get("serverless") or {}
    optional = {
        "EngineVersion": snapshot.get("restore_engine_version") or snapshot.get("engine_version"),
        "DBSubnetGroupName": target.get("subnet_group"),
        "VpcSecurityGroupIds": target.get("security_group_ids"),
        "KmsKeyId": target.get("kms_key_id"),
        "DBClusterParameterGroupName": target.get("parameter_group"),
        "EnableCloudwatchLogsExports": target.get("log_exports"),
        "ServerlessV2ScalingConfiguration": {
            "MinCapacity": float(serverless["min_capacity"]),
            "MaxCapacity": float(serverless["max_capacity"]),
        }
        if serverless
        else None,
    }
    params.update({key: value for key, value in optional.items() if value})
    if doc.is_drill(document):
        params["Tags"] = tags.to_list(drill.cluster_tags(document))
    return params


def point_in_time_parameters(document: Document, cluster_id: str) -> dict[str, Any]:
    """The RestoreDBClusterToPointInTime request of a clone or point-in-time run
    (`document["restore_from"]`, ChooseSource)."""
    chosen = document.get("restore_from") or {}
    params = restore_parameters(document, cluster_id, "")
    params.pop("SnapshotIdentifier")
    params.pop("Engine")
    params.pop("EngineVersion", None)  # not a parameter of this request
    if not chosen.get("encrypted"):
        params.pop("KmsKeyId", None)
    params["SourceDBClusterIdentifier"] = source_cluster.source_identifier(document)
    to_time = str(chosen.get("to_time") or source_cluster.LATEST)
    if chosen.get("path") == source_cluster.CLONE:
        params.update(RestoreType="copy-on-write", UseLatestRestorableTime=True)
    elif to_time == source_cluster.LATEST:
        params.update(RestoreType="full-copy", UseLatestRestorableTime=True)
    else:
        params.update(RestoreType="full-copy", RestoreToTime=source_cluster.parse_time(to_time))
    return params
