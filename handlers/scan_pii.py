"""Step: the PII gate. Scans the restored database (handlers/lib/pii_scan.py) and fails the run
before the swap — the target untouched — when a column no masking rule covers still holds
values that look personal. The error and the audit name the columns, the detectors and the
counts, never a value. The report goes to `document["pii_scan"]` (history, the success
notification).

`aurora-restore masking scan` invokes the same function with `{"mode": "pii-scan", "settings":
…}`: a read-only scan of the live target cluster, answered directly (no run, no audit).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import database, masking, pii_scan
from handlers.lib.errors import PiiFound, SettingsInvalid
from handlers.lib.step import Document, StepResult, pipeline_step, skipped

SCAN_MODE = "pii-scan"


def handler(event: Document, context: Any) -> Document:
    if isinstance(event, dict) and event.get("mode") == SCAN_MODE:
        return scan_target(event)
    return gate(event, context)


@pipeline_step("scan-pii")
def gate(document: Document, context: Any) -> StepResult:
    reason = database.skip_reason(document)
    if reason:
        return document, skipped(reason)
    step = database.step_database(document)
    report = run_scan(step)
    document["pii_scan"] = report.summary()
    if report.failing:
        raise PiiFound(report.failure_message())
    return document, {**step.describe(), **report.summary(),
                      "covered": [f.describe() for f in report.findings][:pii_scan.MAX_LISTED]}


def scan_target(event: Document) -> Document:
    """The read-only scan of the live target (`aurora-restore masking scan`)."""
    if not isinstance(event.get("settings"), dict):
        raise SettingsInvalid("a pii-scan event carries the settings document")
    reason = database.skip_reason(event)
    if reason:
        return {"skipped": reason}
    target_id = str(event["settings"]["target"]["cluster_id"])
    step = database.step_database({"settings": event["settings"], "staging_cluster_id": target_id})
    return {**step.describe(), **run_scan(step).to_json()}


def run_scan(step: database.StepDatabase) -> pii_scan.Report:
    settings = step.settings
    scan = (settings.get("masking") or {}).get("scan") or {}
    rows = scan.get("sample_rows", pii_scan.DEFAULT_SAMPLE_ROWS)
    rules = masking.plan_from_settings(settings).rules
    with step.session(step.admin()) as conn:
        return pii_scan.scan(conn, step.engine, rules, None if rows == "all" else int(rows))
