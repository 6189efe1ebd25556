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

from handlers.lib import database, db, drill_verify
from handlers.lib import document as doc
from handlers.lib.engines import Engine
from handlers.lib.errors import SettingsInvalid, VerificationFailed
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@dataclass(frozen=True)
class ExpectedTable:
    name: str
    min_rows: int = 0


@pipeline_step("verify")
def handler(document: Document, context: Any) -> StepResult:
    reason = database.skip_reason(document)
    if reason:
        if doc.is_drill(document):
            document["verification"] = {"skipped": reason}
        return document, skipped(reason)
    step = database.step_database(document)
    engine = step.engine
    tables = expected_tables(step.settings, engine)
    if doc.is_drill(document):
        summary = drill_verify.verify(
            document, step, lambda conn: verify_database(engine, conn, tables)
        )
        document["verification"] = summary
        return document, {**step.describe(), "user": "drill master", **summary}
    user = verification_user(step.settings)
    password = db.app_secret(step.secrets).password_for(user)
    if password is None:
        raise SettingsInvalid(f"the app secret has no password for {user}")
    with step.session(db.Credentials(user, password)) as conn:
        summary = verify_database(engine, conn, tables)
    return document, {**step.describe(), "user": user, **summary}


def expected_tables(
    settings: Mapping[str, Any], engine: Engine | None = None
) -> list[ExpectedTable]:
    verify = settings.get("database", {}).get("verify", {}) or {}
    tables: list[ExpectedTable] = []
    for entry in verify.get("expected_tables", []) or []:
        name, min_rows = entry.get("name"), entry.get("min_rows", 0)
        if not isinstance(name, str) or not name:
            raise SettingsInvalid("an expected table has no name")
        min_rows = 0 if min_rows is None else min_rows
        if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
            raise SettingsInvalid(f"{name}: min_rows must be a whole number >= 0")
        # a malformed name is a settings error, not a failed check
        db.split_qualified(name)
        if engine is not None:
            engine.check_table_name(name)
        tables.append(ExpectedTable(name, min_rows))
    return tables


def verification_user(settings: Mapping[str, Any]) -> str:
    users = settings.get("database", {}).get("users", []) or []
    if not users or not users[0].get("name"):
        raise SettingsInvalid("verify needs at least one database user to log in as")
    return str(users[0]["name"])


def verify_database(
    engine: Engine, conn: Any, tables: Sequence[ExpectedTable]
) -> dict[str, Any]:
    if not engine.select_one(conn):
        raise VerificationFailed("SELECT 1 did not return 1")
    missing: list[str] = []
    unreadable: list[str] = []
    too_few: list[str] = []
    for table in tables:
        try:
            if not engine.table_exists(conn, table.name):
                missing.append(table.name)
                continue
            rows = engine.rows_upto(conn, table.name, table.min_rows)
        except Exception as exc:
            error = engine.server_error(exc)
            if error is None:
                raise
            unreadable.append(f"{table.name} ({error.code} {error.message})")
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
