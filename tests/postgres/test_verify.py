"""verify_database against a real server, connected as an application user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pg8000.native
import pytest

from handlers.lib import db
from handlers.lib.engines import engine_for
from handlers.lib.engines import postgresql_connection as pgc
from handlers.lib.engines.postgresql_users import reset_users
from handlers.lib.errors import SettingsInvalid, VerificationFailed
from handlers.reset_app_users import READ_WRITE, AppUser
from handlers.verify import ExpectedTable, expected_tables, verify_database

from .conftest import ScratchDatabase

ENGINE = engine_for("aurora-postgresql")


@pytest.fixture
def app_conn(database: ScratchDatabase) -> Iterator[pg8000.native.Connection]:
    user = database.role("app")
    admin = database.as_admin()
    reset_users(
        admin,
        [AppUser(user, READ_WRITE)],
        db.AppSecret({user: "pw"}),
        database.name,
        ["public"],
    )
    admin.close()
    conn = database.connect(user, "pw")
    yield conn
    conn.close()


def test_passes_with_a_compact_summary(app_conn: pg8000.native.Connection) -> None:
    tables = [
        ExpectedTable("public.customers", 3),
        ExpectedTable("orders"),
        ExpectedTable("PUBLIC.Orders", 1),
    ]

    assert verify_database(ENGINE, app_conn, tables) == {"tables_checked": 3, "tables_ok": 3}


def test_missing_table_is_named(app_conn: pg8000.native.Connection) -> None:
    tables = [ExpectedTable("public.customers"), ExpectedTable("public.invoices", 1)]
    with pytest.raises(VerificationFailed, match=r"^missing tables: public.invoices$"):
        verify_database(ENGINE, app_conn, tables)


def test_too_few_rows(app_conn: pg8000.native.Connection) -> None:
    with pytest.raises(VerificationFailed, match=r"too few rows: public.orders \(3 < 4 rows\)"):
        verify_database(ENGINE, app_conn, [ExpectedTable("public.orders", 4)])


def test_every_problem_is_reported(
    database: ScratchDatabase, app_conn: pg8000.native.Connection
) -> None:
    su = database.as_superuser()
    su.run("CREATE SCHEMA private")
    su.run("CREATE TABLE private.secrets (id int)")
    su.close()
    tables = [
        ExpectedTable("public.nope"),
        ExpectedTable("private.secrets"),
        ExpectedTable("public.orders", 10),
    ]
    with pytest.raises(VerificationFailed) as failure:
        verify_database(ENGINE, app_conn, tables)
    assert str(failure.value) == (
        "missing tables: public.nope; "
        "unreadable tables: private.secrets (42501 permission denied for schema private); "
        "too few rows: public.orders (3 < 10 rows)"
    )


def test_quoted_mixed_case_and_dotted_names(
    database: ScratchDatabase, app_conn: pg8000.native.Connection
) -> None:
    admin = database.as_admin()
    admin.run('CREATE TABLE public."Weird.Name ""x""" (id int)')
    admin.run('INSERT INTO public."Weird.Name ""x""" VALUES (1)')
    admin.run(
        f'GRANT SELECT ON public."Weird.Name ""x""" TO {pgc.quote_ident(database.role("app"))}'
    )
    admin.close()

    ok = verify_database(ENGINE, app_conn, [ExpectedTable('public."Weird.Name ""x"""', 1)])
    assert ok == {"tables_checked": 1, "tables_ok": 1}
    with pytest.raises(VerificationFailed, match="missing tables"):
        verify_database(ENGINE, app_conn, [ExpectedTable('public."weird.name ""x"""')])  # case matters


def test_settings_are_validated() -> None:
    settings: dict[str, Any] = {"database": {"verify": {"expected_tables": [{"name": "a.b.c"}]}}}
    with pytest.raises(SettingsInvalid, match=r"'table' or 'schema\.table'"):
        expected_tables(settings)
    settings = {"database": {"verify": {"expected_tables": [{"name": "t", "min_rows": -1}]}}}
    with pytest.raises(SettingsInvalid, match="min_rows"):
        expected_tables(settings)
    settings = {"database": {"verify": {"expected_tables": [{"name": "t", "min_rows": None}]}}}
    assert expected_tables(settings) == [ExpectedTable("t", 0)]
