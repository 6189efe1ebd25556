"""The restore drills' state machine `aurora-restore-drill-<env>` and its log group.

Rendered from `definitions/drill.asl.json` (with this env's function ARNs, settings and drill
settings) and compared, updated and deleted exactly like the refresh's state machine
(resources/state_machine.py): same role, logging level, tracing and tags.
"""

from __future__ import annotations

import json
from typing import Any

from ...config.settings import Settings
from ...contract.naming import Names
from ...contract.pipeline_settings import render_drill_definition
from ..base.resource import Context
from ..state_machine import LOG_LEVEL, StateMachine


def validate_offline(settings: Settings, names: Names) -> str:
    states = json.loads(render_drill_definition(settings, names))["States"]
    tasks = sum(1 for state in states.values() if state.get("Type") == "Task")
    return (
        f"definition drill.asl.json: {len(states)} states, every placeholder filled, every Next "
        f"resolves, all {tasks} tasks invoke this env's functions"
    )


class DrillStateMachine(StateMachine):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx, ctx.names.drill_state_machine)

    def arn(self) -> str:
        return self.ctx.names.drill_state_machine_arn

    @property
    def definition(self) -> str:
        if self._definition is None:
            self._definition = render_drill_definition(self.ctx.settings, self.ctx.names)
        return self._definition

    def _logging(self) -> dict[str, Any]:
        log_group = self.ctx.names.log_group_arn(self.ctx.names.drill_state_machine_log_group)
        return {
            "level": LOG_LEVEL,
            "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{log_group}:*"}}],
        }
