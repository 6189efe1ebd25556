"""Preflight: is a refresh of this target already in flight?

A second run would start, fail at AcquireLock and send a FAILED notification to the DBA list.
So preflight refuses first, from what the run itself would meet: the target's lock item in the
audit table (`lock#<target>`, handlers/lib/audit.py: held until `lock_expires_at`, released by
its run or by recovery) and any RUNNING execution of the state machine (one that has not taken
the lock yet, too).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..resources.base.resource import Context
from .preflight_checks import FAIL, NOT_CHECKABLE, PASS, Check, pipeline

NAME = "no run in flight"
RUNNING_LISTED = 10


def in_flight(ctx: Context, document: dict[str, Any]) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        running = _running(ctx)
        lock = _lock(ctx, document)
    except (BotoCoreError, ClientError) as exc:
        return Check("target", NAME, NOT_CHECKABLE, f"cannot read runs and the lock: {exc}")
    env = ctx.env
    now = int(datetime.now(timezone.utc).timestamp())
    holder = str(lock.get("holder", {}).get("S") or "") if lock else ""
    expires = int(lock.get("lock_expires_at", {}).get("N") or 0) if lock else 0
    if holder and expires >= now:
        until = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        state = "RUNNING" if holder in running else "no longer running"
        fix = (
            f"wait for it (aurora-restore executions --env {env}), or stop it and run "
            f"`aurora-restore recover {holder} --env {env}`"
            if holder in running
            else f"aurora-restore recover {holder} --env {env} (finishes its undo, releases "
            "the lock)"
        )
        return Check(
            "target",
            NAME,
            FAIL,
            f"{ctx.settings.target.cluster_id} is locked by operation {holder} (its execution "
            f"is {state}) until {until}: a run now would fail at AcquireLock",
            fix,
        )
    if running:
        return Check(
            "target",
            NAME,
            FAIL,
            f"execution {', '.join(sorted(running))} of {ctx.names.state_machine} is RUNNING",
            f"wait for it (aurora-restore executions --env {env}), or stop it and run "
            f"`aurora-restore recover OPERATION_ID --env {env}`",
        )
    stale = f" (a stale lock of {holder} expired; a run takes it over)" if holder else ""
    return Check("target", NAME, PASS, f"no RUNNING execution, no lock held{stale}")


def _running(ctx: Context) -> set[str]:
    sfn = ctx.clients.get("stepfunctions")
    try:
        listed = sfn.list_executions(
            stateMachineArn=ctx.names.state_machine_arn,
            statusFilter="RUNNING",
            maxResults=RUNNING_LISTED,
        )
    except sfn.exceptions.StateMachineDoesNotExist:
        return set()  # not set up: the setup rows say so
    return {str(e["name"]) for e in listed.get("executions", [])}


def _lock(ctx: Context, document: dict[str, Any]) -> dict[str, Any] | None:
    audit, naming = pipeline("lib.audit"), pipeline("lib.naming")
    dynamodb = ctx.clients.get("dynamodb")
    key = {
        "operation_id": {"S": audit.lock_key(naming.lock_subject(document))},
        "timestamp": {"S": audit.LOCK_SORT_KEY},
    }
    try:
        item = dynamodb.get_item(TableName=ctx.names.table, Key=key, ConsistentRead=True)
    except dynamodb.exceptions.ResourceNotFoundException:
        return None  # not set up: the setup rows say so
    found: dict[str, Any] | None = item.get("Item")
    return found
