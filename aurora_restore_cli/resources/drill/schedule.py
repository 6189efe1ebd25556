"""Optional EventBridge Scheduler schedule that starts restore drills (config `drill.schedule`).

The same three resources and ownership rules as the refresh schedule (resources/schedule.py),
under names of their own, so the two schedules never share anything: the role
`aurora-restore-drill-scheduler-role-<env>` (may only start the drill state machine), the
group `aurora-restore-drill-<env>` (tagged; it carries the ownership) and the schedule
`aurora-restore-drill-schedule-<env>` in it. Without `drill.schedule` in the config, `setup`
removes those of them that exist and are ours.
"""

from __future__ import annotations

import json
from typing import Any

from ...contract.naming import Names
from ..base.resource import Context, Resource
from ..roles import Role
from ..schedule import (
    RETRY_POLICY,
    Schedule,
    ScheduleGroup,
    SchedulerRole,
    schedule_resources,
    scheduler_trust,
    start_execution_policy,
)

ROLE_KIND = "drill-scheduler"
INPUT = {"snapshot_id": None, "requested_by": "schedule"}


def resources(ctx: Context) -> list[Resource[Any]]:
    return schedule_resources(
        ctx,
        ctx.settings.drill.schedule is not None,
        DrillSchedulerRole,
        DrillScheduleGroup,
        DrillSchedule,
    )


def trust_policy(names: Names) -> dict[str, Any]:
    return scheduler_trust(names.account_id, names.drill_schedule_group_arn)


def inline_policies(names: Names) -> dict[str, dict[str, Any]]:
    return start_execution_policy("StartDrill", "start-drill", names.drill_state_machine_arn)


class DrillSchedulerRole(SchedulerRole):
    def __init__(self, ctx: Context, absent: bool = False) -> None:
        Role.__init__(self, ctx, ROLE_KIND)
        self.unwanted = absent

    def _description(self) -> str:
        return f"aurora-restore {self.ctx.env}: EventBridge Scheduler starts restore drills"

    def _trust(self) -> dict[str, Any]:
        return trust_policy(self.ctx.names)

    def _inline(self) -> dict[str, dict[str, Any]]:
        return inline_policies(self.ctx.names)


class DrillScheduleGroup(ScheduleGroup):
    def __init__(self, ctx: Context, absent: bool = False) -> None:
        Resource.__init__(self, ctx, ctx.names.drill_schedule_group)
        self.unwanted = absent

    def arn(self) -> str:
        return self.ctx.names.drill_schedule_group_arn


class DrillSchedule(Schedule):
    def __init__(self, ctx: Context, absent: bool = False) -> None:
        Resource.__init__(self, ctx, ctx.names.drill_schedule)
        self.unwanted = absent
        self.group = DrillScheduleGroup(ctx)

    def _request(self) -> dict[str, Any]:
        schedule = self.ctx.settings.drill.schedule
        assert schedule is not None
        names = self.ctx.names
        return {
            "Name": self.name,
            "GroupName": self.group.name,
            "Description": (
                f"aurora-restore {self.ctx.env}: restore drill of "
                f"{self.ctx.settings.source.cluster_id}'s snapshots (the target is not touched)"
            ),
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone,
            "State": "ENABLED" if schedule.enabled else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": names.drill_state_machine_arn,
                "RoleArn": names.role_arn(ROLE_KIND),
                "Input": json.dumps(INPUT),
                "RetryPolicy": RETRY_POLICY,
            },
        }
