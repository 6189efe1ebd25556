"""Automatic recovery's state machine `aurora-restore-recovery-<env>` and its log group.

Rendered from `definitions/recovery.asl.json` (contract/recovery_definition.py: one Task that
invokes the recovery function, a Wait between passes, at most the config's number of passes,
a Fail state when it gives up) and compared, updated and deleted exactly like the refresh's
state machine (resources/state_machine.py): logging level, tracing and tags; its role is its
own (`aurora-restore-recovery-role-<env>`: it may invoke the recovery function only).
"""

from __future__ import annotations

from typing import Any

from ..contract import recovery_definition
from .base.resource import Context
from .log_group import LogGroup
from .state_machine import LOG_LEVEL, StateMachine

ROLE_KIND = "recovery"


def resources(ctx: Context) -> tuple[LogGroup, RecoveryStateMachine]:
    names = ctx.names
    log_group = LogGroup(
        ctx, names.recovery_state_machine_log_group, ctx.settings.lambda_.log_retention_days
    )
    machine = RecoveryStateMachine(ctx)
    machine.after = (log_group,)  # its logging configuration names the group
    return log_group, machine


class RecoveryStateMachine(StateMachine):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx, ctx.names.recovery_state_machine)

    def arn(self) -> str:
        return self.ctx.names.recovery_state_machine_arn

    @property
    def definition(self) -> str:
        if self._definition is None:
            self._definition = recovery_definition.render(self.ctx.settings, self.ctx.names)
        return self._definition

    @property
    def role_arn(self) -> str:
        return self.ctx.names.role_arn(ROLE_KIND)

    def _logging(self) -> dict[str, Any]:
        log_group = self.ctx.names.log_group_arn(self.ctx.names.recovery_state_machine_log_group)
        return {
            "level": LOG_LEVEL,
            "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{log_group}:*"}}],
        }
