"""Step: the closing success item in the audit trail and the success notification."""

from __future__ import annotations

from typing import Any

from handlers.lib import audit, drill, notify
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, ttl_days


@pipeline_step("notify-success")
def handler(document: Document, context: Any) -> StepResult:
    facts = notify.summary(document, "SUCCEEDED")
    subject = (
        f"aurora-restore [{doc.env(document)}] SUCCEEDED: "
        f"{doc.target_cluster_id(document)} refreshed from {_origin(document)}"
    )
    if doc.is_drill(document):
        subject, facts = drill.notification(document, "SUCCEEDED")
    message_id = notify.publish(subject, facts, "SUCCEEDED")
    audit.put_event(
        doc.operation_id(document),
        "pipeline",
        "SUCCEEDED",
        {k: v for k, v in facts.items() if k != "timings"},
        doc.env(document),
        ttl_days=ttl_days(document),
    )
    return document, {"message_id": message_id}


def _origin(document: Document) -> str:
    """The snapshot id, or what a clone / point-in-time restore read (ChooseSource)."""
    chosen = document.get("restore_from") or {}
    source = str(doc.source(document).get("cluster_id") or "?")
    if chosen.get("path") == "clone":
        return f"a clone of {source}"
    if chosen.get("path") == "point_in_time":
        return f"{source} at {chosen.get('to_time') or 'latest'}"
    return str((document.get("snapshot") or {}).get("id") or "?")
