"""The events step: automatic recovery's state machine (our rendered recovery definition, its
own role, logging, tags) and its log group, and the recovery rule, created tagged with its
target and invoke permission; zero writes on a re-run, drift repaired, cleanup removes them
(twice), a foreign same-named rule is left alone."""

from __future__ import annotations

import json
from typing import Any

import boto3

from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import events
from aurora_restore_cli.resources.base.changes import Action

from ..conftest import MOTO_ACCOUNT, make_context

RULE = "aurora-restore-recovery-dev"
FUNCTION = "aurora-restore-recover-execution-dev"
RULE_ARN = f"arn:aws:events:us-east-1:{MOTO_ACCOUNT}:rule/{RULE}"
MACHINE_ARN = f"arn:aws:states:us-east-1:{MOTO_ACCOUNT}:stateMachine:aurora-restore-pipeline-dev"
RECOVERY = "aurora-restore-recovery-dev"
RECOVERY_ARN = MACHINE_ARN.replace("-pipeline-", "-recovery-")
LOG_GROUP = f"/aws/vendedlogs/states/{RECOVERY}"


def _quiet(_: str) -> None:
    pass


def clients() -> tuple[Any, Any]:
    return boto3.client("events", "us-east-1"), boto3.client("lambda", "us-east-1")


def recovery_function() -> str:
    """The function the lambdas step would create (the rule needs it for its permission)."""
    role = boto3.client("iam", "us-east-1").create_role(
        RoleName="aurora-restore-lambda-role-dev", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    return str(
        boto3.client("lambda", "us-east-1").create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="handlers.recover_execution.handler",
            Code={"ZipFile": b"code"},
        )["FunctionArn"]
    )


def policy_statements() -> list[dict[str, Any]]:
    _, lam = clients()
    try:
        policy = lam.get_policy(FunctionName=FUNCTION)["Policy"]
    except lam.exceptions.ResourceNotFoundException:
        return []
    return list(json.loads(policy)["Statement"])


def setup(ctx: Any, dry_run: bool = False) -> engine.Report:
    return engine.setup(ctx, ["events"], dry_run=dry_run, progress=_quiet)


def rule_changes(report: engine.Report) -> list[Any]:
    return [c for c in report.changes if c.kind == "EventBridge rule"]


def test_setup_creates_the_rule_target_and_permission_then_changes_nothing(aws: None) -> None:
    function_arn = recovery_function()
    ctx = make_context()
    planned = setup(ctx, dry_run=True)
    assert [c.action for c in planned.changes] == [Action.WOULD_CREATE] * 3
    assert ctx.clients.counter.writes == 0
    report = setup(ctx)
    assert [(c.kind, c.name, c.action) for c in report.changes] == [
        ("log group", LOG_GROUP, Action.CREATED),
        ("state machine", RECOVERY, Action.CREATED),
        ("EventBridge rule", RULE, Action.CREATED),
    ]
    ev, _ = clients()
    rule = ev.describe_rule(Name=RULE)
    assert rule["State"] == "ENABLED"
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [MACHINE_ARN, MACHINE_ARN.replace("-pipeline-", "-drill-")],
            "status": ["ABORTED", "FAILED", "TIMED_OUT"],
        },
    }
    tags = {t["Key"]: t["Value"] for t in ev.list_tags_for_resource(ResourceARN=RULE_ARN)["Tags"]}
    assert tags["aurora-restore:managed-by"] == "aurora-restore"
    assert tags["aurora-restore:env"] == "dev" and tags["team"] == "platform"
    assert ev.list_targets_by_rule(Rule=RULE)["Targets"] == [
        {"Id": "recover-execution", "Arn": function_arn}
    ]
    (statement,) = policy_statements()
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": RULE_ARN}}

    again = make_context()
    assert [c.action for c in setup(again).changes] == [Action.UNCHANGED] * 3
    assert again.clients.counter.writes == 0


def test_the_recovery_state_machine_runs_the_recovery_function_only(aws: None) -> None:
    recovery_function()
    setup(make_context())
    sfn = boto3.client("stepfunctions", "us-east-1")
    machine = sfn.describe_state_machine(stateMachineArn=RECOVERY_ARN)
    assert machine["roleArn"] == f"arn:aws:iam::{MOTO_ACCOUNT}:role/aurora-restore-recovery-role-dev"
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    assert not machine["loggingConfiguration"]["includeExecutionData"]
    definition = json.loads(machine["definition"])
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    assert [t["Parameters"]["FunctionName"] for t in tasks] == [
        f"arn:aws:lambda:us-east-1:{MOTO_ACCOUNT}:function:{FUNCTION}"
    ]
    recovery = definition["States"]["Initialize"]["Parameters"]["recovery"]
    assert recovery["passes"] == 0 and recovery["max_passes"] == len(recovery["waits"]) > 1
    assert isinstance(definition["TimeoutSeconds"], int)
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=RECOVERY_ARN)["tags"]}
    assert tags["aurora-restore:managed-by"] == "aurora-restore"


def test_drift_is_repaired(aws: None) -> None:
    function_arn = recovery_function()
    setup(make_context())
    ev, lam = clients()
    ev.put_targets(Rule=RULE, Targets=[{"Id": "intruder", "Arn": function_arn}])
    lam.remove_permission(FunctionName=FUNCTION, StatementId=events.STATEMENT_ID)
    ev.put_rule(Name=RULE, EventPattern=json.dumps({"source": ["aws.states"]}), State="DISABLED")
    report = setup(make_context())
    (change,) = rule_changes(report)
    assert change.action is Action.UPDATED
    assert change.detail == "event pattern, state, description, target, invoke permission"
    assert [t["Id"] for t in ev.list_targets_by_rule(Rule=RULE)["Targets"]] == ["recover-execution"]
    assert ev.describe_rule(Name=RULE)["State"] == "ENABLED"
    assert [s["Sid"] for s in policy_statements()] == [events.STATEMENT_ID]
    assert [c.action for c in setup(make_context()).changes] == [Action.UNCHANGED] * 3


def test_cleanup_removes_rule_target_and_permission_twice(aws: None) -> None:
    recovery_function()
    setup(make_context())
    ctx = make_context()
    report = engine.cleanup(ctx, ["events"], dry_run=False, progress=_quiet)
    assert [c.action for c in report.changes] == [Action.DELETED] * 3
    ev, lam = clients()
    assert RULE not in {r["Name"] for r in ev.list_rules()["Rules"]}
    assert policy_statements() == []
    assert lam.get_function(FunctionName=FUNCTION)  # the function is the lambdas step's
    second = engine.cleanup(make_context(), ["events"], dry_run=False, progress=_quiet)
    assert [c.action for c in second.changes] == [Action.ABSENT] * 3


def test_a_foreign_rule_with_our_name_is_left_alone(aws: None) -> None:
    recovery_function()
    ev, _ = clients()
    ev.put_rule(Name=RULE, EventPattern=json.dumps({"source": ["someone.else"]}))
    report = setup(make_context())
    assert [c.action for c in rule_changes(report)] == [Action.FOREIGN] and not report.ok
    cleaned = engine.cleanup(make_context(), ["events"], dry_run=False, progress=_quiet)
    assert [c.action for c in rule_changes(cleaned)] == [Action.FOREIGN]
    assert json.loads(ev.describe_rule(Name=RULE)["EventPattern"]) == {"source": ["someone.else"]}
    assert policy_statements() == []
