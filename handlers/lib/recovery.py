"""Recovery of an execution whose failure path did not run or did not finish.

Step Functions runs no Catch when an execution ends TIMED_OUT or ABORTED, and a FAILED
execution may have stopped with its undo unfinished. `recover(execution_arn)` does what the
failure path does — undo (lib/undo), audit FAILED, release the lock, notify — for such an
execution, from what AWS knows: the execution's status, its last state document (from the
execution history; the settings come from the definition that execution ran when no document
is there yet), the audit trail, and the clusters under this operation's derived ids.

Used by the recovery function (handlers/recover_execution.py), which an EventBridge rule
starts on this env's TIMED_OUT / ABORTED / FAILED executions and which `aurora-restore recover
OPERATION_ID` invokes. On the rule's event the function only starts automatic recovery
(`start_automatic`): an execution of the state machine `aurora-restore-recovery-<env>`
(definitions/recovery.asl.json), named after the operation id, that invokes the function for
one pass at a time (`recover` with `pass_number`) and waits between passes, until the run is
recovered or the passes the config allows are spent.

Idempotent: when the undo has nothing left to do, the lock is not held by the operation and a
FAILED outcome is already recorded, nothing is written, released or sent again. Refused while
the execution is still in flight (RUNNING). Automatic recovery starts once per operation.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from handlers.lib import audit, aws, drill, failure_notice, naming, notify, undo
from handlers.lib import document as doc
from handlers.lib.errors import SettingsInvalid
from handlers.lib.step import ttl_days

LOG = logging.getLogger("aurora_restore")
IN_FLIGHT = ("RUNNING", "PENDING_REDRIVE")
MARGIN_SECONDS = 20  # stop waiting this long before the function's own timeout
STATE_MACHINE_PREFIX = "aurora-restore-pipeline-"
DRILL_STATE_MACHINE_PREFIX = "aurora-restore-drill-"  # restore drills (definitions/drill.asl.json)
RECOVERY_STATE_MACHINE_PREFIX = "aurora-restore-recovery-"  # definitions/recovery.asl.json
AUTOMATIC = "automatic recovery"


def state_machine_name(env: str, drill: bool = False) -> str:
    """DESIGN.md §3 naming (the handlers never import the CLI's naming module)."""
    return f"{DRILL_STATE_MACHINE_PREFIX if drill else STATE_MACHINE_PREFIX}{env}"


def state_machine_names(env: str) -> tuple[str, str]:
    """The state machines whose executions this env's recovery recovers."""
    return state_machine_name(env), state_machine_name(env, drill=True)


def execution_arn(function_arn: str, env: str, operation_id: str, drill: bool = False) -> str:
    """This env's execution `operation_id`, in the function's own partition/region/account."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        raise SettingsInvalid(f"not a Lambda function ARN: {function_arn!r}")
    partition, region, account = parts[1], parts[3], parts[4]
    name = state_machine_name(env, drill)
    return f"arn:{partition}:states:{region}:{account}:execution:{name}:{operation_id}"


def own_execution(env: str, arn: str) -> str:
    """`arn` if it names an execution of this env's refresh or drill state machine."""
    parts = arn.split(":")
    if len(parts) != 8 or parts[2] != "states" or parts[5] != "execution":
        raise SettingsInvalid(f"not a Step Functions execution ARN: {arn!r}")
    if parts[6] not in state_machine_names(env):
        raise SettingsInvalid(f"recover-execution: {arn!r} is not an execution of this env")
    return arn


def start_automatic(function_arn: str, env: str, arn: str, status: str) -> dict[str, Any] | None:
    """Start automatic recovery of execution `arn`: an execution of
    `aurora-restore-recovery-<env>` named after the operation id, so a second start for the same
    operation finds it and starts nothing. None when that state machine is not deployed."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        raise SettingsInvalid(f"not a Lambda function ARN: {function_arn!r}")
    partition, region, account = parts[1], parts[3], parts[4]
    prefix = f"arn:{partition}:states:{region}:{account}"
    machine = f"{prefix}:stateMachine:{RECOVERY_STATE_MACHINE_PREFIX}{env}"
    operation_id = arn.rsplit(":", 1)[-1]
    recovery = f"{prefix}:execution:{RECOVERY_STATE_MACHINE_PREFIX}{env}:{operation_id}"
    result: dict[str, Any] = {
        "operation_id": operation_id,
        "execution_status": status,
        "recovery_execution_arn": recovery,
    }
    sfn = aws.client("stepfunctions", region)
    try:
        found = sfn.describe_execution(executionArn=recovery)
    except Exception as exc:
        if aws.error_code(exc) not in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise
    else:
        return {**result, "status": "already started", "recovery_status": found["status"]}
    # The same input for the same execution: Step Functions answers a repeated start of a
    # running execution with that execution, and a start after it ended with
    # ExecutionAlreadyExists.
    request = {"operation_id": operation_id, "execution_arn": arn, "execution_status": status}
    try:
        sfn.start_execution(
            stateMachineArn=machine, name=operation_id, input=json.dumps(request, sort_keys=True)
        )
    except Exception as exc:
        code = aws.error_code(exc)
        if code == "StateMachineDoesNotExist":
            return None
        if code == "ExecutionAlreadyExists":
            return {**result, "status": "already started"}
        raise
    LOG.info("%s: automatic recovery started (%s)", operation_id, recovery)
    return {**result, "status": "started"}


def operation_arn(function_arn: str, env: str, operation_id: str) -> str:
    """The execution `operation_id` of this env: a refresh's, else a restore drill's (an
    operation id names one execution of one of the two state machines)."""
    refresh = execution_arn(function_arn, env, operation_id)
    sfn = aws.client("stepfunctions", refresh.split(":")[3])
    try:
        sfn.describe_execution(executionArn=refresh)
    except Exception as exc:
        if aws.error_code(exc) != "ExecutionDoesNotExist":
            raise
        drill_arn = execution_arn(function_arn, env, operation_id, drill=True)
        try:
            sfn.describe_execution(executionArn=drill_arn)
        except Exception as drill_exc:
            if aws.error_code(drill_exc) != "ExecutionDoesNotExist":
                raise
            raise exc from None  # neither: say the refresh's (the usual case) is unknown
        return drill_arn
    return refresh


def recover(
    arn: str,
    *,
    wait: bool,
    notify_pending: bool,
    requested_by: str,
    remaining_ms: Callable[[], int] = lambda: 10**9,
    sleep: Callable[[float], None] = time.sleep,
    pass_number: int | None = None,
    max_passes: int | None = None,
) -> dict[str, Any]:
    """Undo passes for execution `arn` (one unless `wait`), then record and notify.

    `pass_number` (0-based) of `max_passes`: a pass of automatic recovery. Its first pass and
    every pass that changes something or settles are recorded; a pass that only finds the run
    still pending writes and sends nothing (a restore may take hours of passes). Its first pass
    notifies (what it waits for), and so does the last one when the run is still pending:
    automatic recovery gives up then (`recover` FAILED; the lock stays with the unfinished undo).
    """
    sfn = aws.client("stepfunctions", arn.split(":")[3])
    described = sfn.describe_execution(executionArn=arn)
    status = str(described["status"])
    result: dict[str, Any] = {"operation_id": described["name"], "execution_status": status}
    if status in IN_FLIGHT:
        return {
            **result,
            "status": "refused",
            "reason": f"execution {described['name']} is still {status}; refusing to undo "
            "a run in flight (stop it first, or wait for it to end)",
        }
    if status == "SUCCEEDED":
        return {**result, "status": "nothing to recover"}
    document = latest_document(sfn, arn) or document_from_definition(sfn, arn, described)
    document.setdefault("error", ended_error(sfn, arn, described))
    operation_id = doc.operation_id(document)
    target_id = naming.lock_subject(document)  # a drill locks its own cluster id
    held_before = audit.lock_holder(target_id) == operation_id
    actions_before = list((document.get("undo") or {}).get("actions") or [])
    outcome = _passes(document, wait, remaining_ms, sleep)
    new_actions = [a for a in outcome.get("actions", []) if a not in actions_before]
    released = audit.release_lock(target_id, operation_id) if outcome["done"] else False
    facts = notify.undo_facts(document)
    result.update(
        undo=facts, lock_released=released and held_before, wait_seconds=outcome["wait_seconds"]
    )
    if outcome["done"] and not new_actions and not held_before and _failure_recorded(operation_id):
        return {**result, "status": "already recovered", "notified": False}
    automatic = _automatic(document, pass_number, max_passes, outcome["done"])
    if automatic:
        result["automatic"] = automatic
    first, gave_up = pass_number == 0, bool(automatic.get("gave_up"))
    if automatic and not (first or gave_up or new_actions or outcome["done"]):
        return {**result, "status": "pending", "notified": False}
    _add_earlier_actions(document, actions_before)
    result["undo"] = notify.undo_facts(document)
    _record(document, status, requested_by, outcome, new_actions, automatic)
    notified = bool(outcome["done"] or notify_pending or first or gave_up)
    if notified:
        failure = notify.failure(document)
        extra = {"execution_status": status, "recovered_by": requested_by}
        if automatic.get("next_step") and not outcome["done"]:
            extra["next_step"] = automatic["next_step"]
        failure_notice.publish_failure(document, failure, extra)
    return {**result, "status": "recovered" if outcome["done"] else "pending", "notified": notified}


def _add_earlier_actions(document: dict[str, Any], actions_before: list[str]) -> None:
    """Each invocation rebuilds the document from the run's history: what earlier passes did
    is in their `recover` items. The record and the notification tell all of it."""
    earlier = [
        action
        for item in audit.items(doc.operation_id(document))
        if item.get("step") == "recover"
        for action in (item.get("details") or {}).get("actions") or []
    ]
    undo_state = document.setdefault("undo", {})
    undo_state["actions"] = list(
        dict.fromkeys([*actions_before, *earlier, *(undo_state.get("actions") or [])])
    )


def _automatic(
    document: dict[str, Any], pass_number: int | None, max_passes: int | None, done: bool
) -> dict[str, Any]:
    """Where automatic recovery stands after this pass ({} for `recover` by hand)."""
    if pass_number is None or max_passes is None:
        return {}
    number = int(pass_number) + 1
    facts: dict[str, Any] = {"pass": number, "max_passes": int(max_passes)}
    if done:
        return facts
    command = f"aurora-restore recover {doc.operation_id(document)} --env {doc.env(document)}"
    if number >= int(max_passes):
        facts["gave_up"] = True
        facts["next_step"] = (
            f"automatic recovery gave up after {number} passes with the undo unfinished (the "
            f"lock is kept): look at what it waits for, then run `{command}`"
        )
    else:
        facts["next_step"] = (
            f"automatic recovery goes on (pass {number} of at most {max_passes}) and notifies "
            f"again when it is done or gives up; nothing to do now (`{command}` is safe too)"
        )
    return facts


def _passes(
    document: dict[str, Any],
    wait: bool,
    remaining_ms: Callable[[], int],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    # A restore drill changed nothing of the target: its recovery is its cleanup.
    run_pass = drill.recovery_pass if doc.is_drill(document) else undo.run_pass
    while True:
        outcome = run_pass(document)
        if outcome["done"] or not wait or outcome["attempt"] >= outcome["max_passes"]:
            return outcome
        interval = int(outcome["wait_seconds"])
        if remaining_ms() < (interval + MARGIN_SECONDS) * 1000:
            return outcome
        sleep(interval)


def _failure_recorded(operation_id: str) -> bool:
    return any(
        item.get("step") == "pipeline" and item.get("status") == "FAILED"
        for item in audit.items(operation_id)
    )


def _record(
    document: dict[str, Any],
    status: str,
    requested_by: str,
    outcome: dict[str, Any],
    new_actions: list[str],
    automatic: dict[str, Any],
) -> None:
    operation_id, env = doc.operation_id(document), doc.env(document)
    failure = notify.failure(document)
    document["failure"] = failure
    details = {
        "execution_status": status,
        "requested_by": requested_by,
        "passes": automatic.get("pass", outcome.get("attempt")),
        "actions": new_actions,
    }
    if automatic:
        details.update(max_passes=automatic["max_passes"], pending=outcome.get("pending", []))
    state = "SUCCEEDED" if outcome["done"] else "STARTED"
    if automatic.get("gave_up"):
        state = "FAILED"
    audit.put_event(
        operation_id,
        "recover",
        state,
        details,
        env,
        ttl_days=ttl_days(document),
    )
    audit.put_event(
        operation_id,
        "pipeline",
        "FAILED",
        {
            **failure,
            "execution_status": status,
            "recovered_by": requested_by,
            **notify.undo_facts(document),
        },
        env,
        ttl_days=ttl_days(document),
    )
    if doc.is_drill(document):  # the phases it reached and its FAILED summary, for `drills`
        facts = {**drill.summary(document, "FAILED"), "failure": failure}
        drill.write_report(document, facts, ttl_days(document))


ENDINGS = ("ExecutionAborted", "ExecutionTimedOut", "ExecutionFailed")


def ended_error(sfn: Any, arn: str, described: dict[str, Any]) -> dict[str, str]:
    """The error a TIMED_OUT / ABORTED / FAILED execution ended with, as a Catch would give it
    (from the execution, else from its closing history event, else its status)."""
    status = str(described["status"])
    closing: dict[str, Any] = {}
    for event in _history(sfn, arn):
        if event.get("type") in ENDINGS:
            closing = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            break
    error = described.get("error") or closing.get("error")
    cause = described.get("cause") or closing.get("cause")
    return {
        "Error": str(error or {"TIMED_OUT": "States.Timeout"}.get(status, status)),
        "Cause": str(cause or f"the execution ended {status}: no Catch ran"),
    }


def latest_document(sfn: Any, arn: str) -> dict[str, Any] | None:
    """The newest state document in the execution's history (a state's input or output)."""
    for event in _history(sfn, arn):
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if not details:
            continue
        text = details.get("input") if "input" in details else details.get("output")
        truncated = (details.get("inputDetails") or details.get("outputDetails") or {}).get(
            "truncated"
        )
        found = _json(text) if not truncated else None
        if isinstance(found, dict) and found.get("operation_id") and found.get("settings"):
            return found
    return None


def document_from_definition(sfn: Any, arn: str, described: dict[str, Any]) -> dict[str, Any]:
    """No document in the history yet (stopped in its first states): rebuild one from the
    definition this execution ran (`LoadSettings` holds the settings)."""
    definition = _json(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    states = (definition or {}).get("States") or {}
    settings = (states.get("LoadSettings") or {}).get("Result")
    if not isinstance(settings, dict):
        raise SettingsInvalid(f"cannot find the settings of execution {arn}")
    initialize = (states.get("Initialize") or {}).get("Parameters") or {}
    pipeline = initialize.get("pipeline") or {}
    started = described.get("startDate")
    if initialize.get("mode") == doc.DRILL_MODE:  # a restore drill (definitions/drill.asl.json)
        drill_settings = (states.get("LoadDrillSettings") or {}).get("Result") or {}
        return {
            "operation_id": described["name"],
            "mode": doc.DRILL_MODE,
            "started_at": started.isoformat() if isinstance(started, datetime) else started,
            "request": _json(described.get("input")) or {},
            "pipeline": pipeline,
            "settings": {**settings, "drill": drill_settings},
            "marks": {},
            "timings": {},
        }
    return {
        "operation_id": described["name"],
        "started_at": started.isoformat() if isinstance(started, datetime) else started,
        "request": _json(described.get("input")) or {},
        "pipeline": pipeline,
        "settings": settings,
        "timings": {},
    }


def _history(sfn: Any, arn: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": arn, "reverseOrder": True, "maxResults": 200}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        # Newest first (moto ignores reverseOrder; on AWS this sort changes nothing).
        yield from sorted(page.get("events") or [], key=lambda e: -int(e.get("id", 0)))
        token = page.get("nextToken")
        if not token:
            return


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
