"""The failure notification of a run or a drill (the failure path and recovery): a drill has
its own subject and facts (lib/drill.py), a refresh the summary of lib/notify.py."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from handlers.lib import drill
from handlers.lib.notify import publish, summary, undo_facts


def publish_failure(
    document: Mapping[str, Any], error: Mapping[str, str], extra: Mapping[str, Any] | None = None
) -> str:
    """The failure notification (pipeline failure path and recovery)."""
    if document.get("mode") == "drill":  # a restore drill: its own subject and facts
        subject, drill_facts = drill.notification(dict(document), "FAILED", dict(error))
        recovered = undo_facts(document) if document.get("undo") else {}  # lib/recovery.py
        return publish(subject, {**drill_facts, **recovered, **(extra or {})}, "FAILED")
    facts = summary(document, "FAILED")
    facts.update(error)
    facts.update(undo_facts(document))
    facts.update(extra or {})  # last: automatic recovery says its own next step
    settings = document.get("settings") or {}
    target = (settings.get("target") or {}).get("cluster_id") or "?"
    env = settings.get("env") or os.environ.get("ENVIRONMENT") or "unknown"
    subject = f"aurora-restore [{env}] FAILED: {target} ({error['error']})"
    return publish(subject, facts, "FAILED")
