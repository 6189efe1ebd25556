"""Pipeline runs: start an execution, list recent ones, follow one, read its audit trail.

No printing here: functions return plain data that the output layer renders.
"""

from __future__ import annotations

import getpass
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..resources.base.resource import Context

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def new_operation_id(env: str, now: datetime | None = None) -> str:
    """`<env>-YYYYMMDD-HHMMSS-<6 hex>`: sortable, unique, a valid execution name."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    return f"{env}-{moment}-{secrets.token_hex(3)}"


def execution_input(
    snapshot_id: str | None, requested_by: str | None = None, to_time: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"snapshot_id": snapshot_id, "requested_by": requested_by or _whoami()}
    if to_time:  # a point-in-time restore to this moment (ChooseSource checks the window)
        found["to_time"] = to_time
    return found


def normalise_time(text: str) -> str:
    """`run --to-time`: an ISO-8601 time (an offset, `Z`, or none: UTC) as
    `YYYY-MM-DDTHH:MM:SSZ`, or `latest`. ValueError for anything else."""
    if text.strip().lower() == "latest":
        return "latest"
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): not worth failing a run for
        return "unknown"


def start(
    ctx: Context,
    snapshot_id: str | None,
    operation_id: str | None = None,
    to_time: str | None = None,
) -> dict[str, Any]:
    operation_id = operation_id or new_operation_id(ctx.env)
    sfn = ctx.clients.get("stepfunctions")
    response = sfn.start_execution(
        stateMachineArn=ctx.names.state_machine_arn,
        name=operation_id,
        input=json.dumps(execution_input(snapshot_id, to_time=to_time)),
    )
    return {
        "operation_id": operation_id,
        "execution_arn": response["executionArn"],
        "console_url": console_url(ctx.settings.region, response["executionArn"]),
    }


def console_url(region: str, execution_arn: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def recent(ctx: Context, limit: int) -> list[dict[str, Any]]:
    """The most recent executions of this env's state machine, newest first."""
    sfn = ctx.clients.get("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=ctx.names.state_machine_arn, maxResults=limit)
    rows = []
    for item in listed["executions"][:limit]:
        detail = sfn.describe_execution(executionArn=item["executionArn"])
        document = _json(detail.get("output")) or {}
        request = _json(detail.get("input")) or {}
        snapshot = (document.get("snapshot") or {}).get("id") or request.get("snapshot_id")
        rows.append(
            {
                "operation_id": item["name"],
                "status": item["status"],
                "started": _iso(item["startDate"]),
                "stopped": _iso(item.get("stopDate")),
                "duration_seconds": _seconds(item["startDate"], item.get("stopDate")),
                "snapshot": snapshot,
            }
        )
    return rows


def audit_trail(ctx: Context, operation_id: str) -> list[dict[str, Any]]:
    """Every audit item of one operation, in time order."""
    ddb = ctx.clients.get("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": ctx.names.table,
        "KeyConditionExpression": "operation_id = :op",
        "ExpressionAttributeValues": {":op": {"S": operation_id}},
    }
    while True:
        page = ddb.query(**kwargs)
        items.extend(_plain(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def step_label(step: str, what: str | None = None) -> str:
    """The one name of a step, in the live view, the audit trail and the logs: the step
    (function) name, plus the wait loop where one check function serves several
    (`check-restore (instances)`; `check-restore` alone checks the restore itself)."""
    from ..bundled import polling

    loops = polling()
    waits_in = set(loops.LOOPS) | set(loops.LOOP_OF)
    if what in waits_in and step.startswith("check-") and step != f"check-{what}":
        return f"{step} ({what})"
    return step


@dataclass
class Wait:
    """Where a wait loop stands when its Wait state is entered (from the state document)."""

    next_seconds: int  # the Wait state's own wait
    waited_seconds: int  # the loop's waits so far
    max_seconds: int | None  # the loop's bound (pipeline.waits.<loop>.max_seconds)
    entered: datetime

    def next_check_in(self, now: datetime) -> float:
        return max(0.0, self.next_seconds - (now - self.entered).total_seconds())

    def at_most_left(self, now: datetime) -> float | None:
        if self.max_seconds is None:
            return None
        spent = self.waited_seconds + (now - self.entered).total_seconds()
        return max(0.0, self.max_seconds - spent)


@dataclass
class StepView:
    """What the live view shows for one Task state."""

    name: str  # the state's name (the history's key)
    status: str = "running"  # running | waiting | done | skipped | failed
    started: datetime | None = None
    finished: datetime | None = None
    polls: int = 0
    error: str | None = None
    function: str | None = None  # the Lambda function the state invokes
    label: str | None = None  # step_label(), once the state has scheduled its function
    wait: Wait | None = None  # while waiting

    def elapsed(self, now: datetime) -> float:
        if self.started is None:
            return 0.0
        return ((self.finished or now) - self.started).total_seconds()

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass
class ExecutionView:
    steps: dict[str, StepView] = field(default_factory=dict)
    status: str = "RUNNING"
    error: str | None = None
    cause: str | None = None
    failed_step: str | None = None
    output: dict[str, Any] | None = None
    started: datetime | None = None
    stopped: datetime | None = None
    env: str | None = None  # to tell a function's step from its name
    _last_task: str | None = None

    def apply(self, event: dict[str, Any]) -> None:
        kind, when = event["type"], event["timestamp"]
        if self.started is None:
            self.started = when
        if kind == "TaskStateEntered":
            name = event["stateEnteredEventDetails"]["name"]
            step = self.steps.setdefault(name, StepView(name, started=when))
            step.status, step.finished, step.wait = "running", None, None
            step.polls += 1
            self._last_task = name
        elif kind == "TaskScheduled" and self._last_task in self.steps:
            details = event.get("taskScheduledEventDetails") or {}
            step = self.steps[self._last_task]
            step.function = _function_name(details)
            if step.label is None and step.function:
                step.label = self._unique(_label(step.function, details, self.env), step.name)
        elif kind == "TaskStateExited":
            name = event["stateExitedEventDetails"]["name"]
            if name in self.steps and self.steps[name].status != "failed":
                self.steps[name].status, self.steps[name].finished = "done", when
        elif kind == "WaitStateEntered" and self._last_task in self.steps:
            step = self.steps[self._last_task]
            step.status = "waiting"
            step.wait = _wait(event.get("stateEnteredEventDetails") or {}, when)
        elif kind in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut"):
            details = _event_details(event)
            if self._last_task in self.steps:
                step = self.steps[self._last_task]
                step.status, step.finished = "failed", when
                step.error = details.get("error")
                self.failed_step = self.failed_step or step.title
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            self.stopped = when
            details = _event_details(event)
            self.status = {
                "ExecutionSucceeded": "SUCCEEDED",
                "ExecutionFailed": "FAILED",
                "ExecutionTimedOut": "TIMED_OUT",
                "ExecutionAborted": "ABORTED",
            }.get(kind, self.status)
            self.error = details.get("error") or self.error
            self.cause = details.get("cause") or self.cause
            if kind == "ExecutionSucceeded":
                self.output = _json(details.get("output"))

    def _unique(self, label: str, state: str) -> str:
        """Two states of one run never share a label (they are alternatives, as a rule)."""
        taken = {s.label for s in self.steps.values() if s.name != state}
        return label if label not in taken else f"{label} [{state}]"

    def by_label(self) -> dict[str, StepView]:
        return {step.title: step for step in self.steps.values()}

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def mark_skipped(self, skipped_functions: set[str]) -> None:
        """Finished states whose function recorded SKIPPED in the audit trail show `skipped`."""
        for step in self.steps.values():
            if step.status == "done" and step.function in skipped_functions:
                step.status = "skipped"

    @property
    def finished_count(self) -> int:
        return sum(1 for s in self.steps.values() if s.status in ("done", "skipped", "failed"))


def follow(
    ctx: Context,
    execution_arn: str,
    on_update: Callable[[ExecutionView], None],
    interval: float,
    max_seconds: float,
) -> ExecutionView:
    """Poll the execution history until it ends (or `max_seconds` pass), calling `on_update`."""
    sfn = ctx.clients.get("stepfunctions")
    view = ExecutionView(env=ctx.env)
    seen = finished = 0
    deadline = ctx.monotonic() + max_seconds
    while True:
        events = list(_history(sfn, execution_arn))
        for event in events[seen:]:
            view.apply(event)
        seen = len(events)
        if view.finished_count != finished:  # a step ended: did it skip? (the audit says)
            finished = view.finished_count
            view.mark_skipped(_skipped_functions(ctx, execution_arn.rsplit(":", 1)[-1]))
        on_update(view)
        if view.done or ctx.monotonic() >= deadline:
            return view
        ctx.sleep(interval)


def _skipped_functions(ctx: Context, operation_id: str) -> set[str]:
    """Function names of the steps whose audit items say SKIPPED (and never SUCCEEDED)."""
    statuses: dict[str, set[str]] = {}
    for item in audit_trail(ctx, operation_id):
        statuses.setdefault(str(item.get("step", "")), set()).add(str(item.get("status")))
    return {
        ctx.names.function(step.replace("-", "_"))
        for step, seen in statuses.items()
        if "SKIPPED" in seen and "SUCCEEDED" not in seen
    }


def scheduled_functions(ctx: Context, execution_arn: str) -> list[str]:
    """The Lambda functions an execution has scheduled so far, in first-use order."""
    sfn = ctx.clients.get("stepfunctions")
    found: dict[str, None] = {}
    for event in _history(sfn, execution_arn):
        if event["type"] == "TaskScheduled":
            name = _function_name(event.get("taskScheduledEventDetails") or {})
            if name:
                found.setdefault(name, None)
    return list(found)


def _label(function: str, details: dict[str, Any], env: str | None) -> str:
    """step_label() of a scheduled Task: its function's step and the loop it checks."""
    parameters = _json(details.get("parameters"))
    payload = parameters.get("Payload") if isinstance(parameters, dict) else None
    poll = payload.get("poll") if isinstance(payload, dict) else None
    what = poll.get("what") if isinstance(poll, dict) else None
    name = function.removeprefix("aurora-restore-")
    name = name.removesuffix(f"-{env}") if env else name.rsplit("-", 1)[0]
    return step_label(name, str(what) if what else None)


def _wait(details: dict[str, Any], when: datetime) -> Wait | None:
    """The wait the document at a Wait state asks for, and its loop's bound."""
    document = _json(details.get("input"))
    poll = document.get("poll") if isinstance(document, dict) else None
    if not isinstance(poll, dict):
        return None
    from ..bundled import polling

    waits = ((document.get("pipeline") or {}).get("waits") or {})
    loop = waits.get(polling().loop_of(str(poll.get("what") or ""))) or {}
    bound = loop.get("max_seconds")
    return Wait(int(poll.get("wait_seconds") or 0), int(poll.get("waited_seconds") or 0),
                int(bound) if bound is not None else None, when)


def _function_name(details: dict[str, Any]) -> str | None:
    """The FunctionName a Lambda task is scheduled with (its ARN's last part, or the name)."""
    parameters = _json(details.get("parameters"))
    name = parameters.get("FunctionName") if isinstance(parameters, dict) else None
    if not isinstance(name, str):
        return None
    return name.split(":function:", 1)[-1].split(":", 1)[0]


def _event_details(event: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
    return found


def _history(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


def failure_details(view: ExecutionView) -> dict[str, Any]:
    """The failing step, error type and message, from the execution's own error/cause."""
    cause = _json(view.cause) if view.cause else None
    message = view.cause
    error = view.error
    if isinstance(cause, dict):  # our Fail state passes the Catch's {Error, Cause} along
        error = cause.get("errorType") or cause.get("Error") or error
        message = cause.get("errorMessage") or cause.get("Cause") or message
        nested = _json(message) if isinstance(message, str) else None
        if isinstance(nested, dict):
            error = nested.get("errorType", error)
            message = nested.get("errorMessage", message)
    return {"step": view.failed_step, "error": error, "message": message}


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None


def _seconds(start: datetime, stop: datetime | None) -> float | None:
    return round((stop - start).total_seconds(), 1) if stop else None


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: _undecimal(deserializer.deserialize(v)) for k, v in item.items()}


def _undecimal(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _undecimal(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_undecimal(v) for v in value]
    return value
