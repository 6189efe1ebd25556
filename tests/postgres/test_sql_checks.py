"""Drill checks (handlers/lib/sql_checks.py): parsed from a SQL file, evaluated on a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pg8000.native
import pytest

from handlers.lib.engines import engine_for
from handlers.lib.errors import SettingsInvalid, VerificationFailed
from handlers.lib.sql_checks import Check, evaluate, parse_checks

from .conftest import ScratchDatabase

ENGINE = engine_for("aurora-postgresql")

CHECKS_FILE = """\
-- Drill checks for orders: each statement must return rows that are all true.

-- check: customers restored
SELECT count(*) >= 3 FROM public.customers;

-- check: no order without a customer
SELECT NOT EXISTS (
    SELECT 1 FROM public.orders o LEFT JOIN public.customers c ON c.id = o.customer_id
    WHERE c.id IS NULL  -- a dangling order; ';' in a comment is not an end
);

/* a block comment; with /* nesting */ and a semicolon */
SELECT 'a;b' = 'a;b', $$x;y$$ = 'x;y', $tag$ $$;$$ $tag$ IS NOT NULL, E'it\\'s;' = 'it''s;'
"""


@pytest.fixture
def conn(database: ScratchDatabase) -> Iterator[pg8000.native.Connection]:
    connection = database.as_admin()
    yield connection
    connection.close()


def test_statements_are_split_on_real_semicolons_only() -> None:
    checks = parse_checks(CHECKS_FILE, "orders_checks.sql")

    assert [c.name for c in checks] == [
        "customers restored",
        "no order without a customer",
        "orders_checks.sql line 13",
    ]
    assert [c.line for c in checks] == [4, 7, 13]
    assert checks[1].sql.startswith("SELECT NOT EXISTS (") and checks[1].sql.endswith(")")
    assert "$tag$ $$;$$ $tag$" in checks[2].sql


def test_a_last_statement_without_semicolon_counts_and_an_empty_file_is_refused() -> None:
    assert [c.sql for c in parse_checks("SELECT true;\nSELECT 1 = 1\n")] == [
        "SELECT true",
        "SELECT 1 = 1",
    ]
    with pytest.raises(SettingsInvalid, match=r"empty.sql: no checks"):
        parse_checks("-- only a comment\n;\n", "empty.sql")


def test_true_checks_pass_with_a_summary(conn: pg8000.native.Connection) -> None:
    assert evaluate(ENGINE, conn, parse_checks(CHECKS_FILE)) == {"checks": 3, "checks_ok": 3}


def test_every_failure_is_named_and_later_checks_still_run(
    conn: pg8000.native.Connection,
) -> None:
    checks = [
        Check("too many customers", 1, "SELECT count(*) > 1000 FROM public.customers"),
        Check("missing table", 2, "SELECT count(*) > 0 FROM public.invoices"),
        Check("null", 3, "SELECT NULL::boolean"),
        Check("no rows", 4, "SELECT true WHERE false"),
        Check("not boolean", 5, "SELECT count(*) FROM public.customers"),
        Check("one false row among true", 6, "SELECT x < 3 FROM generate_series(1, 3) AS x"),
        Check("fine", 7, "SELECT true"),
    ]
    with pytest.raises(VerificationFailed) as failed:
        evaluate(ENGINE, conn, checks)

    message = str(failed.value)
    assert message.startswith("6 of 7 drill check(s) failed: ")
    assert "too many customers: returned false" in message
    assert "missing table: error 42P01" in message
    assert "null: returned NULL" in message
    assert "no rows: returned no rows" in message
    assert "not boolean: returned a non-boolean value of type int" in message
    assert "one false row among true: returned false" in message
    assert "fine:" not in message


def test_checks_cannot_change_the_data(
    database: ScratchDatabase, conn: pg8000.native.Connection
) -> None:
    before = conn.run("SELECT count(*) FROM public.customers")[0][0]
    writer = Check("sneaky", 1, "DELETE FROM public.customers RETURNING true")

    with pytest.raises(VerificationFailed, match=r"sneaky: error 25006"):
        evaluate(ENGINE, conn, [writer])

    assert conn.run("SELECT count(*) FROM public.customers")[0][0] == before


def test_a_slow_check_hits_the_statement_timeout(conn: pg8000.native.Connection) -> None:
    slow = Check("slow", 1, "SELECT pg_sleep(2) IS NOT NULL")
    with pytest.raises(VerificationFailed, match=r"slow: error 57014"):
        evaluate(ENGINE, conn, [slow], statement_timeout_ms=100)
