"""The state-machine step: its log group and `aurora-restore-pipeline-<env>` — create, no-op
re-run with zero writes, update on drift (definition edited behind our back, logging level,
role, tags), cleanup, a foreign same-named state machine left alone, and offline validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.state_machine import StateMachine, validate_offline
from handlers import STEPS as HANDLER_STEPS

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT, edit_config, make_context

STEPS = ["state-machine"]
SM_ARN = f"arn:aws:states:us-east-1:{MOTO_ACCOUNT}:stateMachine:aurora-restore-pipeline-dev"
LOG_GROUP = "/aws/vendedlogs/states/aurora-restore-pipeline-dev"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{MOTO_ACCOUNT}:log-group:{LOG_GROUP}"


def _quiet(_: str) -> None:
    pass


def actions(report: engine.Report) -> list[tuple[str, Action]]:
    return [(c.kind, c.action) for c in report.changes]


def setup(ctx: Any) -> engine.Report:
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert not report.failures, report.failures
    return report


def sfn() -> Any:
    return boto3.client("stepfunctions", "us-east-1")


def test_create_then_noop_with_zero_writes(aws: None) -> None:
    ctx = make_context()
    report = setup(ctx)
    assert actions(report) == [
        ("log group", Action.CREATED),
        ("state machine", Action.CREATED),
    ]

    described = sfn().describe_state_machine(stateMachineArn=SM_ARN)
    assert described["name"] == "aurora-restore-pipeline-dev"
    assert described["type"] == "STANDARD"
    assert described["roleArn"] == (
        f"arn:aws:iam::{MOTO_ACCOUNT}:role/aurora-restore-stepfunctions-role-dev"
    )
    assert described["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{LOG_GROUP_ARN}:*"}}],
    }
    assert described["tracingConfiguration"] == {"enabled": False}
    tags = {t["key"]: t["value"] for t in sfn().list_tags_for_resource(resourceArn=SM_ARN)["tags"]}
    assert tags["aurora-restore:managed-by"] == "aurora-restore"
    assert tags["aurora-restore:env"] == "dev"
    assert tags["team"] == "platform"

    logs = boto3.client("logs", "us-east-1")
    group = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"][0]
    assert group["logGroupName"] == LOG_GROUP
    assert group["retentionInDays"] == 30
    assert (
        logs.list_tags_for_resource(resourceArn=LOG_GROUP_ARN)["tags"]["aurora-restore:env"]
        == "dev"
    )

    again = make_context()
    report = setup(again)
    assert [a for _, a in actions(report)] == [Action.UNCHANGED, Action.UNCHANGED]
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()


def test_uploaded_definition_is_rendered_for_this_env(aws: None) -> None:
    setup(make_context())
    text = sfn().describe_state_machine(stateMachineArn=SM_ARN)["definition"]
    assert "${" not in text
    document = json.loads(text)
    ours = {
        f"arn:aws:lambda:us-east-1:{MOTO_ACCOUNT}:function:aurora-restore-{s.replace('_', '-')}-dev"
        for s in HANDLER_STEPS
    }
    tasks = [s for s in document["States"].values() if s["Type"] == "Task"]
    assert tasks
    for task in tasks:
        target = task["Resource"]
        if target == "arn:aws:states:::lambda:invoke":
            target = task["Parameters"]["FunctionName"]
        assert target in ours
    settings = next(
        s["Result"] for s in document["States"].values() if s.get("ResultPath") == "$.settings"
    )
    assert settings["env"] == "dev"
    assert settings["account_id"] == MOTO_ACCOUNT  # the account we talk to, not the config's
    assert settings["source"]["account_id"] == "222222222222"
    assert settings["database"]["post_restore_sql"] == ["01_scrub_notes.sql"]
    assert document["TimeoutSeconds"] == 86400


def test_definition_edited_behind_our_back_is_restored(aws: None) -> None:
    setup(make_context())
    tampered = json.loads(sfn().describe_state_machine(stateMachineArn=SM_ARN)["definition"])
    tampered["States"]["LoadSettings"]["Result"]["target"]["protected_cluster_ids"] = []
    sfn().update_state_machine(stateMachineArn=SM_ARN, definition=json.dumps(tampered))

    ctx = make_context()
    report = setup(ctx)
    change = report.changes[1]
    assert (change.action, change.detail) == (Action.UPDATED, "definition")
    assert ctx.clients.counter.write_calls() == ["stepfunctions.UpdateStateMachine"]
    restored = json.loads(sfn().describe_state_machine(stateMachineArn=SM_ARN)["definition"])
    assert restored["States"]["LoadSettings"]["Result"]["target"]["protected_cluster_ids"] == [
        "prod-orders",
        "dev-shared-reporting",
    ]


def test_reformatted_definition_is_not_a_change(aws: None) -> None:
    setup(make_context())
    text = sfn().describe_state_machine(stateMachineArn=SM_ARN)["definition"]
    sfn().update_state_machine(
        stateMachineArn=SM_ARN, definition=json.dumps(json.loads(text), sort_keys=True)
    )
    ctx = make_context()
    assert [a for _, a in actions(setup(ctx))] == [Action.UNCHANGED, Action.UNCHANGED]
    assert ctx.clients.counter.writes == 0


def test_logging_level_role_and_tags_drift_are_updated(aws: None) -> None:
    setup(make_context())
    sfn().update_state_machine(
        stateMachineArn=SM_ARN,
        roleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/someone-else",
        loggingConfiguration={
            "level": "ALL",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{LOG_GROUP_ARN}:*"}}],
        },
    )
    sfn().untag_resource(resourceArn=SM_ARN, tagKeys=["team"])
    sfn().tag_resource(resourceArn=SM_ARN, tags=[{"key": "stray", "value": "x"}])

    ctx = make_context()
    report = setup(ctx)
    assert report.changes[1].action is Action.UPDATED
    assert report.changes[1].detail == "role, logging, tags"
    described = sfn().describe_state_machine(stateMachineArn=SM_ARN)
    assert described["loggingConfiguration"]["level"] == "ERROR"
    assert described["loggingConfiguration"]["includeExecutionData"] is False
    assert described["roleArn"].endswith(":role/aurora-restore-stepfunctions-role-dev")
    tags = {t["key"]: t["value"] for t in sfn().list_tags_for_resource(resourceArn=SM_ARN)["tags"]}
    assert tags["team"] == "platform" and "stray" not in tags
    assert sorted(ctx.clients.counter.write_calls()) == [
        "stepfunctions.TagResource",
        "stepfunctions.UntagResource",
        "stepfunctions.UpdateStateMachine",
    ]
    assert [a for _, a in actions(setup(make_context()))] == [Action.UNCHANGED, Action.UNCHANGED]


def test_config_change_updates_definition_and_log_retention(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))

    def edit(data: dict[str, Any]) -> None:
        data["pipeline"]["waits"]["password"]["max_seconds"] = 600
        data["lambda"]["log_retention_days"] = 14

    edit_config(config_dir, "dev", edit)
    ctx = make_context(config_dir)
    report = setup(ctx)
    assert [(c.action, c.detail) for c in report.changes] == [
        (Action.UPDATED, "retention"),
        (Action.UPDATED, "definition"),
    ]
    text = sfn().describe_state_machine(stateMachineArn=SM_ARN)["definition"]
    block = json.loads(text)["States"]["Initialize"]["Parameters"]["pipeline"]
    assert block["waits"]["password"]["max_seconds"] == 600
    group = boto3.client("logs", "us-east-1").describe_log_groups(logGroupNamePrefix=LOG_GROUP)
    assert group["logGroups"][0]["retentionInDays"] == 14


def test_plan_writes_nothing(aws: None) -> None:
    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert [a for _, a in actions(report)] == [Action.WOULD_CREATE, Action.WOULD_CREATE]
    assert ctx.clients.counter.writes == 0
    assert sfn().list_state_machines()["stateMachines"] == []


def test_cleanup_deletes_both_then_reports_absent(aws: None) -> None:
    setup(make_context())
    report = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert actions(report) == [
        ("state machine", Action.DELETED),
        ("log group", Action.DELETED),
    ]
    assert sfn().list_state_machines()["stateMachines"] == []
    logs = boto3.client("logs", "us-east-1")
    assert logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"] == []

    again = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert [a for _, a in actions(again)] == [Action.ABSENT, Action.ABSENT]
    assert again.ok


def test_foreign_state_machine_and_log_group_are_left_alone(aws: None) -> None:
    definition = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    sfn().create_state_machine(
        name="aurora-restore-pipeline-dev",
        definition=definition,
        roleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/theirs",
    )
    boto3.client("logs", "us-east-1").create_log_group(logGroupName=LOG_GROUP)

    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert [a for _, a in actions(report)] == [Action.FOREIGN, Action.FOREIGN]
    assert not report.ok
    assert ctx.clients.counter.writes == 0
    report = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert [a for _, a in actions(report)] == [Action.FOREIGN, Action.FOREIGN]
    assert sfn().describe_state_machine(stateMachineArn=SM_ARN)["definition"] == definition


def test_status_reports_drift(aws: None) -> None:
    setup(make_context())
    sfn().update_state_machine(
        stateMachineArn=SM_ARN,
        definition='{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}',
    )
    report = engine.status(make_context(), STEPS, progress=_quiet)
    assert [(c.action, c.detail) for c in report.changes] == [
        (Action.PRESENT, ""),
        (Action.DRIFTED, "definition"),
    ]


class _Propagating:
    """Answers create_state_machine with AWS's not-yet-assumable error `failures` times."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def create_state_machine(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.failures:
            message = (
                "Neither the global service principal states.amazonaws.com, nor the regional "
                "one is authorized to assume the provided role."
            )
            error = {"Error": {"Code": "AccessDeniedException", "Message": message}}
            raise ClientError(error, "CreateStateMachine")  # type: ignore[arg-type]
        return self.real.create_state_machine(**kwargs)


