"""The roles step's customer managed policy `aurora-restore-lambda-logs-<env>` (the Lambda
functions' log permissions, kept out of the Lambda role's inline policies: IAM allows 10,240
characters of those per role; `-lambda-data-` is built the same way): created and attached, a re-run writes nothing, a document edited
behind our back becomes a new default version (at most five kept), an unattached one is
attached again, cleanup detaches and deletes it, a foreign same-named policy is left alone."""

from __future__ import annotations

import json
from typing import Any

import boto3

from aurora_restore_cli.documents import policies
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import roles
from aurora_restore_cli.resources.base.changes import Action

from ..conftest import MOTO_ACCOUNT, make_context

STEPS = ["roles"]
POLICY = "aurora-restore-lambda-logs-dev"
POLICY_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:policy/{POLICY}"
LAMBDA = "aurora-restore-lambda-role-dev"


def _quiet(_: str) -> None:
    pass


def iam() -> Any:
    return boto3.client("iam", "us-east-1")


def setup(ctx: Any) -> engine.Report:
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert not report.failures, report.failures
    return report


def policy_change(report: engine.Report) -> tuple[Action, str]:
    (change,) = [c for c in report.changes if c.name == POLICY]
    return change.action, change.detail


def default_document() -> dict[str, Any]:
    version = iam().get_policy(PolicyArn=POLICY_ARN)["Policy"]["DefaultVersionId"]
    document = iam().get_policy_version(PolicyArn=POLICY_ARN, VersionId=version)
    return roles.parse_document(document["PolicyVersion"]["Document"])


def attached() -> list[str]:
    """Whether the Lambda role has this policy attached (its data policy is another one)."""
    found = iam().list_attached_role_policies(RoleName=LAMBDA)["AttachedPolicies"]
    return [p["PolicyArn"] for p in found if p["PolicyArn"] == POLICY_ARN]


def test_created_attached_and_a_rerun_writes_nothing(aws: None) -> None:
    ctx = make_context()
    report = setup(ctx)
    assert report.changes[0].name == POLICY  # before the role that attaches it
    assert policy_change(report) == (Action.CREATED, "")
    expected = policies.managed_policies("lambda", ctx.settings, ctx.names)[POLICY]
    assert roles.same_document(default_document(), expected)
    (statement,) = expected["Statement"]
    assert statement["Sid"] == "FunctionLogs"
    assert all(":log-group:/aws/lambda/aurora-restore-" in r for r in statement["Resource"])
    assert attached() == [POLICY_ARN]
    # Created in this walk, so with our tags: the role attaches it without reading them again.
    assert ctx.clients.counter.calls["iam.ListPolicyTags"] == 0
    assert ctx.clients.counter.calls["iam.AttachRolePolicy"] == len(
        policies.MANAGED_POLICIES["lambda"])  # the logs and the data policies, once each
    tags = {t["Key"]: t["Value"] for t in iam().list_policy_tags(PolicyArn=POLICY_ARN)["Tags"]}
    assert tags["aurora-restore:env"] == "dev"
    again = make_context()
    assert {c.action for c in setup(again).changes} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()


def test_drift_makes_a_new_default_version_keeping_at_most_five(aws: None) -> None:
    setup(make_context())
    narrowed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "X",
                "Effect": "Allow",
                "Action": "logs:PutLogEvents",
                "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:x:*",
            }
        ],
    }
    for _ in range(4):  # versions v2..v5 behind our back: IAM's limit is five
        iam().create_policy_version(
            PolicyArn=POLICY_ARN, PolicyDocument=json.dumps(narrowed), SetAsDefault=True
        )
    iam().detach_role_policy(RoleName=LAMBDA, PolicyArn=POLICY_ARN)
    ctx = make_context()
    report = setup(ctx)
    assert policy_change(report) == (Action.UPDATED, "document")
    role = next(c for c in report.changes if c.name == LAMBDA)
    assert role.detail == "managed policies to attach"
    expected = policies.managed_policies("lambda", ctx.settings, ctx.names)[POLICY]
    assert roles.same_document(default_document(), expected)
    assert len(iam().list_policy_versions(PolicyArn=POLICY_ARN)["Versions"]) == 5
    assert attached() == [POLICY_ARN]


def test_cleanup_detaches_and_deletes_it_after_the_role(aws: None) -> None:
    setup(make_context())
    report = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert report.ok
    assert [c.name for c in report.changes][-1] == POLICY
    assert {c.action for c in report.changes} == {Action.DELETED}
    assert iam().list_policies(Scope="Local")["Policies"] == []


def test_a_foreign_policy_of_that_name_is_left_alone(aws: None) -> None:
    iam().create_policy(
        PolicyName=POLICY,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    report = engine.setup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert policy_change(report)[0] is Action.FOREIGN and not report.ok
    assert iam().get_policy(PolicyArn=POLICY_ARN)["Policy"]["DefaultVersionId"] == "v1"
    assert attached() == []  # our role never gets a policy that is not ours
