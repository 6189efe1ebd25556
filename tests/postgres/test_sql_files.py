"""The hand-written SQL files (handlers/lib/sql_files.py) against a real server: a masking
script and failing scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from handlers import mask_data
from handlers.lib.engines import engine_for
from handlers.lib.engines import postgresql_connection as pgc
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

MASK_PII = Path(__file__).resolve().parent / "mask_pii.sql"  # a hand-written masking file


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return locate_scripts(list(files), directory)


def table(conn: pg8000.native.Connection, sql: str) -> list[list[object]]:
    return conn.run(sql)


def test_masking_script_masks_and_is_idempotent(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(tmp_path, {"01_mask_pii.sql": MASK_PII.read_text()})

    ran = run_scripts(ENGINE, admin_conn, scripts)

    assert [r["file"] for r in ran] == ["01_mask_pii.sql"]
    assert isinstance(ran[0]["seconds"], float)
    rows = table(
        admin_conn,
        "SELECT id, email, phone, first_name, last_name, date_of_birth::text "
        "FROM public.customers ORDER BY id",
    )
    assert rows[0] == [
        1,
        "customer1@example.invalid",
        "phone-1",
        "Customer",
        "No. 1",
        "1815-01-02",
    ]
    dump = repr(table(admin_conn, "SELECT * FROM public.customers")) + repr(
        table(admin_conn, "SELECT * FROM public.orders")
    )
    for original in (
        "ada@lovelace.example",
        "Lovelace",
        "Turing",
        "+44 161 496 0735",
        "Adlington",
        "leave at the door",
    ):
        assert original not in dump

    before = table(admin_conn, "SELECT xmin::text, * FROM public.customers ORDER BY id")
    run_scripts(ENGINE, admin_conn, scripts)
    after = table(admin_conn, "SELECT xmin::text, * FROM public.customers ORDER BY id")
    assert after == before  # same values, and no row rewritten (same xmin)


def test_failing_script_stops_the_run(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(
        tmp_path,
        {
            "01_first.sql": "CREATE TABLE public.step_marker (step int);\n"
            "INSERT INTO public.step_marker VALUES (1);",
            "02_broken.sql": "INSERT INTO public.step_marker VALUES (2);\n"
            "UPDATE public.customers SET email = 'leaked-secret-value';\n"
            "SELECT * FROM public.no_such_table;\n",
            "03_never.sql": "INSERT INTO public.step_marker VALUES (3);",
        },
    )

    with pytest.raises(SqlScriptFailed) as failure:
        run_scripts(ENGINE, admin_conn, scripts)

    message = str(failure.value)
    # The unique violation comes first; PostgreSQL gives no position for it (so no line).
    assert message.startswith("02_broken.sql failed: 23505 duplicate key value violates")
    assert "leaked-secret-value" not in message  # no SQL text or row data
    assert "committed before it: 01_first.sql; not run: 03_never.sql" in message
    assert table(admin_conn, "SELECT step FROM public.step_marker") == [[1]]
    assert table(admin_conn, "SELECT count(*) FROM public.customers WHERE email LIKE 'leak%'") == [
        [0]
    ]


def test_error_position_becomes_a_line_number(
    admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(tmp_path, {"bad.sql": "SELECT 1;\n\n-- comment\nSELECT * FROM nowhere;\n"})
    with pytest.raises(SqlScriptFailed, match=r"bad.sql failed at line 4: 42P01 relation"):
        run_scripts(ENGINE, admin_conn, scripts)


def test_script_that_commits_itself_is_refused(
    admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(tmp_path, {"commits.sql": "CREATE TABLE public.t1 (i int); COMMIT;"})
    with pytest.raises(SqlScriptFailed, match="ends the transaction itself"):
        run_scripts(ENGINE, admin_conn, scripts)


def test_settings_do_not_leak_into_the_next_script(
    admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(
        tmp_path,
        {
            "01.sql": "SET search_path = pg_catalog; CREATE TEMP TABLE scratch (i int);",
            "02.sql": "CREATE TABLE leak_check AS SELECT current_setting('search_path') AS p, "
            "(SELECT count(*) FROM pg_class WHERE relname = 'scratch') AS temp_tables;",
        },
    )
    run_scripts(ENGINE, admin_conn, scripts)
    assert table(admin_conn, "SELECT p, temp_tables FROM public.leak_check") == [
        ['"$user", public', 0]
    ]


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


def test_a_long_statement_is_stopped_and_rolled_back(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    admin_conn.run("CREATE TABLE public.step_marker (step int)")
    scripts = write(
        tmp_path,
        {
            "01_quick.sql": "INSERT INTO public.step_marker VALUES (1);",
            "02_mask_everything.sql": "INSERT INTO public.step_marker VALUES (2);\n"
            "SELECT pg_sleep(30);",
            "03_after.sql": "INSERT INTO public.step_marker VALUES (3);",
        },
    )
    with pytest.raises(SqlScriptFailed) as failure:
        run_scripts(ENGINE, admin_conn, scripts, limit(database, 1.5))
    message = str(failure.value)
    assert message.startswith("02_mask_everything.sql did not finish in time")
    assert "cancelled and rolled back" in message and "lambda.timeout_seconds" in message
    assert "committed before it: 01_quick.sql; not run: 03_after.sql" in message
    assert marker_rows(admin_conn) == [[1]]  # the cancelled file left nothing behind


def test_many_short_statements_cannot_add_up_past_the_limit(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    """Each statement stays under statement_timeout; the watchdog stops the file as a whole."""
    admin_conn.run("CREATE TABLE public.step_marker (step int)")
    body = "".join(
        f"INSERT INTO public.step_marker VALUES ({n}); SELECT pg_sleep(0.5);\n" for n in range(20)
    )
    scripts = write(tmp_path, {"01_batches.sql": body})
    with pytest.raises(SqlScriptFailed, match=r"^01_batches\.sql did not finish in time"):
        run_scripts(ENGINE, admin_conn, scripts, limit(database, 2.0))
    assert marker_rows(admin_conn) == []


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


def test_files_within_the_limit_run_as_before(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(
        tmp_path,
        {
            "01.sql": "CREATE TABLE public.step_marker (step int); SELECT pg_sleep(0.2);",
            "02.sql": "INSERT INTO public.step_marker VALUES (2); "
            "CREATE TABLE public.timeout_seen AS "
            "SELECT setting::int AS ms FROM pg_settings WHERE name = 'statement_timeout';",
        },
    )
    ran = run_scripts(ENGINE, admin_conn, scripts, limit(database, 60))
    assert [r["file"] for r in ran] == ["01.sql", "02.sql"]
    assert marker_rows(admin_conn) == [[2]]
    # Each transaction carried the time left as statement_timeout (in ms, under the limit).
    ((milliseconds,),) = table(admin_conn, "SELECT ms FROM public.timeout_seen")
    assert 0 < int(str(milliseconds)) <= 60_000
    # ... and it does not outlive the transaction.
    assert table(admin_conn, "SHOW statement_timeout") == [["0"]]


def test_no_time_left_means_no_file_starts(
    database: ScratchDatabase, admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(tmp_path, {"01_first.sql": "CREATE TABLE public.never (i int);"})
    with pytest.raises(SqlScriptFailed, match=r"^01_first\.sql not started: .*had 0 s"):
        run_scripts(ENGINE, admin_conn, scripts, limit(database, 0))
    assert table(admin_conn, "SELECT to_regclass('public.never')::text") == [[None]]


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_budget_is_the_invocations_remaining_time_minus_a_margin() -> None:
    assert time_budget(Context(300_000)) == 300 - SAFETY_MARGIN_SECONDS
    assert time_budget(Context(10_000)) == 0.0
    assert time_budget(None) is None  # called outside Lambda (tests, tools): no limit


def test_canceller_stops_only_the_given_backend(database: ScratchDatabase) -> None:
    victim, bystander = database.as_admin(), database.as_admin()
    try:
        pid = victim.run("SELECT pg_backend_pid()")[0][0]
        canceller(ENGINE, database.target(), database.admin)(pid)  # idle: nothing to cancel, no error
        assert victim.run("SELECT 1") == [[1]] and bystander.run("SELECT 1") == [[1]]
    finally:
        pgc.close_quietly(victim)
        pgc.close_quietly(bystander)


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
