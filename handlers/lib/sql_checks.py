"""Drill checks: a SQL file of queries whose every returned value must be true.

A restore drill proves more than "the tables exist": the team writes queries that must hold
on a good restore (`SELECT count(*) > 1000 FROM orders`, `SELECT max(created_at) > now() -
interval '2 days' FROM orders`, …). Each statement of the file is one check; a check passes
when it returns at least one row and every value of every row is boolean true. A check may
be named by a `-- check: <name>` comment line before it; otherwise it is named by its line
(the splitting is handlers/lib/sql_text.py).

The checks run in one READ ONLY transaction (a drill never changes the restored data, and a
check that tries fails), each under a statement timeout. MySQL has no boolean type: there a
check's 1 is true and 0 false (`Engine.truth`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.lib.engines import Engine, Statement, rollback_quietly
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
    engine: Engine,
    conn: Any,
    checks: Sequence[Check],
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
) -> dict[str, Any]:
    """Run every check (all of them, to report every failure); VerificationFailed names each
    failed one. Returns a compact, secret-free summary (names and outcomes, no data)."""
    failures: list[str] = []
    engine.begin_read_only(conn, statement_timeout_ms / 1000)
    try:
        for check in checks:
            engine.run(conn, Statement("SAVEPOINT drill_check", {}))
            try:
                rows = engine.run(conn, Statement(check.sql, {}, raw=True))
            except Exception as exc:
                error = engine.server_error(exc)
                if error is None:
                    raise
                engine.run(conn, Statement("ROLLBACK TO SAVEPOINT drill_check", {}))
                failures.append(f"{check.name}: error {error.code} {error.message}")
                continue
            engine.run(conn, Statement("RELEASE SAVEPOINT drill_check", {}))
            problem = _judge(engine, rows)
            if problem:
                failures.append(f"{check.name}: {problem}")
    except BaseException:
        rollback_quietly(engine, conn)  # the original error matters more
        raise
    engine.commit(conn)
    if failures:
        raise VerificationFailed(
            f"{len(failures)} of {len(checks)} drill check(s) failed: " + "; ".join(failures)
        )
    return {"checks": len(checks), "checks_ok": len(checks)}


def _judge(engine: Engine, rows: Sequence[Sequence[Any]] | None) -> str | None:
    if not rows:
        return "returned no rows (a check must return rows that are all true)"
    for row in rows:
        for value in row:
            try:
                truth = engine.truth(value)
            except TypeError:
                return f"returned a non-boolean value of type {type(value).__name__}"
            if truth is not True:
                return f"returned {'false' if truth is False else 'NULL'}"
    return None
