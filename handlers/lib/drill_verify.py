"""The database half of a drill's verification (used by the verify step in drill mode).

A drill logs in as the drill cluster's master user with this drill's password from the drill
secret (override mode, for tests: the override admin), checks the configured expected tables
and row counts, then evaluates the optional drill SQL file of checks
(`handlers/lib/sql_checks.py`; the CLI packages the configured file into the verify zip as
`handlers/sql/drill_checks.sql`, `settings.drill.checks_sql` names it). Every check runs;
VerificationFailed names each one that failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from handlers.lib import database, db, drill, secrets, sql_checks
from handlers.lib import document as doc
from handlers.lib.errors import SettingsInvalid, VerificationFailed

SQL_DIR_ENV = "AURORA_RESTORE_SQL_DIR"  # tests: where the packaged SQL files are
PACKAGED_SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

TableCheck = Callable[[Any], dict[str, Any]]


def credentials(document: Mapping[str, Any], secrets_client: Any) -> db.Credentials:
    engine = db.engine_name(doc.settings(dict(document)))
    if db.db_mode(engine=engine) == "override":
        return db.admin_credentials(secrets_client, engine=engine)
    secret = secrets.secret_id(drill.DRILL_SECRET_ENV)
    version = drill.password_version(doc.operation_id(dict(document)))
    value = secrets.read_json(secrets_client, secret, VersionId=version)
    username, password = value.get("username"), value.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not password:
        raise SettingsInvalid(f"secret {secret} has no username/password for this drill")
    return db.Credentials(username, password)


def checks_file(settings: Mapping[str, Any]) -> Path | None:
    name = (settings.get("drill") or {}).get("checks_sql")
    if not name:
        return None
    override = os.environ.get(SQL_DIR_ENV)
    directory = (Path(override) if override else PACKAGED_SQL_DIR).resolve()
    path = (directory / str(name)).resolve()
    if path.parent != directory or not path.is_file():
        raise SettingsInvalid(f"drill checks file {name} is not in the function's SQL directory")
    return path


def verify(
    document: Mapping[str, Any], step: database.StepDatabase, tables_check: TableCheck
) -> dict[str, Any]:
    path = checks_file(step.settings)
    checks = sql_checks.parse_checks(path.read_text(encoding="utf-8"), path.name) if path else []
    problems: list[str] = []
    summary: dict[str, Any] = {}
    with step.session(credentials(document, step.secrets)) as conn:
        try:
            summary.update(tables_check(conn))
        except VerificationFailed as exc:
            problems.append(str(exc))
        if checks:
            try:
                summary.update(sql_checks.evaluate(step.engine, conn, checks))
            except VerificationFailed as exc:
                problems.append(str(exc))
    if problems:
        raise VerificationFailed("; ".join(problems))
    return summary
