"""The hand-written SQL files (handlers/lib/sql_files.py): what only PostgreSQL has (error
positions as line numbers, statement_timeout), file lookup and the time budget. The files
themselves run on both engines in tests/databases/test_sql_files.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from handlers import mask_data
from handlers.lib.engines import engine_for
from handlers.lib.errors import SqlScriptFailed
from handlers.lib.sql_files import (
    SAFETY_MARGIN_SECONDS,
    TimeLimit,
    canceller,
    locate_scripts,
    run_scripts,
    sql_directory,
    time_budget,
)

from .conftest import ScratchDatabase
from .test_handlers import audit_items, env  # noqa: F401  (env: the handlers' fixture)

ENGINE = engine_for("aurora-postgresql")


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return locate_scripts(list(files), directory)


def table(conn: pg8000.native.Connection, sql: str) -> list[list[object]]:
    return conn.run(sql)


def test_error_position_becomes_a_line_number(
    admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(tmp_path, {"bad.sql": "SELECT 1;\n\n-- comment\nSELECT * FROM nowhere;\n"})
    with pytest.raises(SqlScriptFailed, match=r"bad.sql failed at line 4: 42P01 relation"):
        run_scripts(ENGINE, admin_conn, scripts)


def test_all_files_are_checked_before_any_runs(tmp_path: Path) -> None:
    (tmp_path / "01.sql").write_text("SELECT 1;")
    with pytest.raises(SqlScriptFailed, match=r"02\.sql: no such file"):
        locate_scripts(["01.sql", "02.sql"], tmp_path)
    for name in ("../etc/passwd", "/etc/passwd", "sub/01.sql"):
        with pytest.raises(SqlScriptFailed, match="not a file name inside"):
            locate_scripts([name], tmp_path)


def test_sql_directory_defaults_to_the_package_and_can_be_overridden(tmp_path: Path) -> None:
    assert sql_directory({}) == Path(__file__).resolve().parents[2] / "handlers" / "sql"
    assert sql_directory({"AURORA_RESTORE_SQL_DIR": str(tmp_path)}) == tmp_path


# --- the time limit: a Lambda invocation ends at the function's timeout (≤ 15 minutes) -------


def limit(database: ScratchDatabase, seconds: float) -> TimeLimit:
    return TimeLimit(seconds, canceller(ENGINE, database.target(), database.admin))


def marker_rows(conn: pg8000.native.Connection) -> list[list[object]]:
    return table(conn, "SELECT step FROM public.step_marker ORDER BY step")


def test_a_file_that_lifts_statement_timeout_is_still_stopped(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(
        tmp_path, {"01_sneaky.sql": "SET LOCAL statement_timeout = 0; SELECT pg_sleep(30);"}
    )
    with pytest.raises(SqlScriptFailed, match=r"^01_sneaky\.sql did not finish in time"):
        run_scripts(ENGINE, admin_conn, scripts, limit(database, 1.5))
    # The connection is usable afterwards (the step reports; nothing hangs on it).
    assert admin_conn.run("SELECT 1") == [[1]]


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_budget_is_the_invocations_remaining_time_minus_a_margin() -> None:
    assert time_budget(Context(300_000)) == 300 - SAFETY_MARGIN_SECONDS
    assert time_budget(Context(10_000)) == 0.0
    assert time_budget(None) is None  # called outside Lambda (tests, tools): no limit


def test_the_step_gives_the_files_what_is_left_of_its_invocation(
    env: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Through the real handler: the Lambda context's remaining time bounds the SQL, and the
    step fails with the file's name (audited) instead of Lambda killing it silently."""
    (tmp_path / "01_mask_pii.sql").write_text("SELECT pg_sleep(30);", encoding="utf-8")
    context = Context(int((SAFETY_MARGIN_SECONDS + 1.5) * 1000))
    with pytest.raises(SqlScriptFailed, match=r"^01_mask_pii\.sql did not finish in time"):
        mask_data.handler(env, context)
    failed = [i for i in audit_items(env["operation_id"]) if i["step"] == "mask-data"]
    assert [i["status"] for i in failed] == ["FAILED"]
    assert "01_mask_pii.sql did not finish in time" in str(failed[0]["details"])
