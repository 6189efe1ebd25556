"""Step: create the configured number and class of instances in the restored cluster.

Runs once the cluster is available (a restore brings no instances), only in the cluster this
operation restored (guarded). Idempotent: existing instances with our ids are kept.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, naming, polling, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import RestoreFailed
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("create-instances")
def handler(document: Document, context: Any) -> StepResult:
    target = doc.target(document)
    cluster_id = str(document["staging_cluster_id"])
    operation_id = doc.operation_id(document)
    client = aws.client("rds", doc.region(document))
    count = int(target.get("instance_count") or 1)
    ids = [
        naming.instance_id(doc.target_cluster_id(document), operation_id, n)
        for n in range(1, count + 1)
    ]
    cluster = rds.describe_cluster(client, cluster_id)
    cluster_tags = rds.cluster_tags(client, cluster) if cluster else {}
    if cluster is None or cluster_tags.get(tags.OPERATION_KEY) != operation_id:
        raise RestoreFailed(f"{cluster_id} is not the cluster this operation restored")
    writes = clusters.Writes(guards.Guard(document), client)
    created = []
    for instance_id in ids:
        existing = rds.describe_instance(client, instance_id)
        if existing is not None:
            if existing.get("DBClusterIdentifier") != cluster_id:
                raise RestoreFailed(f"instance {instance_id} exists in another cluster")
            continue
        writes.create_instance(
            cluster,
            cluster_tags,
            DBInstanceIdentifier=instance_id,
            Engine=target.get("engine") or "aurora-postgresql",
            DBInstanceClass=target.get("instance_class") or "db.r6g.large",
            PubliclyAccessible=False,
            Tags=tags.to_list(tags.managed(doc.env(document), operation_id)),
        )
        created.append(instance_id)
    document["instance_ids"] = ids
    polling.start(document, "instances")
    return document, {"cluster_id": cluster_id, "instances": len(ids), "created": len(created)}
