"""The DBA role's document: read the audit trail and secrets, operate runs, recover.
"""

from __future__ import annotations

from ...config.settings import Settings
from .arns import Arns
from .statements import Document, allow, kms_grants, policy_document


def dba(settings: Settings, arns: Arns) -> Document:
    n = arns.n
    statements = [
        allow(
            "ReadAudit",
            ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
            [n.table_arn],
        ),
        allow(
            "OperatePipeline",
            ["states:DescribeStateMachine", "states:ListExecutions", "states:StartExecution"],
            [n.state_machine_arn, n.drill_state_machine_arn],
        ),
        allow(
            "OperateExecutions",
            ["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
            # Automatic recovery's too: follow it, or stop it to go on by hand (`recover`).
            [arns.executions(), arns.drill_executions(), arns.recovery_executions()],
        ),
        allow(
            "ReadSecrets",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            arns.readable_secrets(),
        ),
        # `aurora-restore recover OPERATION_ID` runs the recovery function.
        allow("Recover", ["lambda:InvokeFunction"], [arns.recovery_function()]),
        # `aurora-restore logs OPERATION_ID`: one run's lines from its functions' and state
        # machines' log groups. (`test-functions` invokes every function: not the DBA's.)
        allow("ReadRunLogs", ["logs:FilterLogEvents"], arns.run_log_groups()),
    ]
    statements += kms_grants(
        "KmsSecrets",
        settings.secrets.kms_key_id,
        ["kms:Decrypt", "kms:DescribeKey"],
        "secretsmanager",
        n,
    )
    statements += kms_grants(
        "KmsAudit", settings.audit.kms_key_id, ["kms:Decrypt", "kms:DescribeKey"], "dynamodb", n
    )
    return policy_document(statements)
