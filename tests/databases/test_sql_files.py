"""The hand-written SQL files on both engines (handlers/lib/sql_files.py, `Engine.run_script`):
one transaction per file, failures named without row data, files that end the transaction,
nothing leaking from one file into the next, and the time limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from handlers.lib.errors import SqlScriptFailed
from handlers.lib.sql_files import TimeLimit, canceller, locate_scripts, run_scripts

from .conftest import Scratch

# Masking in the SQL both engines speak (concat(), no casts).
MASK = """
UPDATE customers
SET email = concat('customer', id, '@example.invalid'),
    phone = concat('phone-', id),
    first_name = 'Customer',
    last_name = concat('No. ', id)
WHERE email <> concat('customer', id, '@example.invalid');
UPDATE orders SET notes = 'masked' WHERE notes IS NOT NULL AND notes <> 'masked';
"""


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return locate_scripts(list(files), directory)


def sleep(scratch: Scratch, seconds: float) -> str:
    return f"SELECT {'SLEEP' if scratch.mysql else 'pg_sleep'}({seconds})"


def limit(scratch: Scratch, seconds: float) -> TimeLimit:
    return TimeLimit(seconds, canceller(scratch.engine, scratch.target(), scratch.admin))


def markers(scratch: Scratch, conn: Any) -> list[Any]:
    return scratch.column(conn, "SELECT step FROM step_marker ORDER BY step")


def test_a_masking_file_masks_and_is_idempotent(scratch: Scratch, admin_conn: Any,
                                                tmp_path: Path) -> None:
    scripts = write(tmp_path, {"01_mask.sql": MASK})

    ran = run_scripts(scratch.engine, admin_conn, scripts)

    assert [r["file"] for r in ran] == ["01_mask.sql"]
    rows = scratch.rows(admin_conn, "SELECT id, email, phone, first_name, last_name "
                                    "FROM customers ORDER BY id")
    assert rows[0] == [1, "customer1@example.invalid", "phone-1", "Customer", "No. 1"]
    dump = repr(scratch.rows(admin_conn, "SELECT * FROM customers")) + repr(
        scratch.rows(admin_conn, "SELECT * FROM orders"))
    for original in ("ada@lovelace.example", "Lovelace", "leave at the door"):
        assert original not in dump
    before = scratch.rows(admin_conn, "SELECT * FROM customers ORDER BY id")
    run_scripts(scratch.engine, admin_conn, scripts)
    assert scratch.rows(admin_conn, "SELECT * FROM customers ORDER BY id") == before


def test_a_failing_file_stops_the_run_without_row_data_in_the_message(
    scratch: Scratch, admin_conn: Any, tmp_path: Path
) -> None:
    scratch.execute(admin_conn, "CREATE TABLE step_marker (step int)")
    scripts = write(tmp_path, {
        "01_first.sql": "INSERT INTO step_marker VALUES (1);",
        "02_broken.sql": "INSERT INTO step_marker VALUES (2);\n"
                         "UPDATE customers SET email = 'leaked-secret-value';\n",
        "03_never.sql": "INSERT INTO step_marker VALUES (3);",
    })

    with pytest.raises(SqlScriptFailed) as failure:
        run_scripts(scratch.engine, admin_conn, scripts)

    message = str(failure.value)
    duplicate = "1062 Duplicate entry" if scratch.mysql else "23505 duplicate key value violates"
    assert message.startswith(f"02_broken.sql failed: {duplicate}")
    assert "leaked-secret-value" not in message  # no SQL text or row data
    assert "committed before it: 01_first.sql; not run: 03_never.sql" in message
    assert markers(scratch, admin_conn) == [1]
    assert scratch.rows(admin_conn, "SELECT count(*) FROM customers WHERE email LIKE 'leak%'") \
        == [[0]]


@pytest.mark.parametrize("ending", ["COMMIT", "DDL"])
def test_a_file_that_ends_the_transaction_is_refused(scratch: Scratch, admin_conn: Any,
                                                     tmp_path: Path, ending: str) -> None:
    statement = "COMMIT;" if ending == "COMMIT" else "CREATE TABLE made_in_a_file (i int);"
    scripts = write(tmp_path, {"ends.sql": f"UPDATE orders SET notes = 'x'; {statement}"})
    if ending == "DDL" and not scratch.mysql:  # PostgreSQL's DDL is transactional
        assert [r["file"] for r in run_scripts(scratch.engine, admin_conn, scripts)] == ["ends.sql"]
        return
    with pytest.raises(SqlScriptFailed, match="ends the transaction itself") as failure:
        run_scripts(scratch.engine, admin_conn, scripts)
    if scratch.mysql:
        assert "a statement MySQL commits at once: DDL" in str(failure.value)


def test_nothing_a_file_sets_leaks_into_the_next(scratch: Scratch, admin_conn: Any,
                                                 tmp_path: Path) -> None:
    scratch.execute(admin_conn, "CREATE TABLE leak_check (seen varchar(20))")
    if scratch.mysql:
        files = {"01.sql": "SET @leak = 'leaked'; CREATE TEMPORARY TABLE tmp_scratch (i int);",
                 "02.sql": "INSERT INTO leak_check VALUES (@leak); "
                           "CREATE TEMPORARY TABLE tmp_scratch (i int);"}  # fails if it stayed
    else:
        files = {"01.sql": "SET search_path = pg_catalog; CREATE TEMP TABLE tmp_scratch (i int);",
                 "02.sql": "INSERT INTO public.leak_check SELECT current_setting('search_path'); "
                           "CREATE TEMP TABLE tmp_scratch (i int);"}
    run_scripts(scratch.engine, admin_conn, write(tmp_path, files))
    expected = None if scratch.mysql else '"$user", public'
    assert scratch.column(admin_conn, "SELECT seen FROM leak_check") == [expected]


def test_a_long_statement_is_stopped_and_rolled_back(scratch: Scratch, admin_conn: Any,
                                                     tmp_path: Path) -> None:
    scratch.execute(admin_conn, "CREATE TABLE step_marker (step int)")
    scripts = write(tmp_path, {
        "01_quick.sql": "INSERT INTO step_marker VALUES (1);",
        "02_mask_everything.sql": f"INSERT INTO step_marker VALUES (2);\n{sleep(scratch, 30)};",
        "03_after.sql": "INSERT INTO step_marker VALUES (3);",
    })
    with pytest.raises(SqlScriptFailed) as failure:
        run_scripts(scratch.engine, admin_conn, scripts, limit(scratch, 1.5))
    message = str(failure.value)
    assert message.startswith("02_mask_everything.sql did not finish in time")
    assert "cancelled and rolled back" in message
    assert "committed before it: 01_quick.sql; not run: 03_after.sql" in message
    assert markers(scratch, admin_conn) == [1]


def test_many_short_statements_cannot_add_up_past_the_limit(scratch: Scratch, admin_conn: Any,
                                                            tmp_path: Path) -> None:
    scratch.execute(admin_conn, "CREATE TABLE step_marker (step int)")
    body = "".join(f"INSERT INTO step_marker VALUES ({n}); {sleep(scratch, 0.5)};\n"
                   for n in range(20))
    with pytest.raises(SqlScriptFailed, match=r"^01_batches\.sql did not finish in time"):
        run_scripts(scratch.engine, admin_conn, write(tmp_path, {"01_batches.sql": body}),
                    limit(scratch, 2.0))
    assert markers(scratch, admin_conn) == []
    assert scratch.engine.select_one(admin_conn)  # the connection is usable afterwards


def test_files_within_the_limit_run_and_the_timeout_does_not_outlive_them(
    scratch: Scratch, admin_conn: Any, tmp_path: Path
) -> None:
    scratch.execute(admin_conn, "CREATE TABLE step_marker (step int)")
    scripts = write(tmp_path, {"01.sql": f"{sleep(scratch, 0.2)};",
                               "02.sql": "INSERT INTO step_marker VALUES (2);"})
    ran = run_scripts(scratch.engine, admin_conn, scripts, limit(scratch, 60))
    assert [r["file"] for r in ran] == ["01.sql", "02.sql"]
    assert markers(scratch, admin_conn) == [2]
    scratch.execute(admin_conn, sleep(scratch, 0.1))  # no timeout left behind to trip


def test_no_time_left_means_no_file_starts(scratch: Scratch, admin_conn: Any,
                                          tmp_path: Path) -> None:
    scripts = write(tmp_path, {"01_first.sql": "UPDATE orders SET notes = 'never';"})
    with pytest.raises(SqlScriptFailed, match=r"^01_first\.sql not started: .*had 0 s"):
        run_scripts(scratch.engine, admin_conn, scripts, limit(scratch, 0))
    assert "never" not in scratch.column(admin_conn, "SELECT notes FROM orders")


def test_the_canceller_stops_only_the_given_session(scratch: Scratch) -> None:
    victim, bystander = scratch.as_admin(), scratch.as_admin()
    try:
        session = scratch.engine.session_id(victim)
        canceller(scratch.engine, scratch.target(), scratch.admin)(session)  # idle: no error
        assert scratch.engine.select_one(victim) and scratch.engine.select_one(bystander)
    finally:
        scratch.close(victim)
        scratch.close(bystander)
