"""CloudWatch alarms of restore drills: a drill execution failed, timed out or was aborted
(AWS/States metrics of the drill state machine: a scheduled drill that fails pages someone),
and — when `drill.rto_alarm_minutes` is set — a drill whose RTO exceeded it (the
`DrillRtoSeconds` metric the drill_report step publishes, Maximum over the period); when
`drill.rpo_alarm_minutes` is set, a point-in-time drill that found production's latest
restorable time further behind than that (`DrillRpoSeconds`, docs/fast-paths.md).

Same comparison and ownership rules as resources/alarms.py. A configured RTO alarm that is
dropped from the config is removed by the next `setup` ("not in config: removed").
"""

from __future__ import annotations

from typing import Any

from ...contract.naming import DRILL_METRIC_NAMESPACE
from ..alarms import Alarm, RemovedAlarm, alarm_request, describe_alarms
from ..base.resource import BulkRead, Context, Resource

RTO_METRIC = "DrillRtoSeconds"
RPO_METRIC = "DrillRpoSeconds"
NOT_CONFIGURED = "not in config: removed"


def resources(ctx: Context) -> list[Resource[Any]]:
    names, settings = ctx.names, ctx.settings.alarms
    state_machine = [{"Name": "StateMachineArn", "Value": names.drill_state_machine_arn}]
    requests = [
        alarm_request(
            ctx,
            names.alarm(f"drill-{what}"),
            f"Alarm for Aurora restore drills that {description}",
            "AWS/States",
            metric,
            state_machine,
            threshold,
        )
        for what, description, metric, threshold in (
            ("failures", "failed", "ExecutionsFailed", settings.failed_executions),
            ("timeouts", "timed out", "ExecutionsTimedOut", settings.timed_out_executions),
            ("aborts", "were aborted", "ExecutionsAborted", settings.aborted_executions),
        )
    ]
    rto_name, rpo_name = names.alarm("drill-rto"), names.alarm("drill-rpo")
    alarm_names = [*(r["AlarmName"] for r in requests), rto_name, rpo_name]
    reader = BulkRead(lambda: describe_alarms(ctx, alarm_names))
    found: list[Resource[Any]] = [Alarm(ctx, r, reader) for r in requests]
    minutes = ctx.settings.drill.rto_alarm_minutes
    if minutes is not None:
        found.append(Alarm(ctx, rto_request(ctx, rto_name, minutes), reader))
    else:
        found.append(RemovedAlarm(ctx, rto_request(ctx, rto_name, 1), reader, NOT_CONFIGURED))
    rpo = ctx.settings.drill.rpo_alarm_minutes
    if rpo is not None:
        found.append(Alarm(ctx, rpo_request(ctx, rpo_name, rpo), reader))
    else:
        found.append(RemovedAlarm(ctx, rpo_request(ctx, rpo_name, 1), reader, NOT_CONFIGURED))
    return found


def rto_request(ctx: Context, name: str, minutes: int) -> dict[str, Any]:
    request = alarm_request(
        ctx,
        name,
        f"Alarm for Aurora restore drills that took longer than {minutes} minutes (RTO)",
        DRILL_METRIC_NAMESPACE,
        RTO_METRIC,
        [{"Name": "Env", "Value": ctx.env}],
        minutes * 60,
    )
    request.update(Statistic="Maximum", ComparisonOperator="GreaterThanThreshold")
    return request


def rpo_request(ctx: Context, name: str, minutes: int) -> dict[str, Any]:
    request = alarm_request(
        ctx,
        name,
        f"Alarm for point-in-time restore drills that found production's latest restorable "
        f"time more than {minutes} minutes behind (RPO)",
        DRILL_METRIC_NAMESPACE,
        RPO_METRIC,
        [{"Name": "Env", "Value": ctx.env}],
        minutes * 60,
    )
    request.update(Statistic="Maximum", ComparisonOperator="GreaterThanThreshold")
    return request
