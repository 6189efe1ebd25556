"""The pipeline's time limits, from the definition and the config's wait loops.

An execution that times out runs no Catch — no audit item, no lock release, no notification —
so every wait loop must give up (PollTimeout, which does run the failure path) before the
execution's `TimeoutSeconds`. For the longest path to success (strategy from the config; the
ways it may restore — snapshot, clone, point in time — from `source.restore_from`; whether a
copy is needed is not known in advance, so it counts), with every wait loop at its
bound and every other Task at the Lambda timeout, the time must fit inside
`pipeline.timeout_seconds` and the history events — plus the failure path that a timed-out
loop takes — inside HISTORY_BUDGET, which leaves a tenth of Step Functions' 25,000 for
retries. Every command checks this when it loads the config (`within_limits`), before any AWS
call; `validate` prints the figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import bundled
from ..config.reader import ConfigError
from ..config.settings import Settings
from . import definition, recovery_definition
from .naming import Names

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
    facts = {
        "settings": pipeline_settings(settings, names),
        # the run decides its path (ChooseSource): only those the config allows count
        definition.POSSIBLE: {"$.restore_from.path": set(settings.restore_paths)},
    }
    failure = _events_from(FAILURE_START, states)
    task_loops = definition.task_loops(document)
    rounds = {task: task_loop_bound(task, settings) for task in task_loops}
    bounds: list[PathBound] = []
    for path in definition.success_paths(document, facts):
        on_path = [loops[name] for name in path if name in loops]
        tasks = sum(1 for n in path if n not in in_loops and states[n]["Type"] == "Task")
        events = definition.EXECUTION_EVENTS + failure
        events += sum(definition.history_events(states[n]) for n in path)
        for task, choice in task_loops.items():
            if task in path:  # every round at the Lambda timeout, Task and Choice again
                tasks += rounds[task] - 1
                events += (rounds[task] - 1) * sum(
                    definition.history_events(states[n]) for n in (task, choice)
                )
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


def task_loop_bound(task: str, settings: Settings) -> int:
    """Rounds of a Task that loops without a Wait (definition.task_loops)."""
    from .pipeline_settings import masking_invocations, quarantine_invocations

    if task == "MaskData":
        return masking_invocations(settings)
    if task == "Quarantine":
        return quarantine_invocations(settings)
    raise ValueError(f"the definition loops on {task} without a known bound")


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
    """(key path, message) for each time limit the longest path breaks, or automatic recovery
    (recovery_definition: its passes, their history and the lock between them); empty if none."""
    bounds = path_bounds(settings, config_names(settings))
    slowest = max(bounds, key=lambda b: b.seconds)
    busiest = max(bounds, key=lambda b: b.events)
    timeout = settings.pipeline.timeout_seconds
    problems: list[tuple[str, str]] = []
    if slowest.seconds > timeout:
        problems.append(
            (
                "pipeline.timeout_seconds",
                f"{timeout} s is shorter than the longest path: {describe(slowest, settings)} "
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
    return problems + recovery_definition.problems(settings, HISTORY_BUDGET)


def describe(bound: PathBound, settings: Settings) -> str:
    return (
        f"waits ({', '.join(bound.loops)}) up to {duration(bound.wait_seconds)} + "
        f"{bound.tasks} Tasks × lambda.timeout_seconds {settings.lambda_.timeout_seconds}"
    )


def duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def config_names(settings: Settings) -> Names:
    """The names as the config alone gives them (the caller's account may differ in the sandbox)."""
    return Names(settings.environment, settings.region, settings.account_id)


def within_limits(settings: Settings) -> Settings:
    """`settings`, or ConfigError naming the first time limit the longest path breaks."""
    problems = time_limit_problems(settings)
    if problems:
        raise ConfigError(settings.file, *problems[0])
    return settings
