"""`aurora-restore validate`: everything we can check without an AWS call.

Each check returns a one-line description of what it verified, or raises `ConfigError` /
`ValueError` naming what is wrong.

Time limits (also enforced when any command loads the config): an execution that times out
runs no Catch — no audit item, no lock release, no notification — so every wait loop must
give up (PollTimeout, which does run the failure path) before the execution's
`TimeoutSeconds`. For the longest path to success (strategy from the config; whether a copy
is needed is not known in advance, so it counts), with every wait loop at its bound and every
other Task at the Lambda timeout, the time must fit inside `pipeline.timeout_seconds` and the
history events — plus the failure path that a timed-out loop takes — inside
HISTORY_BUDGET, which leaves a tenth of Step Functions' 25,000 for retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import bundled, definition
from .config import Settings
from .naming import Names

Check = Callable[[Settings, Names], str]

HISTORY_LIMIT = 25_000
HISTORY_BUDGET = HISTORY_LIMIT * 9 // 10
FAILURE_START = "PollTimedOut"


@dataclass(frozen=True)
class PathBound:
    """One path to success with every wait loop at its bound."""

    loops: tuple[str, ...]  # loop keys in path order
    tasks: int  # Task states outside the wait loops
    wait_seconds: int  # the loops' waits at their bounds
    task_seconds: int  # every other Task at the Lambda timeout
    events: int  # history events, including the failure path of a loop that gives up

    @property
    def seconds(self) -> int:
        return self.wait_seconds + self.task_seconds


def path_bounds(settings: Settings, names: Names) -> list[PathBound]:
    from .pipeline_settings import pipeline_block, pipeline_settings

    document = json.loads(definition.load_template())
    states: Mapping[str, Any] = document["States"]
    loops = {loop.choice: loop for loop in definition.wait_loops(document)}
    in_loops = {name for loop in loops.values() for name in loop.states}
    waits = pipeline_block(settings)["waits"]
    growth = settings.pipeline.poll_growth_percent
    facts = {"settings": pipeline_settings(settings, names)}
    failure = _events_from(FAILURE_START, states)
    bounds: list[PathBound] = []
    for path in definition.success_paths(document, facts):
        on_path = [loops[name] for name in path if name in loops]
        tasks = sum(1 for n in path if n not in in_loops and states[n]["Type"] == "Task")
        events = definition.EXECUTION_EVENTS + failure
        events += sum(definition.history_events(states[n]) for n in path)
        wait_seconds = 0
        for loop in on_path:
            settings_of = waits[loop.key]
            extra_rounds = settings_of["max_polls"] - 1
            events += extra_rounds * sum(definition.history_events(states[n]) for n in loop.states)
            wait_seconds += _bound_seconds(settings_of, growth)
        bounds.append(
            PathBound(
                loops=tuple(loop.key for loop in on_path),
                tasks=tasks,
                wait_seconds=wait_seconds,
                task_seconds=tasks * settings.lambda_.timeout_seconds,
                events=events,
            )
        )
    return bounds


def _bound_seconds(loop: Mapping[str, int], growth: int) -> int:
    polling = bundled.polling()
    _, waited = polling.checks_within(
        loop["first_seconds"], loop["poll_seconds"], growth, loop["max_seconds"]
    )
    return waited


def _events_from(start: str, states: Mapping[str, Any]) -> int:
    """History events from `start` along Next to the end (the failure path)."""
    total, name = 0, start
    seen: set[str] = set()
    while name and name in states and name not in seen:
        seen.add(name)
        total += definition.history_events(states[name])
        name = states[name].get("Next")
    return total


def time_limit_problems(settings: Settings) -> list[tuple[str, str]]:
    """(key path, message) for each time limit the longest path breaks; empty if none."""
    bounds = path_bounds(settings, _names(settings))
    slowest = max(bounds, key=lambda b: b.seconds)
    busiest = max(bounds, key=lambda b: b.events)
    timeout = settings.pipeline.timeout_seconds
    problems: list[tuple[str, str]] = []
    if slowest.seconds > timeout:
        problems.append(
            (
                "pipeline.timeout_seconds",
                f"{timeout} s is shorter than the longest path: {_describe(slowest, settings)} "
                f"= {slowest.seconds} s. An execution that times out runs no failure path; "
                "raise timeout_seconds or lower the waits' max_seconds",
            )
        )
    if busiest.events > HISTORY_BUDGET:
        problems.append(
            (
                "pipeline.waits",
                f"the longest path can write {busiest.events} history events "
                f"({', '.join(busiest.loops)} at their bounds); Step Functions stops at "
                f"{HISTORY_LIMIT} and {HISTORY_BUDGET} leaves room for retries: raise "
                "poll_seconds or poll_growth_percent, or lower max_seconds",
            )
        )
    return problems


def _describe(bound: PathBound, settings: Settings) -> str:
    return (
        f"waits ({', '.join(bound.loops)}) up to {_duration(bound.wait_seconds)} + "
        f"{bound.tasks} Tasks × lambda.timeout_seconds {settings.lambda_.timeout_seconds}"
    )


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _names(settings: Settings) -> Names:
    return Names(settings.environment, settings.region, settings.account_id)


def _config(settings: Settings, names: Names) -> str:
    return (
        f"config {settings.file} (env {settings.environment}, target {settings.target.cluster_id})"
    )


def _time_limits(settings: Settings, names: Names) -> str:
    problems = time_limit_problems(settings)
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    bounds = path_bounds(settings, names)
    slowest = max(bounds, key=lambda b: b.seconds)
    busiest = max(bounds, key=lambda b: b.events)
    return (
        f"time limits: longest path {_describe(slowest, settings)} = "
        f"{_duration(slowest.seconds)} ≤ timeout {_duration(settings.pipeline.timeout_seconds)}; "
        f"at most {busiest.events} history events ≤ {HISTORY_BUDGET} of {HISTORY_LIMIT}"
    )


def checks() -> list[Check]:
    found: list[Check] = [_config, _time_limits]
    try:
        from .resources.state_machine import validate_offline as definition_check
    except ImportError:
        pass
    else:
        found.append(definition_check)
    try:
        from .resources.roles import validate_offline as policy_check
    except ImportError:
        pass
    else:
        found.append(policy_check)
    try:
        from .resources.schedule import validate_offline as schedule_check
    except ImportError:
        pass
    else:
        found.append(schedule_check)
    return found


def validate_all(settings: Settings) -> list[str]:
    names = _names(settings)
    return [check(settings, names) for check in checks()]
