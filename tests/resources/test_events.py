"""The recovery rule (events step): created tagged with its target and invoke permission,
zero writes on a re-run, drift repaired, cleanup removes rule, target and permission (twice),
a foreign same-named rule is left alone."""

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


def test_setup_creates_the_rule_target_and_permission_then_changes_nothing(aws: None) -> None:
    function_arn = recovery_function()
    ctx = make_context()
    planned = setup(ctx, dry_run=True)
    assert [c.action for c in planned.changes] == [Action.WOULD_CREATE]
    assert ctx.clients.counter.writes == 0
    report = setup(ctx)
    assert [(c.kind, c.name, c.action) for c in report.changes] == [
        ("EventBridge rule", RULE, Action.CREATED)
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
    assert [c.action for c in setup(again).changes] == [Action.UNCHANGED]
    assert again.clients.counter.writes == 0


def test_drift_is_repaired(aws: None) -> None:
    function_arn = recovery_function()
    setup(make_context())
    ev, lam = clients()
    ev.put_targets(Rule=RULE, Targets=[{"Id": "intruder", "Arn": function_arn}])
    lam.remove_permission(FunctionName=FUNCTION, StatementId=events.STATEMENT_ID)
    ev.put_rule(Name=RULE, EventPattern=json.dumps({"source": ["aws.states"]}), State="DISABLED")
    report = setup(make_context())
    (change,) = report.changes
    assert change.action is Action.UPDATED
    assert change.detail == "event pattern, state, description, target, invoke permission"
    assert [t["Id"] for t in ev.list_targets_by_rule(Rule=RULE)["Targets"]] == ["recover-execution"]
    assert ev.describe_rule(Name=RULE)["State"] == "ENABLED"
    assert [s["Sid"] for s in policy_statements()] == [events.STATEMENT_ID]
    assert [c.action for c in setup(make_context()).changes] == [Action.UNCHANGED]


def test_cleanup_removes_rule_target_and_permission_twice(aws: None) -> None:
    recovery_function()
    setup(make_context())
    ctx = make_context()
    report = engine.cleanup(ctx, ["events"], dry_run=False, progress=_quiet)
    assert [c.action for c in report.changes] == [Action.DELETED]
    ev, lam = clients()
    assert RULE not in {r["Name"] for r in ev.list_rules()["Rules"]}
    assert policy_statements() == []
    assert lam.get_function(FunctionName=FUNCTION)  # the function is the lambdas step's
    second = engine.cleanup(make_context(), ["events"], dry_run=False, progress=_quiet)
    assert [c.action for c in second.changes] == [Action.ABSENT]


def test_a_foreign_rule_with_our_name_is_left_alone(aws: None) -> None:
    recovery_function()
    ev, _ = clients()
    ev.put_rule(Name=RULE, EventPattern=json.dumps({"source": ["someone.else"]}))
    report = setup(make_context())
    assert [c.action for c in report.changes] == [Action.FOREIGN] and not report.ok
    cleaned = engine.cleanup(make_context(), ["events"], dry_run=False, progress=_quiet)
    assert [c.action for c in cleaned.changes] == [Action.FOREIGN]
    assert json.loads(ev.describe_rule(Name=RULE)["EventPattern"]) == {"source": ["someone.else"]}
    assert policy_statements() == []
