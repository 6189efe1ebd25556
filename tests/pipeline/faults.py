"""Fault injection at a named state of our definition, and the states to inject at, derived
from definitions/pipeline.asl.json itself — so a state added to the pipeline is injected at
(and must pass the "never lose the target" checks) without anyone touching the tests.

A fault is attached to the state's handler module (`handlers.<module>.handler`, the function
the state's Task invokes). The wrapper asks moto's Step Functions which state the execution
is in (the newest "StateEntered" event) and fires only there:

- `before`: the step fails without doing anything (e.g. Lambda could not start it);
- `after`: the step does its work, then fails (e.g. it timed out after the AWS call) — the
  document the failure path gets does not say what the step did;
- `never-ready`: the check step of a wait loop works but never reports ready, until the loop's
  bound sends the execution to PollTimedOut.
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from aurora_restore_cli.contract import definition
from handlers import STEPS
from handlers.lib.errors import PipelineError

from . import support

FAILURE_PATH = frozenset(
    {
        "PollTimedOut",
        "UndoChanges",
        "UndoDone",
        "WaitForUndo",
        "RecordFailure",
        "ReleaseLockOnFailure",
        "NotifyFailure",
        "Failed",
    }
)
BEFORE, AFTER, NEVER_READY = "before", "after", "never-ready"


class InjectedFailure(PipelineError):
    """The failure a test injects (a name no Retry matches: it goes straight to the Catch)."""


def start() -> str:
    return str(json.loads(definition.load_template())["StartAt"])


def states() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(definition.load_template())["States"]
    return parsed


PATHS = ("snapshot", "clone", "point_in_time")  # handlers/lib/source_cluster.PATHS
DECIDED_BY = {"$.settings.target.strategy": "strategy", "$.restore_from.path": "path"}


def _next_states(state: dict[str, Any], strategy: str, path: str) -> list[str]:
    """Where a state goes on success (Catch edges excluded), following `strategy` at the
    Choices that test `$.settings.target.strategy` and `path` (the way the run restores:
    snapshot, clone, point_in_time) at those that test `$.restore_from.path`."""
    choices = state.get("Choices") or []
    facts = {"strategy": strategy, "path": path}
    for variable, fact in DECIDED_BY.items():
        deciding = [c for c in choices if c.get("Variable") == variable]
        if deciding:
            matching = [c["Next"] for c in deciding if c.get("StringEquals") == facts[fact]]
            return matching or [state["Default"]]
    found = [c["Next"] for c in choices]
    found += [state[key] for key in ("Next", "Default") if key in state]
    return found


def walk(start: str, strategy: str, path: str = "snapshot") -> list[str]:
    """States reachable from `start` on the success path of `strategy` and `path`, in
    definition order."""
    every = states()
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name in FAILURE_PATH:
            continue
        seen.add(name)
        todo.extend(_next_states(every[name], strategy, path))
    return [name for name in every if name in seen]


def tasks(start: str, strategy: str, path: str = "snapshot") -> list[str]:
    every = states()
    return [name for name in walk(start, strategy, path) if every[name]["Type"] == "Task"]


def bounded_loops(start: str, strategy: str, path: str = "snapshot") -> list[str]:
    """The Choices that end a wait loop at its bound (`$.poll.attempt`)."""
    every = states()
    return [
        name
        for name in walk(start, strategy, path)
        if any(c.get("Variable") == "$.poll.attempt" for c in every[name].get("Choices") or [])
    ]


def check_of(loop: str) -> str:
    """The Task whose result a loop Choice reads (the state whose Next it is)."""
    every = states()
    return next(n for n, s in every.items() if s.get("Next") == loop and s["Type"] == "Task")


def module_of(state: str) -> str:
    placeholder = states()[state]["Parameters"]["FunctionName"]
    by_placeholder = {"${" + definition.function_arn_placeholder(s) + "}": s for s in STEPS}
    return by_placeholder[placeholder]


def current_state(document: dict[str, Any]) -> str:
    events = support.history(support.execution_arn(str(document["operation_id"])))
    entered = [e for e in events if "stateEnteredEventDetails" in e]
    newest = max(entered, key=lambda e: int(e["id"]))
    return str(newest["stateEnteredEventDetails"]["name"])


@dataclass
class Fault:
    state: str
    when: str
    fired: int = 0

    @property
    def id(self) -> str:
        return f"{self.state}-{self.when}"


def inject(monkeypatch: pytest.MonkeyPatch, fault: Fault) -> Fault:
    """Attach `fault` (for a loop Choice under `never-ready`, to the loop's check Task).
    It fires afresh: a parametrized case's Fault runs once per engine."""
    fault.fired = 0
    state = check_of(fault.state) if fault.when == NEVER_READY else fault.state
    module = importlib.import_module(f"handlers.{module_of(state)}")
    real = module.handler

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        once_done = fault.fired and fault.when != NEVER_READY
        if once_done or current_state(event) != state:
            return dict(real(event, context))
        fault.fired += 1
        message = f"injected failure {fault.when} {state}"
        if fault.when == BEFORE:
            raise InjectedFailure(message)
        result = dict(real(event, context))
        if fault.when == AFTER:
            raise InjectedFailure(message)
        result["poll"] = {**result["poll"], "ready": False, "status": "injected: never ready"}
        return result

    monkeypatch.setattr(module, "handler", handler)
    return fault


@dataclass
class Blocker:
    """Holds a state's handler until released, then returns without doing the step's work:
    an execution that is in flight at a known point, for timing out or stopping it there."""

    state: str
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    used: bool = False

    def wait_until_entered(self, timeout: float = 60.0) -> None:
        assert self.entered.wait(timeout), f"the execution never reached {self.state}"


def block(monkeypatch: pytest.MonkeyPatch, state: str) -> Blocker:
    blocker = Blocker(state)
    module = importlib.import_module(f"handlers.{module_of(state)}")
    real = module.handler

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if blocker.used or current_state(event) != state:
            return dict(real(event, context))
        blocker.used = True
        blocker.entered.set()
        blocker.release.wait(60)
        # Return the input untouched (the step never did its work): moto ends a stopped
        # execution at its next transition; a failure would run the Catch instead.
        return event

    monkeypatch.setattr(module, "handler", handler)
    return blocker
