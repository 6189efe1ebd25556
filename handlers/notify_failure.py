"""Step (failure path): the failure notification — which error, what was undone, what is left
and where, what is still pending."""

from __future__ import annotations

from typing import Any

from handlers.lib import failure_notice, notify
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("notify-failure")
def handler(document: Document, context: Any) -> StepResult:
    failure = notify.failure(document)
    message_id = failure_notice.publish_failure(document, failure)
    return document, {"message_id": message_id, "error": failure["error"]}
