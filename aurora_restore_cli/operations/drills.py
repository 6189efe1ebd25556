"""Restore drills from the CLI: start one, and list recent ones with their RTO.

A drill is an execution of the drill state machine (`aurora-restore-drill-<env>`); its results
are in the audit table like a refresh's (`history OP_ID` shows them): one `drill-phase` item per
phase and a `drill` summary item (snapshot and its age, seconds per phase, RTO, verification,
cleanup). No printing here: functions return plain data that the output layer renders.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..resources.base.resource import Context
from . import runs

PHASES = ("copy", "restore", "instances", "verification")


def new_operation_id(env: str) -> str:
    """`<env>-drill-YYYYMMDD-HHMMSS-<6 hex>`: a drill is told from a refresh by its id too."""
    return runs.new_operation_id(f"{env}-drill")


def execution_input(
    snapshot_id: str | None,
    keep_minutes: int | None,
    requested_by: str | None = None,
    restore_from: str | None = None,
) -> dict[str, Any]:
    found = runs.execution_input(snapshot_id, requested_by)
    if keep_minutes is not None:
        found["keep_minutes"] = keep_minutes
    if restore_from:  # `drill --from`: the path the drill takes (ChooseSource)
        found["restore_from"] = restore_from
    return found


def start(
    ctx: Context,
    snapshot_id: str | None,
    keep_minutes: int | None,
    operation_id: str | None = None,
    restore_from: str | None = None,
) -> dict[str, Any]:
    operation_id = operation_id or new_operation_id(ctx.env)
    response = ctx.clients.get("stepfunctions").start_execution(
        stateMachineArn=ctx.names.drill_state_machine_arn,
        name=operation_id,
        input=json.dumps(
            execution_input(snapshot_id, keep_minutes, restore_from=restore_from)
        ),
    )
    return {
        "operation_id": operation_id,
        "execution_arn": response["executionArn"],
        "console_url": runs.console_url(ctx.settings.region, response["executionArn"]),
    }


def result(ctx: Context, operation_id: str) -> dict[str, Any] | None:
    """The drill's summary item (its `details`), or None when it wrote none (yet)."""
    summaries = [i for i in runs.audit_trail(ctx, operation_id) if i.get("step") == "drill"]
    return dict(summaries[-1].get("details") or {}) if summaries else None


def recent(ctx: Context, limit: int) -> list[dict[str, Any]]:
    """The most recent drills, newest first, with their RTO per phase and in total."""
    sfn = ctx.clients.get("stepfunctions")
    listed = sfn.list_executions(
        stateMachineArn=ctx.names.drill_state_machine_arn, maxResults=limit
    )
    rows = []
    for item in listed["executions"][:limit]:
        trail = runs.audit_trail(ctx, item["name"])
        summary = next(
            (i.get("details") or {} for i in reversed(trail) if i["step"] == "drill"), {}
        )
        closing: dict[str, Any] = next((i for i in reversed(trail) if i["step"] == "pipeline"), {})
        failure = (closing.get("details") or {}) if closing.get("status") == "FAILED" else {}
        rows.append(
            {
                "operation_id": item["name"],
                "status": item["status"],
                "started": item["startDate"].astimezone(timezone.utc).isoformat(timespec="seconds"),
                "duration_seconds": _seconds(item["startDate"], item.get("stopDate")),
                "snapshot": summary.get("snapshot_id"),
                "snapshot_age_hours": summary.get("snapshot_age_hours"),
                "phases": {p: (summary.get("phases") or {}).get(p) for p in PHASES},
                "rto_seconds": summary.get("rto_seconds"),
                "restored_from": summary.get("restored_from") or "snapshot",
                "rpo_seconds": summary.get("rpo_seconds"),
                "verification": summary.get("verification"),
                "error": failure.get("error"),
                "message": failure.get("message"),
            }
        )
    return rows


def _seconds(start: datetime, stop: datetime | None) -> float | None:
    return round((stop - start).total_seconds(), 1) if stop else None
