"""Recovery function (not a pipeline step): finish the failure path of an execution that
ended TIMED_OUT or ABORTED (no Catch runs then) or FAILED with its undo unfinished.

Three kinds of event:
- EventBridge "Step Functions Execution Status Change" for this env's state machine or its
  restore drills' (the rule `setup` creates): `detail.executionArn`, `detail.status`. The
  function starts automatic recovery — an execution of `aurora-restore-recovery-<env>` named
  after the operation id — and returns (`started`, or `already started` for a second event of
  the same run). Without that state machine (not deployed yet) it recovers within this
  invocation instead: it waits for clusters in transition as long as its own timeout allows,
  then notifies (done or still pending).
- `{"operation_id", "execution_arn", "pass", "max_passes", "requested_by"}` from automatic
  recovery's state machine: one undo pass (lib/recovery.recover with the pass number).
- `{"operation_id": "...", "wait": false, "requested_by": "..."}` from `aurora-restore
  recover`: one undo pass per invocation (the CLI repeats while `status` is "pending"); the
  operation is a refresh's execution, else a drill's.

A restore drill's recovery is its cleanup (lib/drill.recovery_pass): it deletes the drill
cluster and its copy; the target was never touched.

Returns {"status": "recovered" | "pending" | "already recovered" | "refused" |
"nothing to recover" | "started" | "already started", "operation_id", "execution_status",
"undo": {...}, ...}.
"""

from __future__ import annotations

import os
from typing import Any

from handlers.lib import health, logs, recovery
from handlers.lib.errors import SettingsInvalid

LOG = logs.LOG
STEP = "recover"  # its audit items' and log lines' step
STATUS_CHANGE = "Step Functions Execution Status Change"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if health.is_health_check(event):
        with logs.context(None, STEP):
            return health.report("recover_execution", event)
    with logs.context(_operation_id(event), STEP):
        return _recover(event, context)


def _operation_id(event: Any) -> str | None:
    """The run this event is about: its operation id, or its execution ARN's last part."""
    if not isinstance(event, dict):
        return None
    if event.get("operation_id"):
        return str(event["operation_id"])
    arn = str((event.get("detail") or {}).get("executionArn") or "")
    return arn.rsplit(":", 1)[-1] or None


def _recover(event: dict[str, Any], context: Any) -> dict[str, Any]:
    env = os.environ.get("ENVIRONMENT") or ""
    if not env:
        raise SettingsInvalid("environment variable ENVIRONMENT is not set")
    if not isinstance(event, dict):
        raise SettingsInvalid("recover-execution: the event is not an object")
    function_arn = str(getattr(context, "invoked_function_arn", "") or "")
    pass_number: int | None = None
    max_passes: int | None = None
    if event.get("detail-type") == STATUS_CHANGE:
        detail = event.get("detail") or {}
        arn = str(detail.get("executionArn") or "")
        machine = str(detail.get("stateMachineArn") or "")
        if not any(
            machine.endswith(f":stateMachine:{name}")
            for name in recovery.state_machine_names(env)
        ):
            raise SettingsInvalid(f"recover-execution: {machine!r} is not this env's pipeline")
        status = str(detail.get("status") or "")
        started = recovery.start_automatic(function_arn, env, arn, status)
        if started is not None:
            LOG.info("%s", started["status"], extra={logs.DETAILS: started})
            return started
        LOG.warning(
            "automatic recovery's state machine is not deployed (`aurora-restore setup "
            "events`): recovering within this invocation"
        )
        wait, notify_pending = True, True
        requested_by = f"recovery function ({status} event)"
    elif event.get("operation_id"):
        if event.get("execution_arn"):
            arn = recovery.own_execution(env, str(event["execution_arn"]))
        else:
            arn = recovery.operation_arn(function_arn, env, str(event["operation_id"]))
        wait, notify_pending = bool(event.get("wait", False)), bool(event.get("notify_pending"))
        requested_by = str(event.get("requested_by") or "aurora-restore recover")
        if event.get("pass") is not None:  # automatic recovery's state machine: one pass
            pass_number, max_passes = int(event["pass"]), int(event["max_passes"])
            wait = False
    else:
        raise SettingsInvalid("recover-execution: expected a status-change event or operation_id")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    result = recovery.recover(
        arn,
        wait=wait,
        notify_pending=notify_pending,
        requested_by=requested_by,
        **({"remaining_ms": remaining} if callable(remaining) else {}),
        pass_number=pass_number,
        max_passes=max_passes,
    )
    LOG.info("%s", result.get("status"), extra={logs.DETAILS: {
        "execution_status": result.get("execution_status"),
        "lock_released": result.get("lock_released"),
    }})
    return result
