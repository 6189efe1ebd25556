"""Step: check the restored database as an application user sees it.

Logs in as the first configured application user, runs `SELECT 1`, and checks that every
expected table exists, is readable, and has at least its `min_rows` rows. The summary holds
counts only; a failure names what is missing.

In a restore drill it logs in as the drill cluster's master user (the drill secret) instead,
and also evaluates the drill SQL checks (handlers/lib/drill_verify.py); the results go to
`document["verification"]` for the drill's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pg8000.exceptions import DatabaseError

from handlers.lib import db, drill_verify
from handlers.lib import document as doc
from handlers.lib.errors import SettingsInvalid, VerificationFailed
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@dataclass(frozen=True)
class ExpectedTable:
    name: str
    min_rows: int = 0


@pipeline_step("verify")
def handler(document: Document, context: Any) -> StepResult:
    if db.db_mode() == "skip":
        if doc.is_drill(document):
            document["verification"] = {"skipped": db.SKIP_REASON}
        return document, skipped(db.SKIP_REASON)
    step = db.step_database(document)
    tables = expected_tables(step.settings)
    if doc.is_drill(document):
        summary = drill_verify.verify(document, step, lambda conn: verify_database(conn, tables))
        document["verification"] = summary
        return document, {**step.describe(), "user": "drill master", **summary}
    user = verification_user(step.settings)
    password = db.app_secret(step.secrets).password_for(user)
    if password is None:
        raise SettingsInvalid(f"the app secret has no password for {user}")
    with db.session(step.target, db.Credentials(user, password)) as conn:
        summary = verify_database(conn, tables)
    return document, {**step.describe(), "user": user, **summary}


def expected_tables(settings: Mapping[str, Any]) -> list[ExpectedTable]:
    verify = settings.get("database", {}).get("verify", {}) or {}
    tables: list[ExpectedTable] = []
    for entry in verify.get("expected_tables", []) or []:
        name, min_rows = entry.get("name"), entry.get("min_rows", 0)
        if not isinstance(name, str) or not name:
            raise SettingsInvalid("an expected table has no name")
        min_rows = 0 if min_rows is None else min_rows
        if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
            raise SettingsInvalid(f"{name}: min_rows must be a whole number >= 0")
        db.quote_qualified(name)  # a malformed name is a settings error, not a failed check
        tables.append(ExpectedTable(name, min_rows))
    return tables


def verification_user(settings: Mapping[str, Any]) -> str:
    users = settings.get("database", {}).get("users", []) or []
    if not users or not users[0].get("name"):
        raise SettingsInvalid("verify needs at least one database user to log in as")
    return str(users[0]["name"])


def verify_database(conn: db.Connection, tables: Sequence[ExpectedTable]) -> dict[str, Any]:
    if conn.run("SELECT 1") != [[1]]:
        raise VerificationFailed("SELECT 1 did not return 1")
    missing: list[str] = []
    unreadable: list[str] = []
    too_few: list[str] = []
    for table in tables:
        quoted = db.quote_qualified(table.name)
        try:
            if not conn.run("SELECT to_regclass(:name) IS NOT NULL", name=quoted)[0][0]:
                missing.append(table.name)
                continue
            # LIMIT keeps this cheap on big tables: only "at least N" matters.
            rows = conn.run(
                f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT :n) AS sample",
                n=table.min_rows,
            )[0][0]
        except DatabaseError as exc:
            code, message = db.error_fields(exc)
            unreadable.append(f"{table.name} ({code} {message})")
            continue
        if rows < table.min_rows:
            too_few.append(f"{table.name} ({rows} < {table.min_rows} rows)")
    problems = [
        f"{label}: {', '.join(items)}"
        for label, items in (
            ("missing tables", missing),
            ("unreadable tables", unreadable),
            ("too few rows", too_few),
        )
        if items
    ]
    if problems:
        raise VerificationFailed("; ".join(problems))
    return {"tables_checked": len(tables), "tables_ok": len(tables)}
