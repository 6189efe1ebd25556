"""Setup step `drill`: what restore drills need beyond the refresh pipeline's resources.

In order: the drill secret `aurora-restore/<env>/drill` (each drill puts its cluster's random
master password there as a version of its own; the env's master secret is never used by a
drill), the drill state machine's log group and the state machine `aurora-restore-drill-<env>`
(state_machine.py), the drill alarms (alarms.py) and the
optional drill schedule (schedule.py). The drill's own Lambda steps
(`handlers.DRILL_STEPS`) are deployed by the `lambdas` step with the others, and the IAM
permissions drills need are part of the `roles` step (documents/policies/).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...config.settings import Settings
from ...contract.naming import Names
from ..base.resource import Context, Resource
from ..log_group import LogGroup
from ..schedule import expression_problems, timezone_problems
from ..secrets import _Secret
from . import alarms as drill_alarms
from . import schedule as drill_schedule
from . import state_machine as drill_state_machine

STEP = "drill"
# The drill state machine invokes the functions as the state machine's role and its steps
# read the table, topic and secrets, like the refresh's (resources/state_machine.py).
DEPENDS_ON = ("secrets", "roles", "table", "topic", "lambdas")


def resources(ctx: Context) -> list[Resource[Any]]:
    names = ctx.names
    secret = DrillSecret(ctx, names.drill_secret)
    log_group = LogGroup(
        ctx, names.drill_state_machine_log_group, ctx.settings.lambda_.log_retention_days
    )
    secret.depends_on = log_group.depends_on = ()  # they need nothing
    machine = drill_state_machine.DrillStateMachine(ctx)
    machine.after = (log_group,)  # its logging configuration names the group
    alarms = drill_alarms.resources(ctx)
    schedule = drill_schedule.resources(ctx)
    for res in [*alarms, *schedule]:
        # Alarms watch the drill state machine; the schedule starts it. Absent (unwanted)
        # ones are removed first, whatever the machine does.
        if not res.unwanted:
            res.after = (*res.after, machine)
    return [secret, log_group, machine, *alarms, *schedule]


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


FAILURE_PATH = (
    "PollTimedOut",
    "CleanUpAfterFailure",
    "WaitForCleanUpAfterFailure",
    "CleanedUpAfterFailure",
    "ReportFailedDrill",
    "RecordFailure",
    "ReleaseLockOnFailure",
    "NotifyFailure",
    "Failed",
)


def history_bound(settings: Settings, names: Names) -> int:
    """History events of the drill's busiest run: its longest path to success with every wait
    loop at its bound, then a failure path whose cleanup also runs to its bound (Step
    Functions stops an execution at 25,000 events, and a stopped drill runs no cleanup)."""
    from ...contract import definition
    from ...contract.pipeline_settings import drill_pipeline_block, render_drill_definition

    document = json.loads(render_drill_definition(settings, names))
    states = document["States"]
    loops = {loop.choice: loop for loop in definition.wait_loops(document)}
    waits = drill_pipeline_block(settings)["waits"]

    def events(path: Sequence[str]) -> int:
        total = sum(definition.history_events(states[name]) for name in path)
        for name in path:
            if name in loops:
                rounds = waits[loops[name].key]["max_polls"] - 1
                per_round = sum(definition.history_events(states[s]) for s in loops[name].states)
                total += rounds * per_round
        return total

    longest = max(events(path) for path in definition.success_paths(document, {}))
    return definition.EXECUTION_EVENTS + longest + events(FAILURE_PATH)


def validate_offline(settings: Settings, names: Names) -> str:
    """For `aurora-restore validate`: the drill definition, its history bound, the schedule
    and its scheduler policy."""
    from ...contract.time_limits import HISTORY_BUDGET
    from ...documents import policies

    summary = drill_state_machine.validate_offline(settings, names)
    events = history_bound(settings, names)
    if events > HISTORY_BUDGET:
        raise ValueError(
            f"drill: its longest run can write {events} history events (wait loops at their "
            f"bounds); Step Functions stops at 25000: raise the waits' poll_seconds or "
            "poll_growth_percent, or lower max_seconds (pipeline.waits)"
        )
    summary += f"; at most {events} history events"
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
