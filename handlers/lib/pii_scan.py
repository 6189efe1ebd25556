"""The PII gate's scan: which columns of the restored database still look personal.

Every column of every user table is looked at. Text and JSON columns are sampled (up to
`sample_rows` rows per table, spread over the table, or every row) and each value goes through
the value detectors (pii_detectors.py). Every column's name goes through the name dictionary;
a named column counts only when it holds a value (not NULL, not blank), and only text, JSON
and date columns are named that way (a boolean `email_verified` is not personal).

A finding names the column, what was found and how many sampled values, never a value. It is
*covered* when a masking rule rewrites the column or marks it `keep`; a column masked by the
hand-written SQL files (rule `sql`) is judged by its values alone. Uncovered findings fail
the gate (`failing`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.lib import pii_detectors
from handlers.lib.engines import DATETIME, JSON, TEXT, Engine, TableInfo
from handlers.lib.masking_rules import Rule

DEFAULT_SAMPLE_ROWS = 1000
MAX_LISTED = 20  # findings named in an error message


@dataclass(frozen=True)
class Finding:
    column: str  # schema.table.column
    detector: str  # a value detector, or "column name (<kind>)"
    count: int  # sampled values it fired on (1 for a name)
    covered: bool

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "detector": self.detector, "count": self.count,
                "covered": self.covered}

    def describe(self) -> str:
        if self.detector.startswith("column name"):
            return f"{self.column}: {self.detector}, holds values"
        return f"{self.column}: {self.detector} in {self.count} sampled value(s)"


@dataclass
class Report:
    tables: int = 0
    columns: int = 0
    rows_sampled: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if not f.covered]

    def summary(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "columns_scanned": self.columns,
            "rows_sampled": self.rows_sampled,
            "findings": len(self.findings),
            "uncovered": len(self.failing),
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "columns": [f.to_json() for f in self.findings]}

    def failure_message(self) -> str:
        failing = self.failing
        listed = "; ".join(f.describe() for f in failing[:MAX_LISTED])
        more = f"; and {len(failing) - MAX_LISTED} more" if len(failing) > MAX_LISTED else ""
        return (
            f"personal data in {len(failing)} column(s) no masking rule covers: {listed}{more}. "
            "Add a rule for each (masking.rules), or `keep` once reviewed as not personal; "
            "`aurora-restore masking scan` lists them"
        )


def scan(conn: Any, engine: Engine, rules: Sequence[Rule], sample_rows: int | None,
         clock: Any = time.monotonic) -> Report:
    started = clock()
    report = Report()
    coverage = {(r.column.schema, r.column.table, r.column.column): r.transformer for r in rules}
    for table in engine.catalog(conn):
        report.tables += 1
        _scan_table(conn, engine, table, coverage, sample_rows, report)
    report.seconds = clock() - started
    return report


def _scan_table(conn: Any, engine: Engine, table: TableInfo, coverage: Mapping[tuple, str],
                sample_rows: int | None, report: Report) -> None:
    def rule(column: str) -> str | None:
        return coverage.get((table.schema, table.name, column))

    def found(column: str, detector: str, count: int) -> None:
        covered = rule(column) not in (None, "sql")  # a rewriting rule (keep is never scanned)
        where = f"{table.schema}.{table.name}.{column}"
        report.findings.append(Finding(where, detector, count, covered))

    report.columns += len(table.columns)
    looked_at = [c for c in table.columns if rule(c.name) != "keep"]
    scanned = [c.name for c in looked_at if c.category in (TEXT, JSON)]
    named = {c.name: hint for c in looked_at
             if c.category in (TEXT, JSON, DATETIME) and rule(c.name) != "sql"
             and (hint := pii_detectors.name_hint(c.name)) is not None}
    if scanned:
        rows = engine.run(conn, engine.sample(table, scanned, sample_rows))
        report.rows_sampled += len(rows)
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            for name, value in zip(scanned, row, strict=True):
                if value:
                    for detector in pii_detectors.detect(str(value)):
                        counts[(name, detector)] = counts.get((name, detector), 0) + 1
        for (name, detector), count in sorted(counts.items()):
            found(name, detector, count)
    if named:
        columns = list(named)
        holds = engine.run(conn, engine.non_empty(table, columns))[0]
        for name, non_empty in zip(columns, holds, strict=True):
            if non_empty:
                found(name, f"column name ({named[name]})", 1)
