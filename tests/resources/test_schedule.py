"""The optional schedule step: scheduler role, schedule group and schedule — create, no-op
re-run with zero writes, update on a changed expression / state / drift, cleanup, removal when
the config drops the schedule, and foreign same-named resources left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources.base.changes import Action

from ..conftest import MOTO_ACCOUNT, edit_config, make_context

STEPS = ["schedule"]
ROLE = "aurora-restore-scheduler-role-dev"
GROUP = "aurora-restore-dev"
SCHEDULE = "aurora-restore-schedule-dev"
SM_ARN = f"arn:aws:states:us-east-1:{MOTO_ACCOUNT}:stateMachine:aurora-restore-pipeline-dev"
GROUP_ARN = f"arn:aws:scheduler:us-east-1:{MOTO_ACCOUNT}:schedule-group/{GROUP}"
WEEKLY = {"expression": "cron(0 3 ? * SUN *)", "timezone": "Europe/Berlin"}


def _quiet(_: str) -> None:
    pass


@pytest.fixture
def scheduled(config_dir: Path) -> Path:
    """A copy of config/ whose dev.yaml has a weekly schedule."""
    set_schedule(config_dir, dict(WEEKLY))
    return config_dir


def set_schedule(config_dir: Path, schedule: dict[str, Any] | None) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["schedule"] = schedule

    edit_config(config_dir, "dev", edit)


def scheduler() -> Any:
    return boto3.client("scheduler", "us-east-1")


def iam() -> Any:
    return boto3.client("iam", "us-east-1")


def get_schedule() -> dict[str, Any]:
    return dict(scheduler().get_schedule(Name=SCHEDULE, GroupName=GROUP))


def setup(ctx: Any) -> engine.Report:
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert not report.failures, report.failures
    return report


def actions(report: engine.Report) -> list[tuple[str, Action]]:
    return [(c.name, c.action) for c in report.changes]


def test_create_then_noop_with_zero_writes(aws: None, scheduled: Path) -> None:
    report = setup(make_context(scheduled))
    assert actions(report) == [
        (ROLE, Action.CREATED),
        (GROUP, Action.CREATED),
        (SCHEDULE, Action.CREATED),
    ]

    found = get_schedule()
    assert found["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert found["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert found["State"] == "ENABLED"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["Arn"] == SM_ARN
    assert found["Target"]["RoleArn"] == f"arn:aws:iam::{MOTO_ACCOUNT}:role/{ROLE}"
    assert json.loads(found["Target"]["Input"]) == {"snapshot_id": None, "requested_by": "schedule"}

    group_tags = {
        t["Key"]: t["Value"]
        for t in scheduler().list_tags_for_resource(ResourceArn=GROUP_ARN)["Tags"]
    }
    assert group_tags["aurora-restore:managed-by"] == "aurora-restore"
    assert group_tags["aurora-restore:env"] == "dev"
    assert group_tags["team"] == "platform"

    role = iam().get_role(RoleName=ROLE)["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": MOTO_ACCOUNT, "aws:SourceArn": GROUP_ARN}
    }
    assert {t["Key"]: t["Value"] for t in role["Tags"]}["aurora-restore:env"] == "dev"
    assert iam().list_role_policies(RoleName=ROLE)["PolicyNames"] == [
        "aurora-restore-start-pipeline"
    ]
    policy = iam().get_role_policy(RoleName=ROLE, PolicyName="aurora-restore-start-pipeline")
    (allow,) = policy["PolicyDocument"]["Statement"]
    assert (allow["Effect"], allow["Action"], allow["Resource"]) == (
        "Allow",
        "states:StartExecution",
        SM_ARN,
    )
    assert iam().list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"] == []

    again = make_context(scheduled)
    report = setup(again)
    assert {a for _, a in actions(report)} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()


def test_changed_expression_and_state_update_the_schedule_only(aws: None, scheduled: Path) -> None:
    setup(make_context(scheduled))
    set_schedule(scheduled, {"expression": "rate(1 day)", "timezone": "UTC", "enabled": False})
    ctx = make_context(scheduled)
    report = setup(ctx)
    assert actions(report) == [
        (ROLE, Action.UNCHANGED),
        (GROUP, Action.UNCHANGED),
        (SCHEDULE, Action.UPDATED),
    ]
    assert report.changes[2].detail == "expression, timezone, state"
    assert ctx.clients.counter.write_calls() == ["scheduler.UpdateSchedule"]
    assert ctx.clients.counter.writes == 1
    found = get_schedule()
    assert (found["ScheduleExpression"], found["State"]) == ("rate(1 day)", "DISABLED")
    assert found["Target"]["Arn"] == SM_ARN  # update replaces everything: nothing lost


def test_drift_behind_our_back_is_reverted(aws: None, scheduled: Path) -> None:
    setup(make_context(scheduled))
    found = get_schedule()
    scheduler().update_schedule(
        Name=SCHEDULE,
        GroupName=GROUP,
        ScheduleExpression=found["ScheduleExpression"],
        ScheduleExpressionTimezone="Europe/Berlin",
        State="ENABLED",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 60},
        Target={
            "Arn": SM_ARN,
            "RoleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/admin",
            "Input": '{"snapshot_id": "some-old-snapshot"}',
        },
    )
    iam().put_role_policy(
        RoleName=ROLE,
        PolicyName="aurora-restore-start-pipeline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "states:*", "Resource": "*"}],
            }
        ),
    )
    scheduler().untag_resource(ResourceArn=GROUP_ARN, TagKeys=["team"])

    report = setup(make_context(scheduled))
    assert [(c.action, c.detail) for c in report.changes] == [
        (Action.UPDATED, "inline policy aurora-restore-start-pipeline"),
        (Action.UPDATED, "tags"),
        (
            Action.UPDATED,
            "description, flexible time window, role, input, retry policy",
        ),
    ]
    found = get_schedule()
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["RoleArn"].endswith(f":role/{ROLE}")
    assert json.loads(found["Target"]["Input"])["snapshot_id"] is None
    again = make_context(scheduled)
    assert {a for _, a in actions(setup(again))} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0


def test_cleanup_deletes_everything_then_reports_absent(aws: None, scheduled: Path) -> None:
    setup(make_context(scheduled))
    report = engine.cleanup(make_context(scheduled), STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == [
        (SCHEDULE, Action.DELETED),
        (GROUP, Action.DELETED),
        (ROLE, Action.DELETED),
    ]
    assert scheduler().list_schedule_groups(NamePrefix=GROUP)["ScheduleGroups"] == []
    assert scheduler().list_schedules()["Schedules"] == []
    assert ROLE not in {r["RoleName"] for r in iam().list_roles()["Roles"]}

    again = engine.cleanup(make_context(scheduled), STEPS, dry_run=False, progress=_quiet)
    assert {a for _, a in actions(again)} == {Action.ABSENT}
    assert again.ok


def test_no_schedule_in_config_means_nothing_to_do(aws: None) -> None:
    ctx = make_context()  # config/dev.yaml: schedule: null
    assert engine.setup(ctx, STEPS, dry_run=False, progress=_quiet).changes == []
    assert engine.cleanup(ctx, STEPS, dry_run=False, progress=_quiet).changes == []
    assert ctx.clients.counter.writes == 0


def test_schedule_dropped_from_config_is_removed_by_setup(aws: None, scheduled: Path) -> None:
    setup(make_context(scheduled))
    set_schedule(scheduled, None)

    status = engine.status(make_context(scheduled), STEPS, progress=_quiet)
    assert [(c.name, c.action, c.detail) for c in status.changes] == [
        (SCHEDULE, Action.DRIFTED, "not in config: removed"),
        (GROUP, Action.DRIFTED, "not in config: removed"),
        (ROLE, Action.DRIFTED, "not in config: removed"),
    ]
    plan = engine.setup(make_context(scheduled), STEPS, dry_run=True, progress=_quiet)
    assert {a for _, a in actions(plan)} == {Action.WOULD_UPDATE}

    report = setup(make_context(scheduled))
    assert actions(report) == [
        (SCHEDULE, Action.UPDATED),
        (GROUP, Action.UPDATED),
        (ROLE, Action.UPDATED),
    ]
    assert scheduler().list_schedule_groups(NamePrefix=GROUP)["ScheduleGroups"] == []
    assert ROLE not in {r["RoleName"] for r in iam().list_roles()["Roles"]}
    ctx = make_context(scheduled)
    assert setup(ctx).changes == []
    assert ctx.clients.counter.writes == 0


def test_cleanup_finds_a_schedule_the_config_no_longer_has(aws: None, scheduled: Path) -> None:
    setup(make_context(scheduled))
    set_schedule(scheduled, None)
    report = engine.cleanup(make_context(scheduled), STEPS, dry_run=False, progress=_quiet)
    assert report.ok
    assert {name for name, a in actions(report) if a is Action.DELETED} >= {ROLE, GROUP}
    assert scheduler().list_schedules()["Schedules"] == []
    assert scheduler().list_schedule_groups(NamePrefix=GROUP)["ScheduleGroups"] == []
    assert ROLE not in {r["RoleName"] for r in iam().list_roles()["Roles"]}


def test_foreign_group_and_role_are_left_alone(aws: None, scheduled: Path) -> None:
    scheduler().create_schedule_group(Name=GROUP)
    iam().create_role(
        RoleName=ROLE,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    ctx = make_context(scheduled)
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == [
        (ROLE, Action.FOREIGN),
        (GROUP, Action.FOREIGN),
        (SCHEDULE, Action.FOREIGN),  # never created inside someone else's group
    ]
    assert not report.ok
    assert ctx.clients.counter.writes == 0
    assert scheduler().list_schedules()["Schedules"] == []

    report = engine.cleanup(make_context(scheduled), STEPS, dry_run=False, progress=_quiet)
    assert {a for _, a in actions(report)} == {Action.FOREIGN}
    assert scheduler().get_schedule_group(Name=GROUP)["Name"] == GROUP
    assert iam().get_role(RoleName=ROLE)["Role"]["RoleName"] == ROLE

    # With no schedule configured, foreign ones are not even listed: nothing to do.
    set_schedule(scheduled, None)
    ctx = make_context(scheduled)
    assert engine.setup(ctx, STEPS, dry_run=False, progress=_quiet).changes == []
    assert engine.cleanup(ctx, STEPS, dry_run=False, progress=_quiet).changes == []
    assert ctx.clients.counter.writes == 0


def test_create_schedule_retries_while_the_role_propagates(aws: None, scheduled: Path) -> None:
    from botocore.exceptions import ClientError

    from aurora_restore_cli.resources.schedule import Schedule, ScheduleGroup

    ctx = make_context(scheduled)
    slept: list[float] = []
    ctx.sleep = slept.append
    ScheduleGroup(ctx).create()
    real = scheduler()
    attempts: list[int] = []

    class Propagating:
        exceptions = real.exceptions

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def create_schedule(self, **kwargs: Any) -> Any:
            attempts.append(1)
            if len(attempts) == 1:
                message = (
                    "The execution role you provide must allow AWS EventBridge Scheduler "
                    "to assume the role."
                )
                error = {"Error": {"Code": "ValidationException", "Message": message}}
                raise ClientError(error, "CreateSchedule")  # type: ignore[arg-type]
            return real.create_schedule(**kwargs)

    schedule = Schedule(ctx)
    schedule.client = lambda service, region=None: Propagating()  # type: ignore[method-assign]
    schedule.create()
    assert len(attempts) == 2 and slept == [2.0]
    assert get_schedule()["Name"] == SCHEDULE


def test_validate_offline(config_dir: Path, api_calls: Any) -> None:
    from aurora_restore_cli.config.load import load_settings
    from aurora_restore_cli.contract.naming import Names
    from aurora_restore_cli.resources.schedule import validate_offline

    names = Names("dev", "us-east-1", "111111111111")
    assert "none configured" in validate_offline(load_settings(config_dir, "dev"), names)
    set_schedule(config_dir, dict(WEEKLY))
    line = validate_offline(load_settings(config_dir, "dev"), names)
    assert line.startswith("schedule cron(0 3 ? * SUN *) (Europe/Berlin, enabled)")
    for bad, message in [
        ({"expression": "cron(0 3 * * SUN)"}, "6 fields"),
        ({"expression": "cron(0 3 * * SUN *)"}, "must be '?'"),
        ({"expression": "rate(1 week)"}, "expected cron"),
        ({"expression": "rate(1 day)", "timezone": "Mars/Olympus_Mons"}, "IANA"),
    ]:
        set_schedule(config_dir, bad)
        with pytest.raises(ValueError, match=message):
            validate_offline(load_settings(config_dir, "dev"), names)
    for good in ("rate(5 minutes)", "at(2030-01-01T03:00:00)", "cron(15 2 1 * ? *)"):
        set_schedule(config_dir, {"expression": good})
        validate_offline(load_settings(config_dir, "dev"), names)
    assert api_calls.calls == []
