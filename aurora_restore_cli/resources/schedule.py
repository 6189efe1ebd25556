"""Optional EventBridge Scheduler schedule that starts the pipeline (config `schedule:`).

Three resources, in order: the role Scheduler assumes (`aurora-restore-scheduler-role-<env>`:
trusts scheduler.amazonaws.com from this account and this env's schedule group only, and may
do nothing but `states:StartExecution` on this env's state machine), the schedule group
`aurora-restore-<env>`, and the schedule `aurora-restore-schedule-<env>` in that group.

Schedules cannot carry tags; schedule groups can. So the group is created tagged and holds only
our schedule: the schedule is ours exactly when its group is (a schedule in a same-named group
without our tags is reported foreign and never touched, not even created).

When the config has no schedule, the desired state is "absent": the three are `unwanted`
(base.py), so a walk lists only those that exist and carry our tags (an empty config costs
their reads, done with all the others, and changes nothing), `setup` deletes them (reported
as updated: "not in config: removed") so a dropped schedule stops starting refreshes, and
`cleanup` deletes them as usual.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..config.settings import Settings
from ..contract.naming import Names, is_managed
from ..documents import policies
from ..documents.policies.statements import POLICY_PREFIX, VERSION
from .base.changes import Difference, document_diff, scalar
from .base.propagation import role_not_ready, while_role_propagates
from .base.resource import Context, Resource, tag_differences, tag_list
from .roles import Role, RoleState

STEP = "schedule"
DEPENDS_ON = ("state-machine",)  # what the schedule starts
ROLE_KIND = "scheduler"
INPUT = {"snapshot_id": None, "requested_by": "schedule"}
# A refresh that could not start within an hour is better skipped than started late.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
NOT_CONFIGURED = "not in config: removed"
GROUP_WAIT_SECONDS, GROUP_POLL_SECONDS = 120.0, 2.0
# What Scheduler answers while a new role has not propagated yet.
ROLE_NOT_READY = ("to assume the role",)


def resources(ctx: Context) -> list[Resource[Any]]:
    return schedule_resources(
        ctx, ctx.settings.schedule is not None, SchedulerRole, ScheduleGroup, Schedule
    )


def schedule_resources(
    ctx: Context,
    wanted: bool,
    role_kind: type[SchedulerRole],
    group_kind: type[ScheduleGroup],
    schedule_kind: type[Schedule],
) -> list[Resource[Any]]:
    """A scheduler role, a schedule group and a schedule in it (also the drill's)."""
    if wanted:
        role, group, schedule = role_kind(ctx), group_kind(ctx), schedule_kind(ctx)
        schedule.after = (role, group)
        return [role, group, schedule]
    # Absent (`unwanted`: listed only when it exists and is ours): schedule first, so `setup`
    # removes it before its group and role.
    gone = schedule_kind(ctx, absent=True)
    group, role = group_kind(ctx, absent=True), role_kind(ctx, absent=True)
    group.after = role.after = (gone,)
    return [gone, group, role]


def trust_policy(names: Names) -> dict[str, Any]:
    return scheduler_trust(names.account_id, names.schedule_group_arn)


def inline_policies(names: Names) -> dict[str, dict[str, Any]]:
    return start_execution_policy("StartPipeline", "start-pipeline", names.state_machine_arn)


def scheduler_trust(account_id: str, group_arn: str) -> dict[str, Any]:
    """Scheduler may assume the role, only for schedules of this account's group `group_arn`
    (confused-deputy guard: AWS documents aws:SourceArn as the schedule group's ARN)."""
    statement = {
        "Sid": "Assume",
        "Effect": "Allow",
        "Principal": {"Service": "scheduler.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id, "aws:SourceArn": group_arn}
        },
    }
    return {"Version": VERSION, "Statement": [statement]}


def start_execution_policy(sid: str, name: str, state_machine_arn: str) -> dict[str, Any]:
    """A scheduler role's only permission: start one state machine."""
    statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": state_machine_arn,
    }
    return {f"{POLICY_PREFIX}{name}": {"Version": VERSION, "Statement": [statement]}}


CRON_FIELDS = 6  # minutes hours day-of-month month day-of-week year
RATE = re.compile(r"rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\)")
AT = re.compile(r"at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)")


