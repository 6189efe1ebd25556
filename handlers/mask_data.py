"""Step: mask the restored database — the hand-written SQL files and the declared rules, in
batches (handlers/lib/masking.py). The state machine calls it again while `masking.done` is
false; each invocation does what fits in its time, and the progress lives in the database
being masked, so a retry resumes after the last committed batch.

The loop is bounded: `$.pipeline.masking.max_invocations` (from `masking.max_minutes`); an
invocation that would pass it fails with MaskingIncomplete before touching anything.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import database, masking, secrets, sql_files
from handlers.lib.errors import MaskingIncomplete
from handlers.lib.step import Document, StepResult, pipeline_step, skipped

MASKING_SECRET_ENV = "MASKING_SECRET_ID"


@pipeline_step("mask-data")
def handler(document: Document, context: Any) -> StepResult:
    state = dict(document.get("masking") or {})
    invocations = int(state.get("invocations") or 0) + 1
    bound = int(((document.get("pipeline") or {}).get("masking") or {}).get("max_invocations") or 1)
    if invocations > bound:
        raise MaskingIncomplete(
            f"masking did not finish in {bound} invocation(s) (masking.max_minutes): raise it, "
            "or lambda.timeout_seconds, or masking.batch_rows"
        )
    reason = database.skip_reason(document)
    if reason:
        document["masking"] = {"done": True, "invocations": invocations}
        return document, skipped(reason)
    step = database.step_database(document)
    plan = masking.plan_from_settings(step.settings)
    if plan.empty:
        document["masking"] = {"done": True, "invocations": invocations}
        return document, skipped("no masking rules or SQL files configured")
    key = masking.key_from_secret(
        step.secrets.get_secret_value(SecretId=secrets.secret_id(MASKING_SECRET_ENV))["SecretString"]
    )
    engine = step.engine
    credentials = step.admin()
    with step.session(credentials) as conn:
        outcome = masking.run(
            conn, engine, plan, masking.pads(key), masking.Deadline(sql_files.time_budget(context)),
            sql_files.sql_directory(), sql_files.canceller(engine, step.target, credentials),
        )
    rows = sum(int(t["rows"]) for t in outcome.tables.values())
    document["masking"] = {"done": outcome.done, "invocations": invocations, "rows": rows}
    return document, {**step.describe(), "invocation": invocations, **outcome.details()}
