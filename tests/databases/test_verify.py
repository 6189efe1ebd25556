"""verify_database on both engines, connected as an application user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from handlers.lib import db
from handlers.lib.app_users import READ_WRITE, AppUser
from handlers.lib.errors import VerificationFailed
from handlers.verify import ExpectedTable, verify_database

from .conftest import Scratch


@pytest.fixture
def app_conn(scratch: Scratch) -> Iterator[Any]:
    user = scratch.user("app")
    admin = scratch.as_admin()
    scratch.engine.reset_users(admin, [AppUser(user, READ_WRITE)], db.AppSecret({user: "pw"}),
                               scratch.name, [scratch.schema])
    scratch.close(admin)
    conn = scratch.connect(user, "pw")
    yield conn
    scratch.close(conn)


def test_passes_with_a_compact_summary(scratch: Scratch, app_conn: Any) -> None:
    tables = [
        ExpectedTable(f"{scratch.schema}.customers", 3),
        ExpectedTable("orders"),
        ExpectedTable(f"{scratch.schema.upper()}.Orders", 1) if not scratch.mysql
        else ExpectedTable(f'"{scratch.schema}".orders', 1),
    ]
    assert verify_database(scratch.engine, app_conn, tables) == {"tables_checked": 3,
                                                                 "tables_ok": 3}


def test_a_missing_table_is_named(scratch: Scratch, app_conn: Any) -> None:
    tables = [ExpectedTable("customers"), ExpectedTable(f"{scratch.schema}.invoices", 1)]
    with pytest.raises(VerificationFailed, match=rf"^missing tables: {scratch.schema}.invoices$"):
        verify_database(scratch.engine, app_conn, tables)


def test_too_few_rows(scratch: Scratch, app_conn: Any) -> None:
    with pytest.raises(VerificationFailed, match=r"too few rows: orders \(3 < 4 rows\)"):
        verify_database(scratch.engine, app_conn, [ExpectedTable("orders", 4)])


def test_every_problem_is_reported(scratch: Scratch, app_conn: Any) -> None:
    su = scratch.as_superuser()
    if scratch.mysql:  # a table the user has no grant on (MySQL grants are per database)
        scratch.execute(su, "CREATE TABLE secrets (id int)")
        from handlers.lib.engines.mysql_users import grant_database

        where = grant_database(scratch.name).replace("%%", "%")
        scratch.execute(su, f"REVOKE SELECT ON {where}.* FROM '{scratch.user('app')}'@'%'")
        scratch.execute(su, f"GRANT SELECT ON {scratch.name}.orders TO "
                        f"'{scratch.user('app')}'@'%'")
        unreadable = "secrets (1142 SELECT command denied"
    else:
        scratch.execute(su, "CREATE SCHEMA private")
        scratch.execute(su, "CREATE TABLE private.secrets (id int)")
        unreadable = "private.secrets (42501 permission denied for schema private)"
    scratch.close(su)
    secrets = "secrets" if scratch.mysql else "private.secrets"
    tables = [ExpectedTable("nope"), ExpectedTable(secrets), ExpectedTable("orders", 10)]
    # a new login: MySQL applies database-level grants at login (or USE)
    conn = scratch.connect(scratch.user("app"), "pw")
    with pytest.raises(VerificationFailed) as failure:
        verify_database(scratch.engine, conn, tables)
    scratch.close(conn)
    message = str(failure.value)
    if scratch.mysql:  # MySQL checks privileges first: it never says whether "nope" exists
        assert message.startswith("unreadable tables: nope (1142 SELECT command denied")
    else:
        assert message.startswith("missing tables: nope; unreadable tables: ")
    assert unreadable in message
    assert message.endswith("; too few rows: orders (3 < 10 rows)")


def test_quoted_mixed_case_and_dotted_names(scratch: Scratch, app_conn: Any) -> None:
    admin = scratch.as_admin()
    q = (lambda n: f"`{n}`") if scratch.mysql else (lambda n: f'"{n}"')
    scratch.execute(admin, f"CREATE TABLE {q('Weird.Name x')} (id int)")
    scratch.execute(admin, f"INSERT INTO {q('Weird.Name x')} VALUES (1)")
    scratch.close(admin)

    ok = verify_database(scratch.engine, app_conn, [ExpectedTable('"Weird.Name x"', 1)])
    assert ok == {"tables_checked": 1, "tables_ok": 1}
    with pytest.raises(VerificationFailed, match="missing tables"):
        verify_database(scratch.engine, app_conn, [ExpectedTable('"weird.name x"')])
