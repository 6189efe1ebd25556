"""Resource kinds, one module per step of the user's guide.

Adding a kind: write `resources/<module>.py` with
- `STEP = "<step>"` and `resources(ctx) -> list[Resource]` (see base.py for the interface);
- `DEPENDS_ON = ("roles", ...)`: the steps whose resources must exist before any of this
  step's (setup waits for them; cleanup deletes this step's resources first). Declare what
  the resources need to be created or to make sense: a function needs its execution role,
  the state machine the functions it invokes, an alarm the topic it notifies. Omit it (or
  leave it empty) when the step needs nothing; a resource that needs less than its step sets
  its own `depends_on` (the state machine's log group needs nothing);
- inside the step, a resource that must wait for another of the same step names it in its
  `after` attribute (e.g. the state machine after its log group).
then add the step to `STEPS` (its place there is only where it appears in output) and
`_MODULES`. Everything not ordered this way is read, created, updated and deleted
concurrently by the engine (provisioning/engine.py), and a failure skips only what depends on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base.resource import Context, Resource

# Every step the CLI accepts, in the order setup reports them (cleanup: backwards). The order
# in which AWS is changed follows each module's DEPENDS_ON, not this list.
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
    "drill": "drill.step",
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


def depends_on(step: str) -> tuple[str, ...]:
    """The steps `step` needs first (its module's DEPENDS_ON)."""
    module = importlib.import_module(f"{__name__}.{_MODULES[step]}")
    needs = tuple(getattr(module, "DEPENDS_ON", ()))
    unknown = [need for need in needs if need not in _MODULES]
    if unknown:
        raise ValueError(f"step {step} depends on unknown step(s) {', '.join(unknown)}")
    return needs
