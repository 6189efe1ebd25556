"""Setup step `drill`: what restore drills need beyond the refresh pipeline's resources.

In order: the drill secret `aurora-restore/<env>/drill` (each drill puts its cluster's random
master password there as a version of its own; the env's master secret is never used by a
drill), the drill state machine's log group and the state machine `aurora-restore-drill-<env>`
(resources/drill_state_machine.py), the drill alarms (resources/drill_alarms.py) and the
optional drill schedule (resources/drill_schedule.py). The drill's own Lambda steps
(`handlers.DRILL_STEPS`) are deployed by the `lambdas` step with the others, and the IAM
permissions drills need are part of the `roles` step (policies.py).
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..naming import Names
from . import drill_alarms, drill_schedule, drill_state_machine
from .base import Context, Resource
from .log_group import LogGroup
from .schedule import expression_problems, timezone_problems
from .secrets import _Secret

STEP = "drill"


def resources(ctx: Context) -> list[Resource[Any]]:
    names = ctx.names
    return [
        DrillSecret(ctx, names.drill_secret),
        LogGroup(ctx, names.drill_state_machine_log_group, ctx.settings.lambda_.log_retention_days),
        drill_state_machine.DrillStateMachine(ctx),
        *drill_alarms.resources(ctx),
        *drill_schedule.resources(ctx),
    ]


class DrillSecret(_Secret):
    which = "drill"

    def description(self) -> str:
        s = self.ctx.settings
        return (
            f"aurora-restore {s.environment}: master passwords of restore drill clusters "
            f"({s.target.cluster_id}-drill-*), one version per drill; never production's"
        )

    def initial_value(self) -> dict[str, Any]:
        return {}  # each drill adds its own version (handlers/lib/drill.py)


def validate_offline(settings: Settings, names: Names) -> str:
    """For `aurora-restore validate`: the drill definition, schedule and scheduler policy."""
    from .. import policies

    summary = drill_state_machine.validate_offline(settings, names)
    schedule = settings.drill.schedule
    if schedule is None:
        return summary + "; no drill schedule"
    found = expression_problems(schedule.expression) + timezone_problems(schedule.timezone)
    role = names.role(drill_schedule.ROLE_KIND)
    for name, document in drill_schedule.inline_policies(names).items():
        found += policies.problems(document, {names.drill_state_machine_arn}, f"{role}/{name}")
    if found:
        raise ValueError("drill schedule: " + "; ".join(found))
    return summary + f"; drill schedule {schedule.expression} ({schedule.timezone})"
