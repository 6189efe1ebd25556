"""The `drill` setup step: the drill secret, the drill state machine and its log group, the
drill alarms and the optional drill schedule — create, a re-run that writes nothing, removal of
what the config drops, cleanup, a foreign same-named state machine left alone, and the offline
validation of it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.contract.pipeline_settings import drill_timeout_seconds
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import available_steps
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.drill.step import validate_offline

from ..conftest import MOTO_ACCOUNT, edit_config, make_context

STEPS = ["drill"]
REGION = "us-east-1"
DRILL_SM = "aurora-restore-drill-dev"
DRILL_SM_ARN = f"arn:aws:states:{REGION}:{MOTO_ACCOUNT}:stateMachine:{DRILL_SM}"
LOG_GROUP = f"/aws/vendedlogs/states/{DRILL_SM}"
SECRET = "aurora-restore/dev/drill"
ALARMS = [f"aurora-restore-drill-{what}-dev" for what in ("failures", "timeouts", "aborts")]
RTO_ALARM = "aurora-restore-drill-rto-dev"
ROLE = "aurora-restore-drill-scheduler-role-dev"
GROUP = "aurora-restore-drill-dev"
SCHEDULE = "aurora-restore-drill-schedule-dev"
OURS = {"aurora-restore:managed-by": "aurora-restore", "aurora-restore:env": "dev"}


def _quiet(_: str) -> None:
    pass


def setup(ctx: Any) -> engine.Report:
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert not report.failures, report.failures
    return report


def changes(report: engine.Report) -> list[tuple[str, str, Action]]:
    return [(c.kind, c.name, c.action) for c in report.changes]


def edit_drill(config_dir: Path, **drill: Any) -> None:
    edit_config(config_dir, "dev", lambda data: data["drill"].update(drill))


def client(service: str) -> Any:
    return boto3.client(service, REGION)


def test_the_drill_step_comes_last() -> None:
    assert available_steps()[-1] == "drill"


def test_create_then_rerun_writes_nothing_then_cleanup(aws: None) -> None:
    ctx = make_context()
    report = setup(ctx)
    assert changes(report) == [
        ("Secrets Manager secret", SECRET, Action.CREATED),
        ("log group", LOG_GROUP, Action.CREATED),
        ("state machine", DRILL_SM, Action.CREATED),
        *(("CloudWatch alarm", name, Action.CREATED) for name in ALARMS),
        ("CloudWatch alarm", RTO_ALARM, Action.CREATED),
    ]

    described = client("stepfunctions").describe_state_machine(stateMachineArn=DRILL_SM_ARN)
    definition = json.loads(described["definition"])
    assert definition["States"]["Initialize"]["Parameters"]["mode"] == "drill"
    drill = definition["States"]["LoadDrillSettings"]["Result"]
    assert drill["checks_sql"] == "drill_checks.sql" and drill["max_keep_minutes"] == 720
    assert definition["TimeoutSeconds"] == drill_timeout_seconds(ctx.settings)
    assert described["roleArn"].endswith(":role/aurora-restore-stepfunctions-role-dev")
    assert described["loggingConfiguration"]["level"] == "ERROR"
    tags = client("stepfunctions").list_tags_for_resource(resourceArn=DRILL_SM_ARN)["tags"]
    assert OURS.items() <= {t["key"]: t["value"] for t in tags}.items()

    secret = client("secretsmanager").describe_secret(SecretId=SECRET)
    assert OURS.items() <= {t["Key"]: t["Value"] for t in secret["Tags"]}.items()
    assert "never production's" in secret["Description"]

    alarms = {
        a["AlarmName"]: a
        for a in client("cloudwatch").describe_alarms(AlarmNames=[*ALARMS, RTO_ALARM])[
            "MetricAlarms"
        ]
    }
    failures = alarms["aurora-restore-drill-failures-dev"]
    assert (failures["Namespace"], failures["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failures["Dimensions"] == [{"Name": "StateMachineArn", "Value": DRILL_SM_ARN}]
    rto = alarms[RTO_ALARM]
    assert (rto["Namespace"], rto["MetricName"], rto["Statistic"]) == (
        "AuroraRestore",
        "DrillRtoSeconds",
        "Maximum",
    )
    assert rto["Dimensions"] == [{"Name": "Env", "Value": "dev"}]
    assert rto["Threshold"] == 240 * 60 and rto["ComparisonOperator"] == "GreaterThanThreshold"
    assert rto["AlarmActions"] == [
        f"arn:aws:sns:{REGION}:{MOTO_ACCOUNT}:aurora-restore-notifications-dev"
    ]

    again = make_context()
    report = setup(again)
    assert {c.action for c in report.changes} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()

    gone = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert not gone.failures
    assert {c.action for c in gone.changes} == {Action.DELETED}
    assert client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert "DeletedDate" in client("secretsmanager").describe_secret(SecretId=SECRET)


def test_a_drill_schedule_is_created_and_removed_with_the_config(
    aws: None, config_dir: Path
) -> None:
    edit_drill(
        config_dir,
        schedule={"expression": "cron(0 4 ? * MON *)", "timezone": "Europe/Berlin"},
        rto_alarm_minutes=None,
    )
    report = setup(make_context(config_dir))
    assert [(k, n) for k, n, a in changes(report) if a is Action.CREATED][-3:] == [
        ("IAM role", ROLE),
        ("schedule group", GROUP),
        ("schedule", SCHEDULE),
    ]
    assert RTO_ALARM not in [n for _, n, _ in changes(report)]
    found = client("scheduler").get_schedule(Name=SCHEDULE, GroupName=GROUP)
    assert found["ScheduleExpression"] == "cron(0 4 ? * MON *)"
    assert found["Target"]["Arn"] == DRILL_SM_ARN
    assert found["Target"]["RoleArn"].endswith(f":role/{ROLE}")
    assert json.loads(found["Target"]["Input"]) == {"snapshot_id": None, "requested_by": "schedule"}
    policy = client("iam").get_role_policy(RoleName=ROLE, PolicyName="aurora-restore-start-drill")
    statement = policy["PolicyDocument"]["Statement"][0]
    assert (statement["Action"], statement["Resource"]) == ("states:StartExecution", DRILL_SM_ARN)
    trust = client("iam").get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceArn"].endswith(
        f":schedule-group/{GROUP}"
    )
    # The refresh schedule's resources are another thing entirely.
    assert (
        client("scheduler").list_schedule_groups(NamePrefix="aurora-restore-dev")["ScheduleGroups"]
        == []
    )

    edit_drill(config_dir, schedule=None)
    report = setup(make_context(config_dir))
    removed = [(k, n) for k, n, a in changes(report) if a is Action.UPDATED]
    assert removed == [("schedule", SCHEDULE), ("schedule group", GROUP), ("IAM role", ROLE)]
    assert {c.detail for c in report.changes if c.action is Action.UPDATED} == {
        "not in config: removed"
    }
    with pytest.raises(client("iam").exceptions.NoSuchEntityException):
        client("iam").get_role(RoleName=ROLE)
    assert {c.action for c in setup(make_context(config_dir)).changes} == {Action.UNCHANGED}


def test_a_dropped_rto_alarm_is_removed(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    edit_drill(config_dir, rto_alarm_minutes=None)
    report = setup(make_context(config_dir))
    (dropped,) = [c for c in report.changes if c.name == RTO_ALARM]
    assert (dropped.action, dropped.detail) == (Action.UPDATED, "not in config: removed")
    assert client("cloudwatch").describe_alarms(AlarmNames=[RTO_ALARM])["MetricAlarms"] == []
    assert RTO_ALARM not in [c.name for c in setup(make_context(config_dir)).changes]


def test_a_foreign_drill_state_machine_is_left_alone(aws: None) -> None:
    sfn = client("stepfunctions")
    sfn.create_state_machine(
        name=DRILL_SM,
        definition=json.dumps({"StartAt": "x", "States": {"x": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/someone-else",
    )
    report = engine.setup(make_context(), STEPS, dry_run=False, progress=_quiet)
    (foreign,) = [c for c in report.changes if c.name == DRILL_SM]
    assert foreign.action is Action.FOREIGN and not report.ok
    gone = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert [c.action for c in gone.changes if c.name == DRILL_SM] == [Action.FOREIGN]
    assert sfn.describe_state_machine(stateMachineArn=DRILL_SM_ARN)["roleArn"].endswith(
        "someone-else"
    )


def test_validate_offline(config_dir: Path) -> None:
    settings = load_settings(config_dir, "dev")
    names = Names("dev", settings.region, settings.account_id)
    summary = validate_offline(settings, names)
    assert "drill.asl.json" in summary and "every Next resolves" in summary
    assert "no drill schedule" in summary
    edit_drill(config_dir, schedule={"expression": "cron(0 4 * * MON *)"})
    settings = load_settings(config_dir, "dev")
    with pytest.raises(ValueError, match=r"drill schedule: .*day-of-month or day-of-week"):
        validate_offline(settings, names)


def test_validate_offline_bounds_the_drills_history(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aurora_restore_cli.contract import time_limits
    from aurora_restore_cli.resources.drill.step import history_bound

    settings = load_settings(config_dir, "dev")
    names = Names("dev", settings.region, settings.account_id)
    events = history_bound(settings, names)
    # Every loop at its bound: at least the cleanup loop twice (after the drill, on failure).
    delete_polls = settings.pipeline.waits["delete"]
    assert events > 2 * 9 and delete_polls.max_seconds > 0
    assert f"at most {events} history events" in validate_offline(settings, names)
    monkeypatch.setattr(time_limits, "HISTORY_BUDGET", events - 1)
    with pytest.raises(ValueError, match=f"can write {events} history events"):
        validate_offline(settings, names)
