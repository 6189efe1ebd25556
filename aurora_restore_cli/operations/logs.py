"""One run's log lines across its functions and its state machine (`aurora-restore logs`).

Every handler logs one JSON line per event carrying the run's operation id and its step
(handlers/lib/logs.py); Lambda writes them to `/aws/lambda/<function>`. A run's lines are
found by that id, never by a time window alone: CloudWatch Logs `FilterLogEvents` on each log
group the run used, with the id as a quoted term (`"dev-20260101-…"`: the events that contain
it), from a minute before the run started; each line is then parsed and kept only when its
`operation_id` is the run's (the state machine's own log lines: when its `execution_arn` is the
run's execution). Lines are merged in time order and labelled with their step.

Which groups: the functions the execution scheduled (from its history), the recovery function
(it may have run for this operation, by EventBridge or `recover`), and the state machine's
execution log (level ERROR: its failures). `FilterLogEvents` accepts one group per call and
allows 5 requests per second per account and region (not adjustable), so the groups are read
concurrently by a few workers; botocore's standard retries absorb throttling. A page may be
empty while `nextToken` says there is more: pages are followed until there is no token.

No printing here: the command renders what this returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..bundled import recovery_functions
from ..contract.naming import step_function_name
from ..resources.base.resource import Context
from . import runs

STATE_MACHINE_STEP = "state-machine"
RECOVERY_STEP = "recover"  # handlers/recover_execution.STEP
WORKERS = 4  # FilterLogEvents: 5 requests per second per account and region
START_MARGIN_MS = 60_000  # clocks: a line may carry a time a little before the execution's start
FOLLOW_OVERLAP_MS = 10_000  # ingestion is not in time order: each pass re-reads this much
MAX_PAGES = 100  # per group and pass: a bound, far above one run's lines


class RunNotFound(Exception):
    """No execution of this env's state machines has that operation id (or none at all)."""


@dataclass(frozen=True)
class Run:
    operation_id: str
    execution_arn: str
    kind: str  # "refresh" | "drill"
    status: str
    started: datetime
    stopped: datetime | None

    @property
    def done(self) -> bool:
        return self.status in runs.TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "execution_arn": self.execution_arn,
            "kind": self.kind,
            "status": self.status,
            "started": self.started.isoformat(),
            "stopped": self.stopped.isoformat() if self.stopped else None,
        }


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # epoch milliseconds
    step: str
    level: str
    message: str
    log_group: str
    event_id: str
    operation_id: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> str:
        moment = datetime.fromtimestamp(self.timestamp / 1000, timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.timestamp % 1000:03d}Z"

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "operation_id": self.operation_id,
            "step": self.step,
            "level": self.level,
            "message": self.message,
            "details": self.details,
            "log_group": self.log_group,
        }


# --- the run -------------------------------------------------------------------------------


def _machines(ctx: Context) -> list[tuple[str, str]]:
    return [("refresh", ctx.names.state_machine_arn), ("drill", ctx.names.drill_state_machine_arn)]


def find_run(ctx: Context, operation_id: str | None) -> Run:
    """The run with this operation id (a refresh's, else a drill's), or the latest run."""
    sfn = ctx.clients.get("stepfunctions")
    if operation_id is None:
        return _latest(ctx, sfn)
    for kind, machine in _machines(ctx):
        arn = machine.replace(":stateMachine:", ":execution:", 1) + f":{operation_id}"
        try:
            described = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            continue
        return _run(kind, described)
    raise RunNotFound(f"no run {operation_id} in env {ctx.env}; see `aurora-restore executions`")


def _latest(ctx: Context, sfn: Any) -> Run:
    found: list[tuple[str, dict[str, Any]]] = []
    for kind, machine in _machines(ctx):
        try:
            listed = sfn.list_executions(stateMachineArn=machine, maxResults=1)["executions"]
        except sfn.exceptions.StateMachineDoesNotExist:
            if kind == "refresh":
                raise  # not set up: the command says what to do
            continue  # no drill state machine (an older setup): refreshes only
        found.extend((kind, item) for item in listed[:1])
    if not found:
        raise RunNotFound(f"no runs in env {ctx.env} yet; start one with `aurora-restore run`")
    kind, newest = max(found, key=lambda pair: pair[1]["startDate"])
    return _run(kind, sfn.describe_execution(executionArn=newest["executionArn"]))


def _run(kind: str, described: dict[str, Any]) -> Run:
    return Run(
        operation_id=str(described["name"]),
        execution_arn=str(described["executionArn"]),
        kind=kind,
        status=str(described["status"]),
        started=described["startDate"],
        stopped=described.get("stopDate"),
    )


def refreshed(ctx: Context, run: Run) -> Run:
    """The run as it is now (status, stop time)."""
    described = ctx.clients.get("stepfunctions").describe_execution(executionArn=run.execution_arn)
    return _run(run.kind, described)


# --- which log groups ------------------------------------------------------------------------


