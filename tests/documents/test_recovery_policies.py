"""What recovery and final-snapshot retention may do, and no more (documents/policies/)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aurora_restore_cli.documents import policies

from ..conftest import MOTO_ACCOUNT
from .test_policies import load

EXECUTIONS = "arn:aws:states:us-east-1:{account}:execution:aurora-restore-pipeline-dev:*"
DRILL_EXECUTIONS = "arn:aws:states:us-east-1:{account}:execution:aurora-restore-drill-dev:*"


def by_sid(kind: str, **target: Any) -> dict[str, dict[str, Any]]:
    settings, names = load()
    if target:
        settings = replace(settings, target=replace(settings.target, **target))
    documents = policies.all_policies(kind, settings, names).values()
    return {s["Sid"]: s for d in documents for s in d["Statement"]}


def test_the_recovery_function_reads_only_this_pipelines_executions() -> None:
    _, names = load()
    statement = by_sid("lambda")["RecoveryReadsExecutions"]
    assert statement["Action"] == [
        "states:DescribeExecution",
        "states:DescribeStateMachineForExecution",
        "states:GetExecutionHistory",
    ]
    assert statement["Resource"] == [  # the restore drills are recovered too
        DRILL_EXECUTIONS.format(account=names.account_id),
        EXECUTIONS.format(account=names.account_id),
    ]
    assert not any(a.startswith("states:") and "Stop" in a for a in statement["Action"])


def test_automatic_recovery_starts_and_finds_only_its_own_executions() -> None:
    """The recovery function (Lambda role) starts automatic recovery's state machine and
    finds its executions; that state machine's role may invoke the recovery function only,
    the pipeline's may not; the DBA role may follow and stop automatic recovery."""
    _, names = load()
    account = names.account_id
    recovery = f"arn:aws:states:us-east-1:{account}:stateMachine:aurora-restore-recovery-dev"
    lam = by_sid("lambda")
    assert lam["RecoveryStarts"]["Action"] == ["states:StartExecution"]
    assert lam["RecoveryStarts"]["Resource"] == [recovery]
    assert lam["RecoveryFinds"]["Action"] == ["states:DescribeExecution"]
    executions = f"arn:aws:states:us-east-1:{account}:execution:aurora-restore-recovery-dev:*"
    assert lam["RecoveryFinds"]["Resource"] == [executions]
    machine = by_sid("recovery")
    assert set(machine) == {"InvokeRecoveryFunction", "LogDelivery"}
    assert machine["InvokeRecoveryFunction"]["Action"] == ["lambda:InvokeFunction"]
    assert machine["InvokeRecoveryFunction"]["Resource"] == [names.function_arn("recover_execution")]
    assert executions in by_sid("dba")["OperateExecutions"]["Resource"]
    assert recovery not in by_sid("dba")["OperatePipeline"]["Resource"]  # never started by hand


def test_only_the_dba_role_may_run_recover_and_only_that_function() -> None:
    _, names = load()
    recover = by_sid("dba")["Recover"]
    assert recover["Action"] == ["lambda:InvokeFunction"]
    assert recover["Resource"] == [names.function_arn("recover_execution")]
    invoke = by_sid("stepfunctions")["InvokeFunctions"]["Resource"]
    assert names.function_arn("recover_execution") not in invoke  # the pipeline never runs it


def test_final_snapshots_restore_and_retention_are_tag_scoped() -> None:
    statements = by_sid("lambda", final_snapshot=True)
    retention = statements["RdsDeleteFinalSnapshots"]
    assert retention["Action"] == ["rds:DeleteDBClusterSnapshot"]
    assert retention["Resource"] == [
        f"arn:aws:rds:us-east-1:{MOTO_ACCOUNT}:cluster-snapshot:dev-orders-final-*"
    ]
    assert retention["Condition"] == {"StringEquals": {"aws:ResourceTag/aurora-restore:env": "dev"}}
    assert retention["Resource"][0] in statements["RdsRestore"]["Resource"]
    untag = statements["RdsModifyClusters"]
    assert "rds:RemoveTagsFromResource" in untag["Action"] and untag["Condition"]
    without = by_sid("lambda", final_snapshot=False)
    assert "RdsDeleteFinalSnapshots" not in without
    assert not any("-final-" in r for r in without["RdsRestore"]["Resource"])
