"""Drill checks: a SQL file of queries whose every returned value must be true.

A restore drill proves more than "the tables exist": the team writes queries that must hold
on a good restore (`SELECT count(*) > 1000 FROM orders`, `SELECT max(created_at) > now() -
interval '2 days' FROM orders`, …). Each statement of the file is one check; a check passes
when it returns at least one row and every value of every row is boolean true. A check may
be named by a `-- check: <name>` comment line before it; otherwise it is named by its line
(the splitting is handlers/lib/sql_text.py).

The checks run in one READ ONLY transaction (a drill never changes the restored data, and a
check that tries fails), each under a statement timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pg8000.exceptions import DatabaseError

from handlers.lib import db
from handlers.lib.errors import SettingsInvalid, VerificationFailed
from handlers.lib.sql_text import Check, split_checks

__all__ = ["Check", "evaluate", "parse_checks"]

DEFAULT_STATEMENT_TIMEOUT_MS = 300_000


def parse_checks(text: str, file_name: str = "checks") -> list[Check]:
    """Split the file into statements (quotes, dollar quotes and comments respected)."""
    checks = split_checks(text, file_name)
    if not checks:
        raise SettingsInvalid(f"{file_name}: no checks (statements) in the file")
    return checks


def evaluate(
    conn: db.Connection,
    checks: Sequence[Check],
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> dict[str, Any]:
    """Run every check (all of them, to report every failure); VerificationFailed names each
    failed one. Returns a compact, secret-free summary (names and outcomes, no data)."""
    failures: list[str] = []
    with db.transaction(conn):
        conn.run("SET TRANSACTION READ ONLY")
        conn.run(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
        for check in checks:
            conn.run("SAVEPOINT drill_check")
            try:
                rows = conn.run(check.sql)
            except DatabaseError as exc:
                conn.run("ROLLBACK TO SAVEPOINT drill_check")
                code, message = db.error_fields(exc)
                failures.append(f"{check.name}: error {code} {message}")
                continue
            conn.run("RELEASE SAVEPOINT drill_check")
            problem = _judge(rows)
            if problem:
                failures.append(f"{check.name}: {problem}")
    if failures:
        raise VerificationFailed(
            f"{len(failures)} of {len(checks)} drill check(s) failed: " + "; ".join(failures)
        )
    return {"checks": len(checks), "checks_ok": len(checks)}


def _judge(rows: Sequence[Sequence[Any]] | None) -> str | None:
    if not rows:
        return "returned no rows (a check must return rows that are all true)"
    for row in rows:
        for value in row:
            if value is not True:
                if value is False or value is None:
                    return f"returned {'false' if value is False else 'NULL'}"
                return f"returned a non-boolean value of type {type(value).__name__}"
    return None
