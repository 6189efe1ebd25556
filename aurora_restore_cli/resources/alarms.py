"""CloudWatch alarms (guide step 7): what pages someone. Every alarm notifies the topic,
treats missing data as not breaching (no executions is not a problem) and is tagged.

What pages: a pipeline execution that failed (the guide's alarm), timed out or was aborted
(AWS/States metrics of the state machine), an error of a function the state machine does
not run — the recovery function, the safety net after a timeout or an abort — and automatic
recovery that gave up (its state machine's executions that failed: the GaveUp state, after
the last pass) or timed out (docs/recovery.md). Errors of the pipeline's own steps do not
page: Lambda's `Errors` counts every failed invocation, including those the state machine
retries by design (DatabaseLoginFailed right after the password reset, DatabaseUnreachable,
TransientError), so a run that succeeds would page. A step that
keeps failing past its retries ends the execution in its Fail state (every Catch leads there,
after the undo), which `ExecutionsFailed` reports — once per run, naming the run.

Per-step error alarms made by earlier versions (`aurora-restore-<step>-errors-<env>`) are
`unwanted` (base.py): `setup` removes them when they exist and are ours.

The API cost stays small: all alarms of the step are read with one batched describe_alarms
call, their tags from the tag index (one call for every kind), and nothing is written when
nothing differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..bundled import handler_steps, recovery_functions
from ..contract.naming import step_function_name
from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.resource import BulkRead, Context, Loadable, Resource, tag_differences, tag_list

STEP = "alarms"
RETRIED_ERRORS = "a pipeline step's errors page nobody (retried by design): removed"
# What the alarms notify and watch; a function's alarm needs only the topic and the functions.
DEPENDS_ON = ("topic", "lambdas", "state-machine")
FUNCTION_ALARM_DEPENDS_ON = ("topic", "lambdas")
RECOVERY_ALARM_DEPENDS_ON = ("topic", "events")  # automatic recovery's state machine
DESCRIBE_BATCH = 100  # describe_alarms accepts at most 100 names
# Compared field by field; a field we do not set must be absent (None) on the alarm.
COMPARED = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
LISTS = ("AlarmActions", "OKActions", "InsufficientDataActions", "Dimensions", "Metrics")


@dataclass(frozen=True)
class AlarmState:
    arn: str
    fields: dict[str, Any]  # normalised COMPARED fields
    tags: dict[str, str]


def _normalise(alarm: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {key: alarm.get(key) for key in COMPARED}
    for key in LISTS:
        fields[key] = list(fields[key] or [])
    fields["Dimensions"] = sorted(fields["Dimensions"], key=lambda d: (d["Name"], d["Value"]))
    if fields["Threshold"] is not None:
        fields["Threshold"] = float(fields["Threshold"])
    return fields


def resources(ctx: Context) -> list[Resource[Any]]:
    names, settings = ctx.names, ctx.settings.alarms
    state_machine = [{"Name": "StateMachineArn", "Value": names.state_machine_arn}]
    requests = [
        # Guide step 7, field for field.
        alarm_request(
            ctx,
            names.alarm("pipeline-failures"),
            "Alarm for Aurora restore pipeline failures",
            "AWS/States",
            "ExecutionsFailed",
            state_machine,
            settings.failed_executions,
        ),
        alarm_request(
            ctx,
            names.alarm("pipeline-timeouts"),
            "Alarm for Aurora restore pipeline timeouts",
            "AWS/States",
            "ExecutionsTimedOut",
            state_machine,
            settings.timed_out_executions,
        ),
        alarm_request(
            ctx,
            names.alarm("pipeline-aborts"),
            "Alarm for Aurora restore pipeline aborted executions",
            "AWS/States",
            "ExecutionsAborted",
            state_machine,
            settings.aborted_executions,
        ),
    ]
    requests += [function_errors(ctx, step) for step in recovery_functions()]
    requests += recovery_alarms(ctx)
    # The pipeline steps' error alarms of earlier versions: removed when found (see above).
    retired = [function_errors(ctx, step) for step in handler_steps()]
    alarm_names = [r["AlarmName"] for r in (*requests, *retired)]
    reader = BulkRead(lambda: describe_alarms(ctx, alarm_names))
    alarms: list[Resource[Any]] = []
    for request in requests:
        alarm = Alarm(ctx, request, reader)
        if request["Namespace"] == "AWS/Lambda":
            alarm.depends_on = FUNCTION_ALARM_DEPENDS_ON
        elif request["Dimensions"][0]["Value"] == names.recovery_state_machine_arn:
            alarm.depends_on = RECOVERY_ALARM_DEPENDS_ON
        alarms.append(alarm)
    for request in retired:
        gone = RemovedAlarm(ctx, request, reader, RETRIED_ERRORS)
        gone.depends_on = ()
        alarms.append(gone)
    return alarms


def recovery_alarms(ctx: Context) -> list[dict[str, Any]]:
    """Automatic recovery gave up (`aurora-restore-recovery-gave-up-<env>`: its executions
    that ended in GaveUp, ExecutionsFailed) or ran out of time (`recovery-timeouts`): the run
    is not recovered and its lock may still be held; someone must look (`recover`)."""
    names = ctx.names
    machine = [{"Name": "StateMachineArn", "Value": names.recovery_state_machine_arn}]
    # One is enough, whatever the thresholds of the pipeline's alarms: each is a run left
    # unrecovered.
    return [
        alarm_request(
            ctx,
            names.alarm("recovery-gave-up"),
            "Aurora restore: automatic recovery gave up (a run is not recovered; run "
            "`aurora-restore recover OPERATION_ID`)",
            "AWS/States",
            "ExecutionsFailed",
            machine,
            1,
        ),
        alarm_request(
            ctx,
            names.alarm("recovery-timeouts"),
            "Aurora restore: automatic recovery timed out (a run is not recovered; run "
            "`aurora-restore recover OPERATION_ID`)",
            "AWS/States",
            "ExecutionsTimedOut",
            machine,
            1,
        ),
    ]


def function_errors(ctx: Context, step: str) -> dict[str, Any]:
    """The `Errors` alarm of one function (`aurora-restore-<step>-errors-<env>`)."""
    function = ctx.names.function(step)
    return alarm_request(
        ctx,
        ctx.names.alarm(f"{step_function_name(step)}-errors"),
        f"Alarm for errors of Aurora restore Lambda function {function}",
        "AWS/Lambda",
        "Errors",
        [{"Name": "FunctionName", "Value": function}],
        ctx.settings.alarms.lambda_errors,
    )


def alarm_request(
    ctx: Context,
    name: str,
    description: str,
    namespace: str,
    metric: str,
    dimensions: list[dict[str, str]],
    threshold: int,
) -> dict[str, Any]:
    """The put_metric_alarm request (without tags) for one alarm."""
    return {
        "AlarmName": name,
        "AlarmDescription": description,
        "ActionsEnabled": True,
        "AlarmActions": [ctx.names.topic_arn],
        "OKActions": [],
        "InsufficientDataActions": [],
        "MetricName": metric,
        "Namespace": namespace,
        "Statistic": "Sum",
        "Dimensions": dimensions,
        "Period": ctx.settings.alarms.period_seconds,
        "EvaluationPeriods": 1,
        "Threshold": float(threshold),
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }


def describe_alarms(ctx: Context, names: list[str]) -> dict[str, dict[str, Any]]:
    """Name → alarm, for those of `names` that exist: one describe_alarms call per 100 names."""
    cloudwatch = ctx.clients.get("cloudwatch")
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), DESCRIBE_BATCH):
        pages = cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNames=names[start : start + DESCRIBE_BATCH], AlarmTypes=["MetricAlarm"]
        )
        for page in pages:
            found.update({a["AlarmName"]: a for a in page["MetricAlarms"]})
    return found


class Alarm(Resource[AlarmState]):
    kind = "CloudWatch alarm"

    def __init__(
        self, ctx: Context, request: dict[str, Any], reader: BulkRead[dict[str, Any]]
    ) -> None:
        super().__init__(ctx, request["AlarmName"])
        self.request = request
        self.reader = reader

    def arn(self) -> str:
        n = self.ctx.names
        return f"arn:{n.partition}:cloudwatch:{n.region}:{n.account_id}:alarm:{self.name}"

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    def bulk_reads(self) -> tuple[Loadable, ...]:
        return self.bulk_with_index(self.reader)

    def read(self) -> AlarmState | None:
        bulk, alarm = self.reader.take(self.name)
        if not bulk:
            alarm = describe_alarms(self.ctx, [self.name]).get(self.name)
        if alarm is None:
            return None
        tags = self.indexed_tags(alarm["AlarmArn"])
        if tags is None:
            listed = self.cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])
            tags = {t["Key"]: t["Value"] for t in listed.get("Tags") or []}
        return AlarmState(alarm["AlarmArn"], _normalise(alarm), tags)

    def tags(self, current: AlarmState) -> dict[str, str]:
        return current.tags

    def differences(self, current: AlarmState) -> list[str]:
        desired = _normalise(self.request)
        diffs = [key for key in COMPARED if current.fields[key] != desired[key]]
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def values(self, current: AlarmState, differences: list[str]) -> list[Difference]:
        desired = _normalise(self.request)
        found = [
            (document_diff if isinstance(desired[key], (dict, list)) else scalar)(
                key, current.fields[key], desired[key])
            for key in COMPARED if key in differences
        ]
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def create(self) -> None:
        self.cloudwatch.put_metric_alarm(**self.request, Tags=tag_list(self.ctx.tags()))

    def update(self, current: AlarmState, differences: list[str]) -> None:
        if any(d != "tags" for d in differences):
            # An upsert that replaces the whole configuration (AWS ignores Tags on update).
            self.cloudwatch.put_metric_alarm(**self.request)
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.cloudwatch.tag_resource(ResourceARN=current.arn, Tags=tag_list(to_set))
            if to_remove:
                self.cloudwatch.untag_resource(ResourceARN=current.arn, TagKeys=to_remove)

    def delete(self, current: AlarmState) -> None:
        # One name per call: only this alarm, which we have just read and own.
        self.cloudwatch.delete_alarms(AlarmNames=[self.name])


class RemovedAlarm(Alarm):
    """An alarm the config (or this version) no longer wants: listed only when it exists and is
    ours (`unwanted`), and `setup` deletes it, saying why."""

    def __init__(
        self, ctx: Context, request: dict[str, Any], reader: BulkRead[dict[str, Any]], why: str
    ) -> None:
        super().__init__(ctx, request, reader)
        self.unwanted = True
        self.why = why

    def differences(self, current: AlarmState) -> list[str]:
        return [self.why]

    def create(self) -> None:  # only reached if it vanished after we read it
        return

    def update(self, current: AlarmState, differences: list[str]) -> None:
        self.delete(current)
