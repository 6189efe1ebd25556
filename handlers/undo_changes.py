"""Step (failure path, first): undo what the run did — one pass of lib/undo.

The state machine repeats it (WaitForUndo) while `undo.pending` lists clusters still in
transition, up to `undo.max_passes`; then RecordFailure, ReleaseLockOnFailure, NotifyFailure.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import undo
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("undo-changes")
def handler(document: Document, context: Any) -> StepResult:
    outcome = undo.run_pass(document)
    return document, {
        key: outcome.get(key) for key in ("attempt", "done", "serving", "actions", "pending")
    }
