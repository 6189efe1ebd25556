"""run_scripts against a real server: the example masking script and failing scripts."""

from __future__ import annotations

from pathlib import Path

import pg8000.native
import pytest

from handlers.lib.errors import SqlScriptFailed
from handlers.run_sql import locate_scripts, run_scripts, sql_directory

from .conftest import ScratchDatabase

MASK_PII = Path(__file__).resolve().parents[2] / "config" / "sql" / "mask_pii.sql"


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

    ran = run_scripts(admin_conn, scripts)

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
        "+1-555-0101",
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
    run_scripts(admin_conn, scripts)
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
        run_scripts(admin_conn, scripts)

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
        run_scripts(admin_conn, scripts)


def test_script_that_commits_itself_is_refused(
    admin_conn: pg8000.native.Connection, tmp_path: Path
) -> None:
    scripts = write(tmp_path, {"commits.sql": "CREATE TABLE public.t1 (i int); COMMIT;"})
    with pytest.raises(SqlScriptFailed, match="ends the transaction itself"):
        run_scripts(admin_conn, scripts)


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
    run_scripts(admin_conn, scripts)
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
