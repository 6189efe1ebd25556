"""`@pipeline_step`: the common wrapper of every Lambda step.

A step is written as an inner function that takes the state document and the Lambda context
and returns `(document, details)`:

    @pipeline_step("find-snapshot")
    def handler(document: Document, context: Any) -> StepResult:
        ...
        return document, {"snapshot_id": sid, "reason": "newest available"}

The decorator turns it into the Lambda entry point `handler(event, context) -> dict`:

- times the call and adds the seconds to `document["timings"][step]` (summed over polls);
- appends the step to `document["progress"]` once it has succeeded (or been skipped): what the
  run has done, which the failure path reads (e.g. "verify" in progress = masking verified);
- writes one audit item: SUCCEEDED with `details`, or SKIPPED when the details come from
  `skipped("why", ...)` (the "skipped" marker is removed, the reason kept), or FAILED with the
  error class and message — then re-raises so Step Functions' Retry/Catch see the class name;
- turns throttling/connection errors that outlived botocore's retries into `TransientError`;
- returns the updated document (the state machine's ResultPath is `$`);
- logs one JSON line as the step starts and one with its outcome (lib/logs.py), and every line
  the step logs carries the operation id and the step: `aurora-restore logs` finds them;
- answers a health check (`{"health_check": true, ...}`, lib/health.py) instead of running the
  step: nothing of the pipeline is touched.

`details` must be compact and secret-free: it goes to DynamoDB and is returned nowhere else.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from handlers.lib import audit, aws, health, logs
from handlers.lib.errors import SettingsInvalid, TransientError

Document = dict[str, Any]
Details = dict[str, Any]
StepResult = tuple[Document, Details]
StepFunction = Callable[[Document, Any], StepResult]
LambdaHandler = Callable[[Document, Any], Document]

SKIPPED_MARKER = "skipped"
MAX_MESSAGE = 1000

LOG = logs.LOG


def skipped(reason: str, **extra: Any) -> Details:
    """Details that make the decorator record SKIPPED (with the reason) instead of SUCCEEDED."""
    return {SKIPPED_MARKER: True, "reason": reason, **extra}


def env_name(document: Document) -> str:
    settings = document.get("settings") or {}
    return str(settings.get("env") or os.environ.get("ENVIRONMENT") or "unknown")


def ttl_days(document: Document) -> int:
    settings = document.get("settings") or {}
    return int(settings.get("audit_ttl_days") or audit.DEFAULT_TTL_DAYS)


def error_summary(exc: BaseException) -> dict[str, str]:
    return {"error": type(exc).__name__, "message": str(exc)[:MAX_MESSAGE]}


def pipeline_step(step: str) -> Callable[[StepFunction], LambdaHandler]:
    def decorate(fn: StepFunction) -> LambdaHandler:
        @functools.wraps(fn)
        def handler(event: Document, context: Any) -> Document:
            if health.is_health_check(event):
                with logs.context(None, step):
                    return health.report(step.replace("-", "_"), event)
            if not isinstance(event, dict) or not event.get("operation_id"):
                raise SettingsInvalid(f"{step}: the input is not a state document")
            with logs.context(str(event["operation_id"]), step):
                return _run(fn, step, event, context)

        return handler

    return decorate


def _run(fn: StepFunction, step: str, event: Document, context: Any) -> Document:
    started = time.monotonic()
    LOG.info("started")
    try:
        document, details = fn(event, context)
    except Exception as exc:
        failure = _named(exc)
        summary = error_summary(failure)
        _record(event, step, "FAILED", summary, started)
        LOG.error("FAILED %s: %s", summary["error"], summary["message"])
        if failure is exc:
            raise
        raise failure from exc
    details = dict(details)
    status = "SKIPPED" if details.pop(SKIPPED_MARKER, False) else "SUCCEEDED"
    _add_timing(document, step, started)
    _add_progress(document, step)
    _record(document, step, status, details, started)
    LOG.info(status, extra={logs.DETAILS: details})
    return document


def _named(exc: Exception) -> Exception:
    """AWS throttling that outlived botocore's retries → TransientError (retried by the ASL)."""
    if not isinstance(exc, TransientError) and aws.is_transient(exc):
        return TransientError(f"{type(exc).__name__}: {str(exc)[:MAX_MESSAGE]}")
    return exc


def _add_timing(document: Document, step: str, started: float) -> None:
    timings = document.setdefault("timings", {})
    timings[step] = round(float(timings.get(step, 0)) + time.monotonic() - started, 3)


def _add_progress(document: Document, step: str) -> None:
    progress = document.setdefault("progress", [])
    if step not in progress:
        progress.append(step)


def _record(document: Document, step: str, status: str, details: Details, started: float) -> None:
    details = {**details, "seconds": round(time.monotonic() - started, 3)}
    try:
        audit.put_event(
            str(document["operation_id"]),
            step,
            status,
            details,
            env_name(document),
            ttl_days=ttl_days(document),
        )
    except Exception:
        if status != "FAILED":
            raise
        # The step's own failure matters more than its audit item; the failure path records too.
        LOG.exception("could not write the FAILED audit item")
