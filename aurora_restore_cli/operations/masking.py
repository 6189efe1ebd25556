"""`aurora-restore masking plan | scan`: the declared rules as they will run, and a read-only PII
scan of the live target through the deployed scan function.

`plan` makes no AWS call: it compiles the rules with the pipeline's own code (handlers/lib/
masking.py, imported as Lambda imports it) against a catalog that assumes a text column without
a length limit (a date column for date_shift). At run time the restored database's own types,
lengths and unique indexes are applied: a bounded column gets `left(…)`, a unique column longer
hashes or a refusal.

`scan` invokes the deployed `scan-pii` function, so it sees the target with the function's
network, TLS and credentials, exactly as the gate before a swap does; it changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config.settings import Settings
from ..contract.pipeline_settings import masking_settings, pipeline_settings
from ..resources.base.resource import Context
from .preflight_checks import pipeline

SCAN_FUNCTION = "scan_pii"


@dataclass(frozen=True)
class TablePlan:
    table: str
    rules: list[dict[str, str]]  # column, transformer
    batched: str  # how the table is walked
    sql: str


class ScanFailed(Exception):
    """The scan function failed (its error type and message)."""


def plan(settings: Settings) -> list[TablePlan]:
    engines, rules_module = pipeline("lib.engines"), pipeline("lib.masking_rules")
    masking = pipeline("lib.masking")
    engine = engines.engine_for(settings.target.engine)
    rules = [rules_module.rule_from_json(r) for r in masking_settings(settings)["rules"]]
    catalog = _assumed_catalog(engines, rules)
    jobs = {(j.table.schema, j.table.name): j for j in
            masking.compile_jobs(engine, rules, catalog, {"ipad": b"", "opad": b""})}
    plans = []
    for table in catalog:
        listed = [r for r in rules if (r.column.schema, r.column.table) == (table.schema, table.name)]
        job = jobs.get((table.schema, table.name))
        sql = "-- nothing to write: every rule here is keep or sql"
        if job is not None:
            statement = engine.masking_update(job.table, job.assignments, {}, "<last key>", "<upto>")
            sql = statement.sql
        plans.append(TablePlan(
            listed[0].column.table_name,
            [{"column": r.column.column, "transformer": r.describe()} for r in listed],
            f"batches of {settings.masking.batch_rows} rows along the primary key, when it has "
            "a single-column one the rules do not rewrite; else one statement",
            sql,
        ))
    return plans


def _assumed_catalog(engines: Any, rules: list[Any]) -> list[Any]:
    tables: dict[tuple[str, str], list[Any]] = {}
    for rule in rules:
        category, type_sql = ((engines.DATETIME, "date") if rule.transformer == "date_shift"
                              else (engines.TEXT, "text"))
        tables.setdefault((rule.column.schema, rule.column.table), []).append(
            engines.ColumnInfo(rule.column.column, type_sql, category, None, False)
        )
    return [engines.TableInfo(schema, table, tuple(columns), "<primary key>", "<key type>", 0)
            for (schema, table), columns in sorted(tables.items())]


def scan(ctx: Context) -> dict[str, Any]:
    """The scan function's report of the live target (never a value)."""
    lam = ctx.clients.get("lambda")
    function = ctx.names.function(SCAN_FUNCTION)
    event = {"mode": "pii-scan", "settings": pipeline_settings(ctx.settings, ctx.names)}
    response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    answer = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise ScanFailed(f"{function} failed: {answer.get('errorType')}: {answer.get('errorMessage')}")
    return dict(answer)