def step_groups(ctx: Context, run: Run, step: str | None = None) -> dict[str, str]:
    """Step label → log group, for every group this run may have written to (only `step`'s
    when given: none when that step has not run)."""
    functions = runs.scheduled_functions(ctx, run.execution_arn)
    prefix, suffix = "aurora-restore-", f"-{ctx.env}"
    groups: dict[str, str] = {}
    for function in functions:
        if function.startswith(prefix) and function.endswith(suffix):
            groups[function[len(prefix):-len(suffix)]] = f"/aws/lambda/{function}"
    groups[RECOVERY_STEP] = ctx.names.function_log_group(recovery_functions()[0])
    groups[STATE_MACHINE_STEP] = (
        ctx.names.drill_state_machine_log_group if run.kind == "drill"
        else ctx.names.state_machine_log_group
    )
    if step is not None:
        return {k: v for k, v in groups.items() if k == step_name(step)}
    return groups


def step_name(given: str) -> str:
    """`check_restore`, `check-restore` → `check-restore` (the name log lines carry)."""
    return step_function_name(given.strip().lower())


# --- reading ---------------------------------------------------------------------------------


def fetch(
    ctx: Context, run: Run, groups: Iterable[str], start_ms: int | None = None
) -> list[LogLine]:
    """Every line of the run in `groups` from `start_ms` (default: just before the run began),
    in time order."""
    start = start_ms if start_ms is not None else _millis(run.started) - START_MARGIN_MS
    names = list(dict.fromkeys(groups))
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="logs") as pool:
        results = list(pool.map(lambda group: _group_lines(ctx, run, group, start), names))
    lines = [line for found in results for line in found]
    return sorted(lines, key=lambda line: (line.timestamp, line.log_group, line.event_id))


def _group_lines(ctx: Context, run: Run, group: str, start_ms: int) -> list[LogLine]:
    logs = ctx.clients.get("logs")
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": max(0, start_ms),
        "filterPattern": f'"{run.operation_id}"',
    }
    lines: list[LogLine] = []
    for _ in range(MAX_PAGES):
        try:
            page = logs.filter_log_events(**kwargs)
        except logs.exceptions.ResourceNotFoundException:
            return lines  # a function that never logged (or a group not made yet)
        for event in page.get("events", []):
            line = parse(run, group, event)
            if line is not None:
                lines.append(line)
        token = page.get("nextToken")
        if not token:
            break
        kwargs["nextToken"] = token
    return lines


def parse(run: Run, group: str, event: dict[str, Any]) -> LogLine | None:
    """The run's line in a log event, or None (another run's, or no line of ours)."""
    message = str(event.get("message", ""))
    found = _first_object(message)
    if found is None:
        return None
    timestamp, event_id = int(event.get("timestamp", 0)), str(event.get("eventId", ""))
    if "execution_arn" in found:  # the state machine's execution log
        if found.get("execution_arn") != run.execution_arn:
            return None
        details = _facts(found.get("details"))
        kind = str(found.get("type", ""))
        failed = kind.endswith(("Failed", "TimedOut", "Aborted"))
        text = " ".join(str(details[k]) for k in ("error", "cause") if details.get(k))
        return LogLine(timestamp, STATE_MACHINE_STEP, "ERROR" if failed else "INFO",
                       f"{kind} {text}".strip(), group, event_id, run.operation_id)
    if found.get("operation_id") != run.operation_id:
        return None
    return LogLine(timestamp, str(found.get("step") or "?"), str(found.get("level") or "INFO"),
                   str(found.get("message", "")), group, event_id, run.operation_id,
                   _facts(found.get("details")))


def _facts(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _first_object(message: str) -> dict[str, Any] | None:
    """The JSON object in a log line (Lambda puts level, time and request id before it; a
    traceback may follow it)."""
    start = message.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(message, start)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- following a run in flight -----------------------------------------------------------------


def follow(
    ctx: Context,
    run: Run,
    step: str | None,
    on_lines: Callable[[list[LogLine]], None],
    interval: float,
    max_seconds: float,
) -> Run:
    """Print new lines as they come, until the run has ended (one more pass after that: the
    last lines are ingested a little later) or `max_seconds` pass. Only the groups of steps
    the execution has scheduled so far are read on each pass."""
    seen: set[tuple[str, str]] = set()
    newest = _millis(run.started) - START_MARGIN_MS
    deadline = ctx.monotonic() + max_seconds
    ended_passes = 0
    while True:
        groups = step_groups(ctx, run, step)  # a step not scheduled yet: nothing to read yet
        fresh = []
        for line in fetch(ctx, run, groups.values(), newest - FOLLOW_OVERLAP_MS):
            key = (line.log_group, line.event_id)
            if key not in seen:
                seen.add(key)
                fresh.append(line)
        if fresh:
            newest = max(newest, *(line.timestamp for line in fresh))
            on_lines(fresh)
        if run.done:
            ended_passes += 1
            if ended_passes > 1:
                return run
        if ctx.monotonic() >= deadline:
            return run
        ctx.sleep(interval)
        run = refreshed(ctx, run)


def step_known(ctx: Context, run: Run, step: str) -> None:
    """ValueError when `step` is not a step of this env's pipeline (a typo), before following."""
    from ..bundled import deployed_functions

    known = {step_function_name(f) for f in deployed_functions()}
    known |= {RECOVERY_STEP, STATE_MACHINE_STEP}
    known.discard(step_function_name(recovery_functions()[0]))
    if step_name(step) not in known:
        raise ValueError(f"no step {step!r}; steps: {', '.join(sorted(known))}")
