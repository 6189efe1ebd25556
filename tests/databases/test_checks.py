"""Drill checks on both engines (handlers/lib/sql_checks.py): every check runs read-only
under a timeout, each failure is named; MySQL's 1 and 0 are its true and false."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.lib.errors import VerificationFailed
from handlers.lib.sql_checks import Check, evaluate, parse_checks

from .conftest import Scratch

CHECKS_FILE = """\
-- check: customers restored
SELECT count(*) >= 3 FROM customers;

-- check: no order without a customer
SELECT NOT EXISTS (
    SELECT 1 FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
    WHERE c.id IS NULL  -- a dangling order; ';' in a comment is not an end
);

/* a block comment; with a semicolon */
SELECT 'a;b' = 'a;b', 100 > 99
"""


def test_true_checks_pass_with_a_summary(scratch: Scratch, admin_conn: Any) -> None:
    assert evaluate(scratch.engine, admin_conn, parse_checks(CHECKS_FILE)) == {
        "checks": 3, "checks_ok": 3}


def test_every_failure_is_named_and_later_checks_still_run(scratch: Scratch,
                                                           admin_conn: Any) -> None:
    rows = "(SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) AS t"
    checks = [
        Check("too many customers", 1, "SELECT count(*) > 1000 FROM customers"),
        Check("missing table", 2, "SELECT count(*) > 0 FROM invoices"),
        Check("null", 3, "SELECT NULL = 1"),
        Check("no rows", 4, "SELECT 1 = 1 FROM customers WHERE 1 = 0"),
        Check("not boolean", 5, "SELECT count(*) FROM customers"),
        Check("one false row among true", 6, f"SELECT x < 3 FROM {rows}"),
        Check("percent % as written", 7, "SELECT count(*) >= 0 FROM customers "
                                         "WHERE email LIKE '%@%'"),
    ]
    with pytest.raises(VerificationFailed) as failed:
        evaluate(scratch.engine, admin_conn, checks)

    message = str(failed.value)
    assert message.startswith("6 of 7 drill check(s) failed: ")
    assert "too many customers: returned false" in message
    assert f"missing table: error {'1146' if scratch.mysql else '42P01'}" in message
    assert "null: returned NULL" in message
    assert "no rows: returned no rows" in message
    assert "not boolean: returned a non-boolean value of type int" in message
    assert "one false row among true: returned false" in message
    assert "percent" not in message


def test_checks_cannot_change_the_data(scratch: Scratch, admin_conn: Any) -> None:
    writer = Check("sneaky", 1, "DELETE FROM customers")
    code = "1792" if scratch.mysql else "25006"  # read-only transaction
    with pytest.raises(VerificationFailed, match=rf"sneaky: error {code}"):
        evaluate(scratch.engine, admin_conn, [writer])
    assert scratch.rows(admin_conn, "SELECT count(*) FROM customers") == [[3]]


def test_a_slow_check_hits_the_statement_timeout(scratch: Scratch, admin_conn: Any) -> None:
    slow = Check("slow", 1, "SELECT SLEEP(2) = 0" if scratch.mysql else "SELECT pg_sleep(2) IS NULL")
    code = "1969" if scratch.mysql else "57014"  # MariaDB's max_statement_time; cancelled
    with pytest.raises(VerificationFailed, match=rf"slow: error {code}"):
        evaluate(scratch.engine, admin_conn, [slow], statement_timeout_ms=100)
