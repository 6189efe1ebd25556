"""The sandbox's stand-in for IAM (role_policy.decide), and the health checks' probes against
the Lambda role's real documents: every probe is allowed, and decided without a Condition."""

from __future__ import annotations

from typing import Any

import pytest

from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.contract.pipeline_settings import pipeline_settings
from aurora_restore_cli.documents.policies.roles import all_policies
from aurora_restore_cli.sandbox.role_policy import decide
from handlers import FUNCTIONS
from handlers.lib import health

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT

ALLOW = {"Sid": "A", "Effect": "Allow", "Action": ["rds:Describe*"],
         "Resource": "arn:aws:rds:us-east-1:1:cluster:dev-*"}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_allow_by_pattern_deny_wins_default_deny() -> None:
    arn = "arn:aws:rds:us-east-1:1:cluster:dev-orders"
    assert decide([document(ALLOW)], "rds:DescribeDBClusters", arn).allowed
    assert decide([document(ALLOW)], "RDS:describedbclusters", arn).allowed  # actions: any case
    assert not decide([document(ALLOW)], "rds:ModifyDBCluster", arn).allowed
    assert not decide([document(ALLOW)], "rds:DescribeDBClusters", arn.upper()).allowed
    deny = {**ALLOW, "Sid": "D", "Effect": "Deny", "Resource": arn}
    decision = decide([document(ALLOW), document(deny)], "rds:DescribeDBClusters", arn)
    assert (decision.allowed, decision.reason) == (False, "explicitly denied by D")
    assert decide([], "rds:DescribeDBClusters", arn).reason.startswith("no statement")


def test_a_condition_is_never_taken_as_an_allow() -> None:
    arn = "arn:aws:rds:us-east-1:1:cluster:dev-orders"
    conditional = {**ALLOW, "Condition": {"StringEquals": {"aws:ResourceTag/x": "y"}}}
    assert not decide([document(conditional)], "rds:DescribeDBClusters", arn).allowed


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_functions_probe_is_allowed_by_the_lambda_roles_documents(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the health check calls with the function's role is what setup grants it (so the
    check passes on AWS too), and the sandbox decides it on unconditional statements."""
    settings = load_settings(CONFIG_DIR, "dev")
    names = Names("dev", settings.region, MOTO_ACCOUNT)
    monkeypatch.setenv("DYNAMODB_TABLE", names.table)
    monkeypatch.setenv("MASTER_SECRET_ID", names.master_secret)
    probe = health.probe_for(function, pipeline_settings(settings, names))
    resource = probe.resource
    if probe.arn_key:  # a secret's ARN ends in -XXXXXX (Secrets Manager adds it)
        resource += "-AbCdEf"
    decision = decide(all_policies("lambda", settings, names).values(), probe.action, resource)
    assert decision.allowed, (function, probe.action, resource, decision.reason)
