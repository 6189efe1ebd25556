"""Step (drill): prepare a restore drill before anything is locked, copied or restored.

Decides this drill's cluster id (`<target>-drill-<token>`), how long to keep it for inspection
(the request's `keep_minutes`, else `settings.drill.keep_minutes`, clamped to
`settings.drill.max_keep_minutes`) and when anything of it left behind counts as an orphan
(`expires_at`). Applies the drill's instance class override to the document's copy of the
target settings (the drill cluster only; the target is never touched by a drill).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from handlers.lib import document as doc
from handlers.lib import drill
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("drill-prepare")
def handler(document: Document, context: Any) -> StepResult:
    drill.require(document, "drill-prepare")
    settings = doc.drill_settings(document)
    requested = (document.get("request") or {}).get("keep_minutes")
    keep, note = drill.keep_seconds(requested, settings)
    margin = int(settings.get("expiry_margin_seconds") or doc.timeout_seconds(document))
    expires = drill.expires_at(datetime.now(timezone.utc), keep, margin)
    document["drill"] = {
        "cluster_id": drill.cluster_id(document),
        "keep_seconds": keep,
        "expires_at": expires,
    }
    instance_class = settings.get("instance_class")
    if instance_class:
        doc.target(document)["instance_class"] = str(instance_class)
    details: dict[str, Any] = {
        **document["drill"],
        "instance_class": doc.target(document).get("instance_class"),
    }
    if note:
        details["note"] = note
    return document, details
