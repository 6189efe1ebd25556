"""SNS notifications: a subject that says what happened, a readable body, no secrets."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from handlers.lib import aws
from handlers.lib.errors import SettingsInvalid

MAX_SUBJECT = 100  # SNS limit
JSON_SEPARATOR = "-- the same facts as JSON, for machines --"


def topic_arn() -> str:
    arn = os.environ.get("SNS_TOPIC")
    if not arn:
        raise SettingsInvalid("environment variable SNS_TOPIC is not set")
    return arn


def render(summary: Mapping[str, Any]) -> str:
    """Header lines a human reads in an e-mail, a separator line, then after a blank line the
    same facts as JSON for machines (the body's first blank line is where the JSON starts)."""
    lines: list[str] = []
    for key, value in summary.items():
        if isinstance(value, list):
            lines.append(f"{key}:" + ("" if value else " none"))
            lines.extend(f"  - {item}" for item in value)
        elif not isinstance(value, dict):
            lines.append(f"{key}: {value}")
    timings = summary.get("timings") or {}
    if timings:
        lines.append("step durations (s):")
        lines.extend(f"  {step}: {seconds}" for step, seconds in timings.items())
    facts = json.dumps(summary, indent=2, sort_keys=True, default=str)
    return "\n".join(lines) + f"\n{JSON_SEPARATOR}\n\n" + facts


def publish(subject: str, summary: Mapping[str, Any], status: str) -> str:
    subject = " ".join(subject.split())[:MAX_SUBJECT]
    response = aws.client("sns").publish(
        TopicArn=topic_arn(),
        Subject=subject,
        Message=render(summary),
        MessageAttributes={"status": {"DataType": "String", "StringValue": status}},
    )
    return str(response.get("MessageId", ""))


def failure(document: Mapping[str, Any]) -> dict[str, str]:
    """The error the failure path caught (`$.error`), as {"error", "message"}.

    Lambda errors arrive with Cause = the function's JSON error payload; state-machine errors
    (PollTimeout, States.*) with a plain Cause.
    """
    error = document.get("error") or {}
    name = str(error.get("Error") or "Unknown")
    cause = str(error.get("Cause") or "")
    message = cause
    try:
        payload = json.loads(cause)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        name = str(payload.get("errorType") or name)
        message = str(payload.get("errorMessage") or "")
    return {"error": name, "message": message[:1000]}


def summary(document: Mapping[str, Any], status: str) -> dict[str, Any]:
    """Facts for a notification: ids, snapshot, target, durations; nothing secret."""
    settings = document.get("settings") or {}
    target = settings.get("target") or {}
    snapshot = document.get("snapshot") or {}
    facts: dict[str, Any] = {
        "status": status,
        "operation_id": document.get("operation_id"),
        "env": settings.get("env"),
        "target_cluster_id": target.get("cluster_id"),
        "source_cluster_id": (settings.get("source") or {}).get("cluster_id"),
        "source_snapshot": snapshot.get("arn") or snapshot.get("id"),
        "snapshot_created": snapshot.get("created"),
        "requested_by": (document.get("request") or {}).get("requested_by"),
    }
    chosen = document.get("restore_from") or {}
    if chosen:  # which way the run restored, and why (ChooseSource)
        facts["restored_from"] = chosen.get("path")
        facts["restore_reason"] = chosen.get("reason")
        if chosen.get("path") in ("clone", "point_in_time"):
            facts["source_snapshot"] = None
            facts["snapshot_created"] = None
            facts["source_cluster"] = chosen.get("source_arn")
        if chosen.get("path") == "point_in_time":
            facts["restored_to_time"] = chosen.get("to_time")
            facts["rpo_seconds"] = chosen.get("rpo_seconds")
    result = document.get("result") or {}
    if result:
        facts["endpoint"] = result.get("endpoint")
        if result.get("db_cluster_resource_id"):
            facts["db_cluster_resource_id"] = result["db_cluster_resource_id"]
        if result.get("iam_auth"):
            old = (document.get("parity") or {}).get("old_cluster_resource_id") or "the old one"
            facts["iam_auth"] = (
                "IAM database authentication is on: policies granting rds-db:connect on "
                f"arn:aws:rds-db:…:dbuser:{old}/… must now name "
                f"{result.get('db_cluster_resource_id')} (the resource id changes with every "
                "refresh)"
            )
    parity_facts = document.get("parity") or {}
    if parity_facts.get("matched"):
        facts["settings_parity"] = (
            f"{len(parity_facts['matched'])} setting(s) of the old target carried over"
            + (f", pinned to the config: {', '.join(parity_facts['pinned'])}"
               if parity_facts.get("pinned") else "")
            + (f", rebooted {', '.join(parity_facts['rebooted'])}"
               if parity_facts.get("rebooted") else "")
        )
    scan = document.get("pii_scan") or {}
    if scan:  # the PII gate's report (scan_pii.py): counts only, never a value
        facts["pii_gate"] = (
            f"{scan.get('tables')} tables, {scan.get('columns_scanned')} columns, "
            f"{scan.get('rows_sampled')} rows sampled, {scan.get('findings')} finding(s), "
            f"all covered by masking rules ({scan.get('seconds')} s)"
        )
    quarantine = document.get("quarantine") or {}
    if quarantine.get("checks_passed") is not None:  # counts and names, never data
        facts["quarantine"] = (
            f"{quarantine.get('rules')} rule(s), {quarantine.get('neutralised')} side effect(s) "
            f"neutralised by the built-in checks, {quarantine.get('checks_passed')} check(s) "
            "passed"
        )
        if quarantine.get("listed"):
            facts["quarantine_listed"] = list(quarantine["listed"])
    masking = document.get("masking") or {}
    if masking.get("rows") is not None:
        facts["masked_rows"] = masking.get("rows")
    facts["duration_seconds"] = _elapsed(document.get("started_at"))
    timings = document.get("timings") or {}
    facts["step_seconds"] = round(sum(float(v) for v in timings.values()), 3)
    facts["timings"] = dict(document.get("timings") or {})
    return facts


def _elapsed(started_at: Any) -> float | None:
    """Wall-clock seconds since the execution started (`$$.Execution.StartTime`)."""
    if not started_at:
        return None
    try:
        started = datetime.fromisoformat(str(started_at).replace("Z", "+00:00"))
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return round((datetime.now(timezone.utc) - started).total_seconds(), 3)


def undo_facts(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the failure path's undo did (handlers/lib/undo.py), for audit and notification:
    who serves under the target id, what was undone, what is left and where, what is pending."""
    undo = document.get("undo") or {}
    facts: dict[str, Any] = {
        "serving_under_target": undo.get("serving") or "unknown",
        "undone": list(undo.get("actions") or []),
        "left": list(undo.get("left") or []),
        "pending": list(undo.get("pending") or []),
    }
    if undo.get("note"):
        facts["undo_note"] = undo["note"]
    undo_error = document.get("undo_error")
    if undo_error:
        facts["undo_error"] = failure({"error": undo_error})
    if not undo.get("done"):
        operation = document.get("operation_id")
        env = (document.get("settings") or {}).get("env")
        facts["next_step"] = (
            "the undo is not finished and the lock is kept: automatic recovery goes on by "
            "itself and notifies when it is done or gives up; by hand: `aurora-restore "
            f"recover {operation} --env {env}`"
        )
    return facts
