"""The state machine role's documents: invoke this env's functions, deliver its logs.
"""

from __future__ import annotations

from .arns import Arns
from .statements import Document, allow, policy_document


def stepfunctions_invoke(arns: Arns) -> Document:
    return policy_document([allow("InvokeFunctions", ["lambda:InvokeFunction"], arns.functions())])


def recovery_invoke(arns: Arns) -> Document:
    """Automatic recovery's state machine runs the recovery function, and nothing else."""
    return policy_document(
        [allow("InvokeRecoveryFunction", ["lambda:InvokeFunction"], [arns.recovery_function()])]
    )

def stepfunctions_logs() -> Document:
    return policy_document(
        [
            allow(
                "LogDelivery",
                [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                ],
                "*",
            )
        ]
    )
