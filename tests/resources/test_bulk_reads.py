"""Reads in bulk: a no-op setup of every kind costs fewer calls than there are resources,
and the shortcuts never hide a difference or make a resource look ours.

Bulk answers: one ListFunctions pass, log groups by prefix, one DescribeAlarms, and every
tag from one Resource Groups Tagging API call (trusted only when it holds exactly our tags).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import available_steps
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.base.tag_index import TagIndex

from ..conftest import load_moto_backends, make_context

REGION = "us-east-1"
# Per-resource tag reads that the index makes unnecessary. (moto's tagging API does not list
# EventBridge rules, AWS's does: here the recovery rule reads its own tags.)
PER_RESOURCE_TAG_CALLS = {
    "lambda.ListTags",
    "logs.ListTagsForResource",
    "cloudwatch.ListTagsForResource",
    "stepfunctions.ListTagsForResource",
    "dynamodb.ListTagsOfResource",
    "sns.ListTagsForResource",
}


def _quiet(_: str) -> None:
    pass


@pytest.fixture
def provisioned() -> Iterator[None]:
    load_moto_backends()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        assert engine.setup(make_context(), available_steps(), False, _quiet).ok
        yield


def setup_again() -> tuple[engine.Report, Any]:
    ctx = make_context()
    return engine.setup(ctx, available_steps(), False, _quiet), ctx.clients.counter


def test_a_no_op_setup_reads_in_bulk_and_writes_nothing(provisioned: None) -> None:
    report, counter = setup_again()
    assert {c.action for c in report.changes} == {Action.UNCHANGED}
    assert counter.writes == 0, counter.write_calls()
    # Functions, log groups, alarms and tags come in bulk (the calls below); roles, secrets,
    # schedule groups and the topic's key read their own (about 77 resources, 48 reads).
    assert counter.reads < len(report.changes), counter.snapshot()
    calls = counter.snapshot()
    assert calls["resourcegroupstaggingapi.GetResources"] == 1
    assert calls["lambda.ListFunctions"] == 1 and calls["lambda.GetFunction"] == 0
    # the functions' prefix, the groups of the state machine, the drills' and recovery's
    assert calls["logs.DescribeLogGroups"] == 4
    assert calls["cloudwatch.DescribeAlarms"] == 2  # the pipeline's alarms, the drills'
    assert not PER_RESOURCE_TAG_CALLS & set(calls)


def test_plan_and_status_read_the_same_way(provisioned: None) -> None:
    ctx = make_context()
    plan = engine.setup(ctx, available_steps(), True, _quiet)
    assert {c.action for c in plan.changes} == {Action.UNCHANGED}
    status = engine.status(make_context(), available_steps(), _quiet)
    assert {c.action for c in status.changes} == {Action.PRESENT}
    assert ctx.clients.counter.reads < len(plan.changes)


def test_a_tag_changed_behind_our_back_is_still_seen_and_fixed(provisioned: None) -> None:
    lam, logs, cw = (boto3.client(s, REGION) for s in ("lambda", "logs", "cloudwatch"))
    function = lam.get_function(FunctionName="aurora-restore-verify-dev")["Configuration"]
    lam.tag_resource(Resource=function["FunctionArn"], Tags={"team": "someone-else"})
    group = "/aws/lambda/aurora-restore-verify-dev"
    logs.untag_log_group(logGroupName=group, tags=["cost-center"])
    alarm = cw.describe_alarms(AlarmNames=["aurora-restore-pipeline-failures-dev"])
    cw.tag_resource(ResourceARN=alarm["MetricAlarms"][0]["AlarmArn"],
                    Tags=[{"Key": "stray", "Value": "x"}])

    report, counter = setup_again()
    updated = {c.name: c.detail for c in report.changes if c.action is Action.UPDATED}
    assert updated == {
        "aurora-restore-verify-dev": "tags",
        group: "tags",
        "aurora-restore-pipeline-failures-dev": "tags",
    }
    # the three with other tags than ours were read from their service (authoritative)
    calls = counter.snapshot()
    assert calls["lambda.ListTags"] == 1
    assert calls["logs.ListTagsForResource"] == 1
    assert calls["cloudwatch.ListTagsForResource"] == 1
    again, counter = setup_again()
    assert {c.action for c in again.changes} == {Action.UNCHANGED}
    assert counter.writes == 0


def test_without_the_tagging_api_every_resource_reads_its_own_tags(
    provisioned: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(self: TagIndex) -> dict[str, dict[str, str]]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetResources")

    monkeypatch.setattr(TagIndex, "_load", refused)
    report, counter = setup_again()
    assert {c.action for c in report.changes} == {Action.UNCHANGED}
    assert counter.writes == 0
    alarms = sum(1 for c in report.changes if c.kind == "CloudWatch alarm")
    assert counter.snapshot()["cloudwatch.ListTagsForResource"] == alarms >= 8


def test_a_same_named_foreign_resource_is_never_taken_for_ours(provisioned: None) -> None:
    """A log group without our tags is absent from the index: its own tags are read, and it
    is reported foreign and left alone."""
    logs = boto3.client("logs", REGION)
    name = "/aws/lambda/aurora-restore-finalize-dev"
    logs.untag_log_group(logGroupName=name, tags=["aurora-restore:env"])
    report, counter = setup_again()
    actions = {c.name: c.action for c in report.changes}
    assert actions[name] is Action.FOREIGN
    assert counter.writes == 0


def test_cleanup_checks_ownership_with_each_service_never_the_index(
    provisioned: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the index claimed everything ours, cleanup asks the service itself."""
    cw = boto3.client("cloudwatch", REGION)
    alarm = cw.describe_alarms(AlarmNames=["aurora-restore-pipeline-aborts-dev"])
    arn = alarm["MetricAlarms"][0]["AlarmArn"]
    cw.untag_resource(ResourceARN=arn, TagKeys=["aurora-restore:env", "aurora-restore:managed-by"])
    monkeypatch.setattr(TagIndex, "get", lambda self, arn: make_context().tags())
    removed = engine.cleanup(make_context(force_delete_secrets=True),
                             list(reversed(available_steps())), False, _quiet)
    actions = {c.name: c.action for c in removed.changes}
    assert actions["aurora-restore-pipeline-aborts-dev"] is Action.FOREIGN
    assert cw.describe_alarms(AlarmNames=["aurora-restore-pipeline-aborts-dev"])["MetricAlarms"]
