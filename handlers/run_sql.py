"""Step: run the post-restore SQL files (masking, sanitising) in order, one transaction each.

The files live in `handlers/sql/` inside this function's zip (the CLI copies them there);
`AURORA_RESTORE_SQL_DIR` points elsewhere for tests. A failing file stops the run: the files
before it stay committed, the failing one is rolled back, later ones do not run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pg8000.exceptions import DatabaseError, InterfaceError

from handlers.lib import db
from handlers.lib.errors import SettingsInvalid, SqlScriptFailed
from handlers.lib.step import Document, StepResult, pipeline_step, skipped

SQL_DIR_ENV = "AURORA_RESTORE_SQL_DIR"
PACKAGED_SQL_DIR = Path(__file__).resolve().parent / "sql"


@pipeline_step("run-sql")
def handler(document: Document, context: Any) -> StepResult:
    if db.db_mode() == "skip":
        return document, skipped(db.SKIP_REASON)
    step = db.step_database(document)
    scripts = locate_scripts(configured_scripts(step.settings), sql_directory())
    if not scripts:
        return document, skipped("no post-restore SQL files configured")
    with db.session(step.target, step.admin()) as conn:
        ran = run_scripts(conn, scripts)
    return document, {**step.describe(), "files": ran}


def sql_directory(environ: Mapping[str, str] | None = None) -> Path:
    override = (os.environ if environ is None else environ).get(SQL_DIR_ENV)
    return Path(override) if override else PACKAGED_SQL_DIR


def configured_scripts(settings: Mapping[str, Any]) -> list[str]:
    names = settings.get("database", {}).get("post_restore_sql", []) or []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise SettingsInvalid("settings.database.post_restore_sql must list file names")
    return names


def locate_scripts(names: Sequence[str], directory: Path) -> list[Path]:
    """Every file, checked before any runs; names cannot leave the directory."""
    root = directory.resolve()
    paths: list[Path] = []
    for name in names:
        path = (root / name).resolve()
        if path.parent != root:
            raise SqlScriptFailed(f"{name}: not a file name inside the SQL directory")
        if not path.is_file():
            raise SqlScriptFailed(f"{name}: no such file in the SQL directory")
        paths.append(path)
    return paths


def run_scripts(conn: db.Connection, scripts: Sequence[Path]) -> list[dict[str, Any]]:
    """Run each file in its own transaction; returns [{"file", "seconds"}] of those that ran."""
    ran: list[dict[str, Any]] = []
    for index, path in enumerate(scripts):
        sql = path.read_text(encoding="utf-8")
        started = time.monotonic()
        try:
            _run_one(conn, sql)
        except DatabaseError as exc:
            code, message = db.error_fields(exc)
            where = _line_of(sql, db.error_position(exc))
            raise SqlScriptFailed(
                f"{path.name} failed{where}: {code} {message}{_progress(ran, scripts[index + 1 :])}"
            ) from None
        except InterfaceError as exc:
            raise SqlScriptFailed(
                f"{path.name} failed: connection lost ({exc.__class__.__name__})"
                f"{_progress(ran, scripts[index + 1 :])}"
            ) from None
        except _EndedTransaction:
            raise SqlScriptFailed(
                f"{path.name} ends the transaction itself (COMMIT/ROLLBACK in the file); "
                "each file runs in one transaction the pipeline manages"
                f"{_progress(ran, scripts[index + 1 :])}"
            ) from None
        ran.append({"file": path.name, "seconds": round(time.monotonic() - started, 3)})
        # Whatever a script SETs or creates as temporary must not leak into the next one.
        conn.run("DISCARD ALL")
    return ran


class _EndedTransaction(Exception):
    pass


def _run_one(conn: db.Connection, sql: str) -> None:
    with db.transaction(conn):
        xid = conn.run("SELECT txid_current()")[0][0]
        conn.run(sql)  # no parameters: the simple protocol, so a file may hold many statements
        if conn.run("SELECT txid_current_if_assigned()")[0][0] != xid:
            raise _EndedTransaction


def _line_of(sql: str, position: int | None) -> str:
    if not position or position > len(sql) + 1:
        return ""
    return f" at line {sql.count(chr(10), 0, position - 1) + 1}"


def _progress(ran: Sequence[Mapping[str, Any]], rest: Sequence[Path]) -> str:
    done = ", ".join(r["file"] for r in ran) or "none"
    skipped = ", ".join(p.name for p in rest) or "none"
    return f" (committed before it: {done}; not run: {skipped})"
