"""The RestoreDBClusterFromSnapshot request: a cluster configured like the target and tagged as
ours (the restore step, a drill, and the undo that brings back a `replace` target)."""

from __future__ import annotations

from typing import Any

from handlers.lib import document as doc
from handlers.lib import drill, tags
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
