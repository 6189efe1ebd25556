"""Step: the quarantine — production's side effects made harmless in the restored database before
the swap (handlers/lib/quarantine.py): the declared rules (`quarantine.rules`: outbound queues,
webhooks, tokens, site URLs …), the engine's built-in checks (scheduled jobs, replication,
foreign servers pointing outside the lower environment), and every rule's check. Fail-closed: a
statement or a check that fails stops the run before the swap, naming the rule; the target is
untouched. Audited like every step: what each rule and built-in did, the checks that passed.

The state machine calls it again while `quarantine.done` is false (rules run in batches across
invocations, their progress committed in the database); the loop is bounded by
`$.pipeline.quarantine.max_invocations` (from `quarantine.max_minutes`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from handlers.lib import database, db, quarantine, quarantine_rules, sql_files
from handlers.lib import document as doc
from handlers.lib.errors import QuarantineIncomplete
from handlers.lib.masking import Deadline
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("quarantine")
def handler(document: Document, context: Any) -> StepResult:
    state = dict(document.get("quarantine") or {})
    invocations = int(state.get("invocations") or 0) + 1
    pipeline = (document.get("pipeline") or {}).get("quarantine") or {}
    bound = int(pipeline.get("max_invocations") or 1)
    if invocations > bound:
        raise QuarantineIncomplete(
            f"the quarantine did not finish in {bound} invocation(s) (quarantine.max_minutes): "
            "raise it or lambda.timeout_seconds, or bound the rules' statements (repeat: true)"
        )
    reason = database.skip_reason(document)
    if reason:
        document["quarantine"] = {"done": True, "invocations": invocations}
        return document, skipped(reason)
    step = database.step_database(document)
    plan = quarantine.plan_from_settings(step.settings, own_hosts(document, step.target))
    engine = step.engine
    credentials = step.admin()

    @contextmanager
    def open_database(name: str) -> Iterator[Any]:
        other_target = dataclasses.replace(step.target, database=name)
        with database.session(engine, other_target, credentials) as other:
            yield other

    with step.session(credentials) as conn:
        outcome = quarantine.run(conn, engine, plan, Deadline(sql_files.time_budget(context)),
                                 open_database)
    document["quarantine"] = {"done": outcome.done, "invocations": invocations,
                              **outcome.summary()}
    return document, {**step.describe(), "invocation": invocations,
                      "allowed_hosts": list(plan.hosts.own + plan.hosts.allowed),
                      **outcome.details()}


def own_hosts(document: Document, target: db.Target) -> tuple[str, ...]:
    """The restored cluster's own endpoints (staging and, after the swap, target names) and
    the host this step connects to."""
    endpoint = (document.get("staging_endpoint") or {}).get("address") or target.host
    own = quarantine_rules.own_hosts(str(endpoint), document.get("staging_cluster_id"),
                                     doc.target_cluster_id(document))
    return tuple(sorted({*own, target.host.lower()}))