def expression_problems(expression: str) -> list[str]:
    """What EventBridge Scheduler would reject in a schedule expression (offline check)."""
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split()
        if len(fields) != CRON_FIELDS:
            return [
                f"{expression}: a Scheduler cron has {CRON_FIELDS} fields "
                "(minutes hours day-of-month month day-of-week year)"
            ]
        if "?" not in (fields[2], fields[4]):
            return [f"{expression}: day-of-month or day-of-week must be '?'"]
        return []
    if RATE.fullmatch(expression) or AT.fullmatch(expression):
        return []
    return [
        f"{expression}: expected cron(…), rate(<n> minutes|hours|days) or at(yyyy-mm-ddThh:mm:ss)"
    ]


def timezone_problems(timezone: str) -> list[str]:
    import zoneinfo

    if not zoneinfo.available_timezones():
        return []  # no time zone database on this machine: cannot tell
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f"{timezone}: not an IANA time zone"]
    return []


def validate_offline(settings: Settings, names: Names) -> str:
    """For `aurora-restore validate`: the schedule expression, its time zone and the scheduler
    role's policies, no AWS call."""
    schedule = settings.schedule
    if schedule is None:
        return "schedule: none configured (refreshes start only with `aurora-restore run`)"
    found = expression_problems(schedule.expression) + timezone_problems(schedule.timezone)
    role = names.role(ROLE_KIND)
    for name, document in inline_policies(names).items():
        found += policies.problems(document, {names.state_machine_arn}, f"{role}/{name}")
    if found:
        raise ValueError("schedule: " + "; ".join(found))
    state = "enabled" if schedule.enabled else "disabled"
    return (
        f"schedule {schedule.expression} ({schedule.timezone}, {state}); role {role} may only "
        f"start {names.state_machine}"
    )


class SchedulerRole(Role):
    """The role Scheduler assumes to start an execution; nothing else."""

    def __init__(self, ctx: Context, absent: bool = False) -> None:
        super().__init__(ctx, ROLE_KIND)
        self.unwanted = absent

    def _description(self) -> str:
        return f"aurora-restore {self.ctx.env}: EventBridge Scheduler starts the pipeline"

    def _trust(self) -> dict[str, Any]:
        return trust_policy(self.ctx.names)

    def _inline(self) -> dict[str, dict[str, Any]]:
        return inline_policies(self.ctx.names)

    def differences(self, current: RoleState) -> list[str]:
        return [NOT_CONFIGURED] if self.unwanted else super().differences(current)

    def create(self) -> None:
        if not self.unwanted:  # absent: only reached if it vanished after we listed it
            super().create()

    def update(self, current: RoleState, differences: list[str]) -> None:
        if self.unwanted:
            self.delete(current)
        else:
            super().update(current, differences)


@dataclass(frozen=True)
class GroupState:
    arn: str
    tags: dict[str, str]


class ScheduleGroup(Resource[GroupState]):
    kind = "schedule group"

    def __init__(self, ctx: Context, absent: bool = False) -> None:
        super().__init__(ctx, ctx.names.schedule_group)
        self.unwanted = absent

    def arn(self) -> str:
        return self.ctx.names.schedule_group_arn

    @property
    def scheduler(self) -> Any:
        return self.client("scheduler")

    def _get(self) -> dict[str, Any] | None:
        try:
            return dict(self.scheduler.get_schedule_group(Name=self.name))
        except self.scheduler.exceptions.ResourceNotFoundException:
            return None

    def read(self) -> GroupState | None:
        found = self._get()
        deadline = self.ctx.monotonic() + GROUP_WAIT_SECONDS
        # A group being deleted cannot be re-created until it is gone: wait (bounded).
        while found is not None and found.get("State") == "DELETING":
            if self.ctx.monotonic() >= deadline:
                break  # create will fail with AWS's own message
            self.ctx.sleep(GROUP_POLL_SECONDS)
            found = self._get()
        if found is None:
            return None
        tags = self.scheduler.list_tags_for_resource(ResourceArn=found["Arn"]).get("Tags", [])
        return GroupState(found["Arn"], {t["Key"]: t["Value"] for t in tags})

    def tags(self, current: GroupState) -> dict[str, str]:
        return current.tags

    def differences(self, current: GroupState) -> list[str]:
        if self.unwanted:
            return [NOT_CONFIGURED]
        return ["tags"] if any(tag_differences(current.tags, self.ctx.tags())) else []

    def create(self) -> None:
        if not self.unwanted:
            self.scheduler.create_schedule_group(Name=self.name, Tags=tag_list(self.ctx.tags()))

    def update(self, current: GroupState, differences: list[str]) -> None:
        if self.unwanted:
            self.delete(current)
            return
        to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
        if to_set:
            self.scheduler.tag_resource(ResourceArn=current.arn, Tags=tag_list(to_set))
        if to_remove:
            self.scheduler.untag_resource(ResourceArn=current.arn, TagKeys=to_remove)

    def delete(self, current: GroupState) -> None:
        # Scheduler deletes the group's schedules with it (asynchronously on AWS).
        with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
            self.scheduler.delete_schedule_group(Name=self.name)


