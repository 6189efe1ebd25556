"""Drill checks: a SQL file of queries whose every returned value must be true.

A restore drill proves more than "the tables exist": the team writes queries that must hold
on a good restore (`SELECT count(*) > 1000 FROM orders`, `SELECT max(created_at) > now() -
interval '2 days' FROM orders`, …). Each statement of the file is one check; a check passes
when it returns at least one row and every value of every row is boolean true. A check may
be named by a `-- check: <name>` comment line before it; otherwise it is named by its line.

The checks run in one READ ONLY transaction (a drill never changes the restored data, and a
check that tries fails), each under a statement timeout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pg8000.exceptions import DatabaseError

from handlers.lib import db
from handlers.lib.errors import SettingsInvalid, VerificationFailed

NAME_COMMENT = re.compile(r"--\s*check:\s*(?P<name>\S.*?)\s*$")
DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
DEFAULT_STATEMENT_TIMEOUT_MS = 300_000


@dataclass(frozen=True)
class Check:
    name: str
    line: int
    sql: str


def parse_checks(text: str, file_name: str = "checks") -> list[Check]:
    """Split the file into statements (quotes, dollar quotes and comments respected)."""
    checks: list[Check] = []
    pending_name: str | None = None
    start = 0
    for end in _statement_ends(text):
        chunk = text[start:end]
        body, first_line, name = _strip(chunk, text.count("\n", 0, start) + 1)
        pending_name = name or pending_name
        if body:
            checks.append(Check(pending_name or f"{file_name} line {first_line}", first_line, body))
            pending_name = None
        start = end + 1
    if not checks:
        raise SettingsInvalid(f"{file_name}: no checks (statements) in the file")
    return checks


def _strip(chunk: str, line: int) -> tuple[str, int, str | None]:
    """The statement without leading blanks and comments, its first line, and a check name."""
    name = None
    i = 0
    while True:
        rest = chunk[i:]
        i += len(rest) - len(rest.lstrip())
        if chunk.startswith("--", i):
            end = _find(chunk, "\n", i)
            match = NAME_COMMENT.fullmatch(chunk[i:end].strip())
            name = match.group("name") if match else name
            i = end
        elif chunk.startswith("/*", i):
            i = _block_comment_end(chunk, i) + 1
        else:
            break
    return chunk[i:].strip(), line + chunk.count("\n", 0, i), name


def _statement_ends(text: str) -> list[int]:
    """Offsets of the semicolons that end statements (and the end of the text)."""
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            i = _find(text, "\n", i)
        elif text.startswith("/*", i):
            i = _block_comment_end(text, i)
        elif c == "'":
            escapes = i > 0 and text[i - 1] in "eE" and not _in_word(text, i - 1)
            i = _quoted_end(text, i, "'", escapes)
        elif c == '"':
            i = _quoted_end(text, i, '"', False)
        elif c == "$" and (tag := DOLLAR_TAG.match(text, i)) and not _in_word(text, i):
            i = _find(text, tag.group(), tag.end()) + len(tag.group()) - 1
        elif c == ";":
            ends.append(i)
        i += 1
    if not ends or text[ends[-1] + 1 :].strip():
        ends.append(n)
    return ends


def _find(text: str, what: str, start: int) -> int:
    found = text.find(what, start)
    return len(text) if found < 0 else found


def _in_word(text: str, i: int) -> bool:
    """`$1` parameters and identifiers like `a$b` are not dollar quotes."""
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


def _quoted_end(text: str, i: int, quote: str, backslash_escapes: bool) -> int:
    i += 1
    while i < len(text):
        if backslash_escapes and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i
        i += 1
    return len(text)


def _block_comment_end(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i - 1
        else:
            i += 1
    return len(text)


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
