"""Step (drill, poll): delete the drill cluster and this operation's snapshot copy.

Runs after the drill (and after the keep-for-inspection wait), and on every failure path of a
drill before the failure is recorded. Each invocation is one idempotent pass of
`handlers.lib.drill.clean_up` (instances first, then the cluster without a final snapshot,
then the copy). The first pass starts the deletions and, unless all is gone already, starts
the wait loop (`poll.what` `cleanup`, waiting like the `delete` loop); later passes check and
record, until `poll.ready` or the loop's `max_polls`. On the failure path it counts its own
attempts (`failure-cleanup`), so a failure during the first cleanup still gets a full second
one.
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
    if not status["done"] and (document.get("poll") or {}).get("what") != what:
        # The first pass started the deletions: wait the loop's first_seconds before checking.
        polling.start(document, what)
        document["poll"]["status"] = summary
        return document, {"started": True, "status": summary, "cluster_id": status["cluster_id"]}
    details = polling.record(document, what, ready=bool(status["done"]), status=summary)
    return document, {**details, "cluster_id": status["cluster_id"]}
