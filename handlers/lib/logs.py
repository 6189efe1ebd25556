"""Structured log lines: one JSON object per log event, carrying the run's operation id.

Every handler logs through the logger `aurora_restore` (`LOG`). While a step runs inside
`context(operation_id, step)` (the `pipeline_step` wrapper and the recovery function open
it), each record of that logger becomes one JSON line:

    {"operation_id": "dev-20260101-000000-abcdef", "step": "find-snapshot",
     "level": "INFO", "message": "SUCCEEDED", "details": {...}}

Lambda sends what a function logs to its log group `/aws/lambda/<function>`;
`aurora-restore logs OP_ID` finds one run's lines across every group by the operation id
(CloudWatch Logs FilterLogEvents with the id as a quoted term) and labels them by `step`.
`details` is what the step also writes to its audit item: compact and secret-free. Messages
are our own words; a document, a password or a secret value is never logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

LOGGER_NAME = "aurora_restore"
LOG = logging.getLogger(LOGGER_NAME)
LOG.setLevel(logging.INFO)
DETAILS = "aurora_restore_details"  # `extra={DETAILS: {...}}`: structured facts of the event


@dataclass(frozen=True)
class Current:
    operation_id: str | None
    step: str


_current: ContextVar[Current | None] = ContextVar("aurora_restore_log_context", default=None)


@contextmanager
def context(operation_id: str | None, step: str) -> Iterator[None]:
    """Label every log record made inside with this run's operation id and this step."""
    token = _current.set(Current(operation_id, step))
    try:
        yield
    finally:
        _current.reset(token)


def line(
    operation_id: str | None,
    step: str,
    level: str,
    message: str,
    details: Mapping[str, Any] | None = None,
) -> str:
    """The JSON line of one event (what `aurora-restore logs` parses back)."""
    fields: dict[str, Any] = {
        "operation_id": operation_id,
        "step": step,
        "level": level,
        "message": message,
    }
    if details:
        fields["details"] = dict(details)
    return json.dumps(fields, default=str)


class _Structured(logging.Filter):
    """Rewrites each record of the `aurora_restore` logger into its JSON line (in place, once:
    every handler of every logger up the chain then writes the same line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "aurora_restore_structured", False):
            return True
        current = _current.get()
        record.msg = line(
            current.operation_id if current else None,
            current.step if current else "unknown",
            record.levelname,
            record.getMessage(),
            getattr(record, DETAILS, None),
        )
        record.args = None
        record.aurora_restore_structured = True
        return True


def _install() -> None:
    if not any(isinstance(f, _Structured) for f in LOG.filters):
        LOG.addFilter(_Structured())


_install()
