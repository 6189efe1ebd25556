"""The `masking:` section: declared rules (`schema.table.column: transformer`), when the
hand-written SQL files run, the batch size and time bound, and the PII gate's sample.

The rules are parsed by the pipeline's own parser (handlers/lib/masking_rules.py, loaded by
path), so `validate` accepts exactly what the masking step will run.
"""

from __future__ import annotations

from typing import Any

from ..bundled import handler_lib
from .reader import Section
from .settings import Masking, MaskingRule

MAX_SAMPLE_ROWS = 1_000_000


def read_masking(s: Section | None) -> Masking:
    if s is None:
        return Masking()
    with s.reading():
        rules = _rules(s)
        scan = s.optional_section("scan")
        sample: int | None = Masking.sample_rows
        if scan is not None:
            with scan.reading():
                raw = scan.raw("sample_rows", Masking.sample_rows)
                sample = None if raw == "all" else scan.integer("sample_rows", 1, MAX_SAMPLE_ROWS)
        return Masking(
            rules=rules,
            sql_files=s.string("sql_files", "after", choices=("before", "after")),
            batch_rows=s.integer("batch_rows", 100, 10_000_000, Masking.batch_rows),
            max_minutes=s.integer("max_minutes", 1, 24 * 60, Masking.max_minutes),
            sample_rows=sample,
        )


def _rules(s: Section) -> tuple[MaskingRule, ...]:
    raw: Any = s.raw("rules", {})
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise s.error("rules", "expected a mapping of schema.table.column to a transformer")
    parser = handler_lib("masking_rules")
    for key, spec in raw.items():
        try:
            parser.parse_column(str(key))
            parser.parse_transformer(spec)
        except ValueError as exc:
            raise s.error(f"rules.{key}", str(exc)) from None
    try:
        parsed = parser.parse_rules(raw)
    except ValueError as exc:
        raise s.error("rules", str(exc)) from None
    return tuple(
        MaskingRule(str(r.column), r.column.schema, r.column.table, r.column.column,
                    r.transformer, r.argument)
        for r in parsed
    )
