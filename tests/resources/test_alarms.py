"""The alarms step: the guide's pipeline-failures alarm field for field, the timed-out /
aborted alarms, the recovery function's error alarm and automatic recovery's gave-up and
timed-out alarms, a no-op re-run with zero writes,
updates on a changed threshold and on drift, cleanup, a foreign same-named alarm left alone;
what pages, evaluated on the metric data of runs (a successful run with retried errors pages
nobody), and the per-step error alarms of earlier versions removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources.base.changes import Action
from handlers import RECOVERY_FUNCTIONS
from handlers import STEPS as PIPELINE_STEPS

from ..conftest import MOTO_ACCOUNT, edit_config, make_context

STEPS = ["alarms"]
TOPIC = f"arn:aws:sns:us-east-1:{MOTO_ACCOUNT}:aurora-restore-notifications-dev"
SM_ARN = f"arn:aws:states:us-east-1:{MOTO_ACCOUNT}:stateMachine:aurora-restore-pipeline-dev"
RECOVERY_ARN = SM_ARN.replace("-pipeline-", "-recovery-")
FAILURES = "aurora-restore-pipeline-failures-dev"
GAVE_UP = "aurora-restore-recovery-gave-up-dev"
ALL_ALARMS = {
    FAILURES,
    "aurora-restore-pipeline-timeouts-dev",
    "aurora-restore-pipeline-aborts-dev",
    *(f"aurora-restore-{s.replace('_', '-')}-errors-dev" for s in RECOVERY_FUNCTIONS),
    GAVE_UP,
    "aurora-restore-recovery-timeouts-dev",
}


def _quiet(_: str) -> None:
    pass


def cw() -> Any:
    return boto3.client("cloudwatch", "us-east-1")


def alarm(name: str) -> dict[str, Any]:
    found = cw().describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert len(found) == 1, name
    return dict(found[0])


def all_alarm_names() -> set[str]:
    pages = cw().get_paginator("describe_alarms").paginate()
    return {a["AlarmName"] for page in pages for a in page["MetricAlarms"]}


def setup(ctx: Any) -> engine.Report:
    report = engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert not report.failures, report.failures
    return report


def test_pipeline_failures_alarm_is_exactly_the_guides(aws: None) -> None:
    setup(make_context())
    found = alarm(FAILURES)
    # aws cloudwatch put-metric-alarm in the guide, step 7, with this env's ARNs.
    assert found["AlarmDescription"] == "Alarm for Aurora restore pipeline failures"
    assert found["MetricName"] == "ExecutionsFailed"
    assert found["Namespace"] == "AWS/States"
    assert found["Statistic"] == "Sum"
    assert found["Period"] == 300
    assert found["Threshold"] == 1.0
    assert found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert found["EvaluationPeriods"] == 1
    assert found["AlarmActions"] == [TOPIC]
    assert found["Dimensions"] == [{"Name": "StateMachineArn", "Value": SM_ARN}]
    # Beyond the guide: no executions is not an alarm.
    assert found["TreatMissingData"] == "notBreaching"
    assert found["ActionsEnabled"] is True
    assert not found.get("Metrics")


def test_create_every_alarm_tagged_then_noop_with_zero_writes(aws: None) -> None:
    ctx = make_context()
    report = setup(ctx)
    assert {c.name for c in report.changes} == ALL_ALARMS
    assert {c.action for c in report.changes} == {Action.CREATED}
    assert ctx.clients.counter.calls["cloudwatch.PutMetricAlarm"] == len(ALL_ALARMS)
    assert ctx.clients.counter.calls["cloudwatch.DescribeAlarms"] == 1
    assert all_alarm_names() == ALL_ALARMS

    timeouts = alarm("aurora-restore-pipeline-timeouts-dev")
    assert (timeouts["MetricName"], timeouts["Namespace"]) == ("ExecutionsTimedOut", "AWS/States")
    aborts = alarm("aurora-restore-pipeline-aborts-dev")
    assert (aborts["MetricName"], aborts["Namespace"]) == ("ExecutionsAborted", "AWS/States")
    errors = alarm("aurora-restore-recover-execution-errors-dev")
    assert (errors["MetricName"], errors["Namespace"], errors["Statistic"]) == (
        "Errors",
        "AWS/Lambda",
        "Sum",
    )
    assert errors["Dimensions"] == [
        {"Name": "FunctionName", "Value": "aurora-restore-recover-execution-dev"}
    ]
    assert errors["AlarmActions"] == [TOPIC]
    for name in ALL_ALARMS:
        arn = f"arn:aws:cloudwatch:us-east-1:{MOTO_ACCOUNT}:alarm:{name}"
        tags = {t["Key"]: t["Value"] for t in cw().list_tags_for_resource(ResourceARN=arn)["Tags"]}
        assert tags["aurora-restore:managed-by"] == "aurora-restore", name
        assert tags["aurora-restore:env"] == "dev"
        assert tags["team"] == "platform"

    again = make_context()
    report = setup(again)
    assert {c.action for c in report.changes} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()
    assert again.clients.counter.calls["cloudwatch.DescribeAlarms"] == 1


def test_changed_thresholds_and_period_update_only_those_alarms(
    aws: None, config_dir: Path
) -> None:
    setup(make_context(config_dir))

    def edit(data: dict[str, Any]) -> None:
        data["alarms"]["failed_executions"] = 3

    edit_config(config_dir, "dev", edit)
    ctx = make_context(config_dir)
    report = setup(ctx)
    updated = [(c.name, c.detail) for c in report.changes if c.action is Action.UPDATED]
    assert updated == [(FAILURES, "Threshold")]
    assert ctx.clients.counter.write_calls() == ["cloudwatch.PutMetricAlarm"]
    assert ctx.clients.counter.writes == 1
    assert alarm(FAILURES)["Threshold"] == 3.0
    # Tags survive the upsert.
    arn = alarm(FAILURES)["AlarmArn"]
    tags = {t["Key"]: t["Value"] for t in cw().list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags["aurora-restore:env"] == "dev"

    def period(data: dict[str, Any]) -> None:
        data["alarms"]["period_seconds"] = 600

    edit_config(config_dir, "dev", period)
    report = setup(make_context(config_dir))
    assert {c.action for c in report.changes} == {Action.UPDATED}
    assert {alarm(n)["Period"] for n in ALL_ALARMS} == {600}


def test_drift_behind_our_back_is_reverted(aws: None) -> None:
    setup(make_context())
    current = alarm(FAILURES)
    cw().put_metric_alarm(
        AlarmName=FAILURES,
        AlarmDescription="edited by hand",
        MetricName="ExecutionsFailed",
        Namespace="AWS/States",
        Statistic="Average",
        Period=300,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=2,
        Dimensions=current["Dimensions"],
    )
    cw().untag_resource(ResourceARN=current["AlarmArn"], TagKeys=["team"])

    ctx = make_context()
    report = setup(ctx)
    change = next(c for c in report.changes if c.name == FAILURES)
    assert change.action is Action.UPDATED
    assert change.detail == (
        "AlarmDescription, AlarmActions, Statistic, EvaluationPeriods, Threshold, "
        "ComparisonOperator, TreatMissingData, tags"
    )
    assert sorted(ctx.clients.counter.write_calls()) == [
        "cloudwatch.PutMetricAlarm",
        "cloudwatch.TagResource",
    ]
    restored = alarm(FAILURES)
    assert restored["Statistic"] == "Sum" and restored["Threshold"] == 1.0
    assert restored["AlarmActions"] == [TOPIC]
    again = make_context()
    assert {c.action for c in setup(again).changes} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0


def test_cleanup_deletes_only_ours_one_name_at_a_time(aws: None) -> None:
    setup(make_context())
    cw().put_metric_alarm(
        AlarmName="someone-elses-alarm",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        Threshold=90,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
    )
    ctx = make_context()
    report = engine.cleanup(ctx, STEPS, dry_run=False, progress=_quiet)
    assert {c.action for c in report.changes} == {Action.DELETED}
    assert ctx.clients.counter.calls["cloudwatch.DeleteAlarms"] == len(ALL_ALARMS)
    assert all_alarm_names() == {"someone-elses-alarm"}

    again = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert {c.action for c in again.changes} == {Action.ABSENT}
    assert again.ok


def test_foreign_same_named_alarm_is_left_alone(aws: None) -> None:
    cw().put_metric_alarm(
        AlarmName=FAILURES,
        AlarmDescription="theirs",
        MetricName="ExecutionsFailed",
        Namespace="AWS/States",
        Statistic="Sum",
        Period=60,
        Threshold=10,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        EvaluationPeriods=1,
    )
    report = engine.setup(make_context(), STEPS, dry_run=False, progress=_quiet)
    change = next(c for c in report.changes if c.name == FAILURES)
    assert change.action is Action.FOREIGN
    assert not report.ok
    assert alarm(FAILURES)["AlarmDescription"] == "theirs"

    report = engine.cleanup(make_context(), STEPS, dry_run=False, progress=_quiet)
    assert next(c for c in report.changes if c.name == FAILURES).action is Action.FOREIGN
    assert all_alarm_names() == {FAILURES}
    assert alarm(FAILURES)["Threshold"] == 10.0


def test_plan_and_status(aws: None) -> None:
    ctx = make_context()
    plan = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert {c.action for c in plan.changes} == {Action.WOULD_CREATE}
    assert ctx.clients.counter.writes == 0
    setup(make_context())
    status = engine.status(make_context(), STEPS, progress=_quiet)
    assert {c.action for c in status.changes} == {Action.PRESENT}


# --- what pages ------------------------------------------------------------------------------


def _put(metric: str, namespace: str, dimension: tuple[str, str], value: float) -> None:
    cw().put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def _function(step: str) -> tuple[str, str]:
    return ("FunctionName", f"aurora-restore-{step.replace('_', '-')}-dev")


def _run_metrics(failed: bool = False, recovery_errors: int = 0) -> None:
    """What AWS records for one run (one period) in which the state machine retried errors
    by design: DatabaseLoginFailed twice right after the password reset, DatabaseUnreachable
    once, a TransientError of a check step (Lambda's Errors counts every failed invocation)."""
    machine = ("StateMachineArn", SM_ARN)
    _put("ExecutionsStarted", "AWS/States", machine, 1)
    _put("ExecutionsFailed" if failed else "ExecutionsSucceeded", "AWS/States", machine, 1)
    for step, errors in (("reset_app_users", 2), ("mask_data", 1), ("check_copy", 1)):
        _put("Errors", "AWS/Lambda", _function(step), errors)
        _put("Invocations", "AWS/Lambda", _function(step), errors + 1)
    if recovery_errors:
        _put("Errors", "AWS/Lambda", _function("recover_execution"), recovery_errors)


def _breaching() -> set[str]:
    """Our alarms whose definition (as deployed) is breached by the metric data in CloudWatch:
    the statistic over the alarm's period, compared with its threshold as it says; missing
    data as TreatMissingData says (all ours: notBreaching)."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    found = set()
    for page in cw().get_paginator("describe_alarms").paginate():
        for defined in page["MetricAlarms"]:
            assert defined["EvaluationPeriods"] == 1 and defined["TreatMissingData"] == "notBreaching"
            points = cw().get_metric_statistics(
                Namespace=defined["Namespace"],
                MetricName=defined["MetricName"],
                Dimensions=defined["Dimensions"],
                StartTime=now - timedelta(seconds=defined["Period"]),
                EndTime=now + timedelta(seconds=60),
                Period=defined["Period"],
                Statistics=[defined["Statistic"]],
            )["Datapoints"]
            values = [p[defined["Statistic"]] for p in points]
            if not values:
                continue  # missing data: not breaching
            value, threshold = sum(values), defined["Threshold"]
            compare = {
                "GreaterThanOrEqualToThreshold": value >= threshold,
                "GreaterThanThreshold": value > threshold,
            }[defined["ComparisonOperator"]]
            if compare:
                found.add(defined["AlarmName"])
    return found


def test_a_successful_run_with_retried_errors_pages_nobody(aws: None) -> None:
    setup(make_context())
    _run_metrics()
    assert _breaching() == set()


def test_a_failed_run_pages_once_and_so_does_a_failing_recovery(aws: None) -> None:
    setup(make_context())
    _run_metrics(failed=True)
    assert _breaching() == {FAILURES}
    _run_metrics(failed=False, recovery_errors=1)
    assert _breaching() == {FAILURES, "aurora-restore-recover-execution-errors-dev"}


def test_automatic_recovery_pages_when_it_gives_up_not_when_it_recovers(aws: None) -> None:
    """A recovery execution that ends in GaveUp counts in its state machine's ExecutionsFailed:
    that pages, at one, whatever the pipeline alarms' thresholds; one that recovers does not."""
    setup(make_context())
    machine = ("StateMachineArn", RECOVERY_ARN)
    _put("ExecutionsStarted", "AWS/States", machine, 1)
    _put("ExecutionsSucceeded", "AWS/States", machine, 1)
    assert _breaching() == set()
    _put("ExecutionsFailed", "AWS/States", machine, 1)
    assert _breaching() == {GAVE_UP}
    gave_up = alarm(GAVE_UP)
    assert gave_up["Threshold"] == 1 and gave_up["AlarmActions"] == [TOPIC]


def test_the_step_error_alarms_of_earlier_versions_are_removed(aws: None) -> None:
    ctx = make_context()
    tags = [{"Key": k, "Value": v} for k, v in ctx.tags().items()]
    old = [f"aurora-restore-{s.replace('_', '-')}-errors-dev" for s in PIPELINE_STEPS[:2]]
    for name in old:
        cw().put_metric_alarm(
            AlarmName=name,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=300,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            EvaluationPeriods=1,
            Tags=tags,
        )
    report = setup(ctx)
    removed = {c.name: c.detail for c in report.changes if c.action is Action.UPDATED}
    assert set(removed) == set(old)
    assert all("retried by design" in detail for detail in removed.values())
    assert all_alarm_names() == ALL_ALARMS
    again = make_context()
    assert {c.action for c in setup(again).changes} == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0
