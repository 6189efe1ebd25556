"""Step (drill): record how long the restore took, phase by phase, and publish the RTO.

Writes one audit item per phase the drill entered (`step = "drill-phase"`: phase, start, end,
seconds; FAILED for the phase a failed drill stopped in) and one summary item
(`step = "drill"`: snapshot and its age, seconds per phase, RTO, verification results, cleanup
state), and — for a drill that succeeded — the CloudWatch metrics `DrillRtoSeconds` (dimension
Env) and `DrillPhaseSeconds` (Env, Phase) in `settings.drill.metric_namespace`. Runs on the
success path after the cleanup and on the failure path after the failure cleanup.

Phases are measured by Step Functions' own clock: the definition stamps `$$.State.EnteredTime`
into `marks.<phase>` as it enters each phase (so waits count, as they do for a real restore).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, drill, notify
from handlers.lib import document as doc
from handlers.lib.step import Document, StepResult, pipeline_step, ttl_days


@pipeline_step("drill-report")
def handler(document: Document, context: Any) -> StepResult:
    drill.require(document, "drill-report")
    failed = bool(document.get("error"))
    status = "FAILED" if failed else "SUCCEEDED"
    facts = drill.summary(document, status)
    if failed:
        facts["failure"] = notify.failure(document)
    published = False
    if not failed and facts["rto_seconds"] is not None:
        publish_metrics(document, facts)
        published = True
    drill.write_report(document, facts, ttl_days(document))
    document["drill_result"] = {
        key: facts[key]
        for key in ("status", "rto_seconds", "phases", "snapshot_age_hours", "restored_from",
                    "rpo_seconds")
    }
    details = {"status": status, "rto_seconds": facts["rto_seconds"], "metric": published}
    if facts["rpo_seconds"] is not None:
        details["rpo_seconds"] = facts["rpo_seconds"]
    return document, details


def publish_metrics(document: Document, facts: dict[str, Any]) -> None:
    namespace = str(doc.drill_settings(document).get("metric_namespace") or drill.DEFAULT_NAMESPACE)
    env = [{"Name": "Env", "Value": doc.env(document)}]
    data: list[dict[str, Any]] = [
        {
            "MetricName": drill.RTO_METRIC,
            "Dimensions": env,
            "Value": float(facts["rto_seconds"]),
            "Unit": "Seconds",
        }
    ]
    if facts.get("rpo_seconds") is not None:
        data.append(
            {
                "MetricName": drill.RPO_METRIC,
                "Dimensions": env,
                "Value": float(facts["rpo_seconds"]),
                "Unit": "Seconds",
            }
        )
    for phase, seconds in facts["phases"].items():
        data.append(
            {
                "MetricName": drill.PHASE_METRIC,
                "Dimensions": [*env, {"Name": "Phase", "Value": phase}],
                "Value": float(seconds),
                "Unit": "Seconds",
            }
        )
    aws.client("cloudwatch", doc.region(document)).put_metric_data(
        Namespace=namespace, MetricData=data
    )
