"""Resource kinds, one module per step of the user's guide, in dependency order."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Context, Resource

# Every step the CLI accepts, in setup order (cleanup walks it backwards).
STEPS: tuple[str, ...] = (
    "secrets",
    "roles",
    "table",
    "topic",
    "lambdas",
    "state-machine",
    "events",
    "alarms",
    "schedule",
    "drill",
)

_MODULES = {
    "secrets": "secrets",
    "roles": "roles",
    "table": "table",
    "topic": "topic",
    "lambdas": "lambdas",
    "state-machine": "state_machine",
    "events": "events",
    "alarms": "alarms",
    "schedule": "schedule",
    "drill": "drill",
}


def available_steps() -> tuple[str, ...]:
    """The steps whose module exists in this build, in order."""
    found = []
    for step in STEPS:
        try:
            importlib.import_module(f"{__name__}.{_MODULES[step]}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{_MODULES[step]}":
                raise
            continue
        found.append(step)
    return tuple(found)


def step_resources(step: str, ctx: Context) -> list[Resource[object]]:
    module = importlib.import_module(f"{__name__}.{_MODULES[step]}")
    return list(module.resources(ctx))