def test_create_retries_while_the_role_propagates(aws: None) -> None:
    slept: list[float] = []
    ctx = make_context()
    ctx.sleep = slept.append
    machine = StateMachine(ctx, ctx.names.state_machine)
    fake = _Propagating(sfn(), failures=2)
    machine.client = lambda service, region=None: fake  # type: ignore[method-assign]
    machine.create()
    assert fake.calls == 3
    assert slept == [2.0, 4.0]
    assert sfn().describe_state_machine(stateMachineArn=SM_ARN)["status"] == "ACTIVE"


def test_create_gives_up_after_the_bound(aws: None) -> None:
    from botocore.exceptions import ClientError

    slept: list[float] = []
    ctx = make_context()
    ctx.sleep = slept.append
    machine = StateMachine(ctx, ctx.names.state_machine)
    machine.client = lambda service, region=None: _Propagating(sfn(), failures=100)  # type: ignore[method-assign]
    with pytest.raises(ClientError):
        machine.create()
    assert sum(slept) == 60.0


def test_validate_offline_makes_no_aws_call(api_calls: Any) -> None:
    settings = load_settings(CONFIG_DIR, "dev")
    names = Names("dev", settings.region, settings.account_id)
    line = validate_offline(settings, names)
    assert "every placeholder filled" in line
    assert api_calls.calls == []
