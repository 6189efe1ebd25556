"""Step: the closing success item in the audit trail and the success notification."""

from __future__ import annotations

from typing import Any

from handlers.lib import audit, drill, notify
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, ttl_days


@pipeline_step("notify-success")
def handler(document: Document, context: Any) -> StepResult:
    facts = notify.summary(document, "SUCCEEDED")
    snapshot = (document.get("snapshot") or {}).get("id") or "?"
    subject = (
        f"aurora-restore [{doc.env(document)}] SUCCEEDED: "
        f"{doc.target_cluster_id(document)} refreshed from {snapshot}"
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
