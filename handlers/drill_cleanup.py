"""Step (drill, poll): delete the drill cluster and this operation's snapshot copy.

Runs after the drill (and after the keep-for-inspection wait), and on every failure path of a
drill before the failure is recorded. Each invocation is one idempotent pass of
`handlers.lib.drill.clean_up` (instances first, then the cluster without a final snapshot,
then the copy); the state machine calls it again after a Wait until `poll.ready`, bounded by
MaxPollAttempts. On the failure path it counts its own attempts (`poll.what`
`failure-cleanup`), so a failure during the first cleanup still gets a full second one.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import drill, polling
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("drill-cleanup")
def handler(document: Document, context: Any) -> StepResult:
    drill.require(document, "drill-cleanup")
    status = drill.clean_up(document)
    document["cleanup"] = status
    what = "failure-cleanup" if document.get("error") else "cleanup"
    summary = f"cluster {status['cluster']}, copy {status['copy']}"
    details = polling.record(document, what, ready=bool(status["done"]), status=summary)
    return document, {**details, "cluster_id": status["cluster_id"]}