@dataclass(frozen=True)
class ScheduleState:
    exists: bool  # False: the schedule is missing but its group is someone else's
    group_tags: dict[str, str]  # ownership is the group's
    fields: dict[str, Any]  # normalised, see Schedule._fields


class Schedule(Resource[ScheduleState]):
    kind = "schedule"

    def __init__(self, ctx: Context, absent: bool = False) -> None:
        super().__init__(ctx, ctx.names.schedule)
        self.unwanted = absent
        self.group = ScheduleGroup(ctx)

    def arn(self) -> str:
        names = self.ctx.names
        return (
            f"arn:{names.partition}:scheduler:{names.region}:{names.account_id}:"
            f"schedule/{self.group.name}/{self.name}"
        )

    @property
    def scheduler(self) -> Any:
        return self.client("scheduler")

    def _request(self) -> dict[str, Any]:
        """The create/update_schedule request (update replaces every field)."""
        schedule = self.ctx.settings.schedule
        assert schedule is not None
        target = self.ctx.settings.target
        return {
            "Name": self.name,
            "GroupName": self.group.name,
            "Description": (
                f"aurora-restore {self.ctx.env}: refresh {target.cluster_id} from "
                f"{self.ctx.settings.source.cluster_id}"
            ),
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone,
            "State": "ENABLED" if schedule.enabled else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": self.ctx.names.state_machine_arn,
                "RoleArn": self.ctx.names.role_arn(ROLE_KIND),
                "Input": json.dumps(INPUT),
                "RetryPolicy": RETRY_POLICY,
            },
        }

    @staticmethod
    def _fields(schedule: dict[str, Any]) -> dict[str, Any]:
        target = schedule.get("Target") or {}
        try:
            parsed_input = json.loads(target.get("Input") or "null")
        except ValueError:
            parsed_input = target.get("Input")
        return {
            "description": schedule.get("Description") or "",
            "expression": schedule.get("ScheduleExpression"),
            "timezone": schedule.get("ScheduleExpressionTimezone") or "UTC",
            "state": schedule.get("State", "ENABLED"),
            "flexible time window": schedule.get("FlexibleTimeWindow"),
            "target": target.get("Arn"),
            "role": target.get("RoleArn"),
            "input": parsed_input,
            "retry policy": target.get("RetryPolicy"),
            "dead-letter queue": target.get("DeadLetterConfig"),
        }

    def read(self) -> ScheduleState | None:
        group = self.group.read()
        if group is None:
            return None
        try:
            found = self.scheduler.get_schedule(
                Name=self.name, GroupName=self.group.name
            )
        except self.scheduler.exceptions.ResourceNotFoundException:
            if is_managed(group.tags, self.ctx.env):
                return None
            return ScheduleState(False, group.tags, {})  # never create in a foreign group
        return ScheduleState(True, group.tags, self._fields(found))

    def tags(self, current: ScheduleState) -> dict[str, str]:
        return current.group_tags

    def differences(self, current: ScheduleState) -> list[str]:
        if self.unwanted:
            return [NOT_CONFIGURED]
        desired = self._fields(self._request())
        return [key for key, value in desired.items() if current.fields.get(key) != value]

    def values(self, current: ScheduleState, differences: list[str]) -> list[Difference]:
        if self.unwanted:
            return []
        desired = self._fields(self._request())
        return [
            (document_diff if isinstance(value, (dict, list)) else scalar)(
                key, current.fields.get(key), value)
            for key, value in desired.items() if key in differences
        ]

    def _not_ready(self, exc: BaseException) -> bool:
        return role_not_ready(exc, ("ValidationException",), ROLE_NOT_READY)

    def create(self) -> None:
        if self.unwanted:
            return
        request = self._request()
        while_role_propagates(
            self.ctx, lambda: self.scheduler.create_schedule(**request), self._not_ready
        )

    def update(self, current: ScheduleState, differences: list[str]) -> None:
        if self.unwanted:
            self.delete(current)
            return
        request = self._request()
        while_role_propagates(
            self.ctx, lambda: self.scheduler.update_schedule(**request), self._not_ready
        )

    def delete(self, current: ScheduleState) -> None:
        if not current.exists:
            return
        with contextlib.suppress(self.scheduler.exceptions.ResourceNotFoundException):
            self.scheduler.delete_schedule(Name=self.name, GroupName=self.group.name)
