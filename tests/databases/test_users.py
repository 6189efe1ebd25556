"""The users step's engine half (`Engine.reset_users`) on both engines, run as an admin like the
RDS master user: created or updated users who log in with the new password only, privilege
levels enforced, downgrades, tables created later, awkward names and passwords, and the
refusals."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.lib import db
from handlers.lib.app_users import READ_ONLY, READ_WRITE, AppUser
from handlers.lib.errors import UserResetFailed

from .conftest import MYSQL, Scratch


def reset(scratch: Scratch, users: dict[str, str], passwords: dict[str, str]) -> dict[str, Any]:
    conn = scratch.as_admin()
    try:
        return scratch.engine.reset_users(
            conn, [AppUser(name, privilege) for name, privilege in users.items()],
            db.AppSecret(passwords), scratch.name, [scratch.schema],
        )
    finally:
        scratch.close(conn)


def denied(scratch: Scratch, conn: Any, sql: str) -> None:
    with pytest.raises(Exception) as failure:
        scratch.execute(conn, sql)
    error = scratch.engine.server_error(failure.value)
    assert error is not None, failure.value
    assert error.code in ("42501", "1142", "1044", "1370"), (sql, error)


def test_creates_missing_users_who_can_log_in(scratch: Scratch) -> None:
    app, ro = scratch.user("app"), scratch.user("ro")
    result = reset(scratch, {app: READ_WRITE, ro: READ_ONLY}, {app: "pw-app-1", ro: "pw-ro-1"})

    assert result["users"] == [
        {"name": app, "privilege": READ_WRITE, "action": "created"},
        {"name": ro, "privilege": READ_ONLY, "action": "created"},
    ]
    assert result["tables"] == 2
    for user, password in ((app, "pw-app-1"), (ro, "pw-ro-1")):
        conn = scratch.connect(user, password)
        assert scratch.rows(conn, "SELECT count(*) FROM customers") == [[3]]
        scratch.close(conn)


def test_an_existing_user_gets_the_new_password_only(scratch: Scratch) -> None:
    app = scratch.user("app")
    admin = scratch.as_admin()
    # As it arrives from production: unable to log in, and production's password.
    if scratch.mysql:
        scratch.execute(admin, f"CREATE USER '{app}'@'%' IDENTIFIED BY 'production-password' "
                        "ACCOUNT LOCK")
    else:
        scratch.execute(admin, f'CREATE ROLE "{app}" NOLOGIN PASSWORD \'production-password\'')
    scratch.close(admin)

    result = reset(scratch, {app: READ_WRITE}, {app: "fresh-dev-password"})

    assert result["users"][0]["action"] == "updated"
    with pytest.raises(db.DatabaseLoginFailed) as failure:
        scratch.connect(app, "production-password")
    assert "production-password" not in str(failure.value)
    conn = scratch.connect(app, "fresh-dev-password")
    assert scratch.rows(conn, "SELECT count(*) FROM orders") == [[3]]
    scratch.close(conn)


def test_privilege_levels_are_enforced(scratch: Scratch) -> None:
    app, ro = scratch.user("app"), scratch.user("ro")
    reset(scratch, {app: READ_WRITE, ro: READ_ONLY}, {app: "a", ro: "r"})

    writer = scratch.connect(app, "a")
    scratch.execute(writer, "INSERT INTO customers (email) VALUES ('new@example.invalid')")
    scratch.execute(writer, "UPDATE orders SET notes = 'x' WHERE id = 1")
    scratch.execute(writer, "DELETE FROM orders WHERE id = 3")
    denied(scratch, writer, "CREATE TABLE not_allowed (id int)")
    scratch.close(writer)

    reader = scratch.connect(ro, "r")
    assert scratch.rows(reader, "SELECT count(*) FROM customers") == [[4]]
    for statement in (
        "INSERT INTO customers (email) VALUES ('ro@example.invalid')",
        "UPDATE customers SET phone = NULL",
        "DELETE FROM orders",
    ):
        denied(scratch, reader, statement)
    scratch.close(reader)


def test_a_downgrade_to_read_only_revokes_writes(scratch: Scratch) -> None:
    user = scratch.user("app")
    reset(scratch, {user: READ_WRITE}, {user: "pw"})
    conn = scratch.connect(user, "pw")
    scratch.execute(conn, "INSERT INTO orders (customer_id, total_cents) VALUES (1, 1)")
    scratch.close(conn)

    reset(scratch, {user: READ_ONLY}, {user: "pw"})

    conn = scratch.connect(user, "pw")
    assert scratch.rows(conn, "SELECT count(*) FROM orders") == [[4]]
    denied(scratch, conn, "INSERT INTO orders (customer_id, total_cents) VALUES (1, 2)")
    scratch.close(conn)


def test_tables_created_later_are_covered(scratch: Scratch) -> None:
    app, ro = scratch.user("app"), scratch.user("ro")
    reset(scratch, {app: READ_WRITE, ro: READ_ONLY}, {app: "a", ro: "r"})
    admin = scratch.as_admin()
    scratch.execute(admin, "CREATE TABLE invoices (id int PRIMARY KEY, amount int)")
    scratch.close(admin)

    writer = scratch.connect(app, "a")
    scratch.execute(writer, "INSERT INTO invoices (id, amount) VALUES (1, 10)")
    scratch.close(writer)
    reader = scratch.connect(ro, "r")
    assert scratch.rows(reader, "SELECT amount FROM invoices") == [[10]]
    denied(scratch, reader, "INSERT INTO invoices (id, amount) VALUES (2, 11)")
    scratch.close(reader)


AWKWARD = [
    ("o'brien", "it's a 'quoted' password"),
    ('dq"user"', 'pass"word""'),
    ("back\\slash", "c:\\temp\\new \\' \\\\"),
    ("pct%_x", "100% _sure_ %s %(x)s"),
    ("semi;colon -- x", "'; DROP USER root; --"),
    ("ünïcödé ユーザ", "pässwörd 密码 \u00e9 e\u0301"),
    ("with space", "  leading and trailing spaces  "),
    ("Back`tick", "`tick` $$ $tag$"),
]


@pytest.mark.parametrize(("suffix", "password"), AWKWARD)
def test_awkward_names_and_passwords(scratch: Scratch, suffix: str, password: str) -> None:
    user = scratch.user(suffix)
    reset(scratch, {user: READ_WRITE}, {user: password})
    reset(scratch, {user: READ_WRITE}, {user: password + "2"})  # the update path too

    conn = scratch.connect(user, password + "2")
    current = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)" if scratch.mysql else \
        "SELECT current_user"
    assert scratch.rows(conn, current) == [[user]]  # stored exactly, not folded
    scratch.close(conn)
    with pytest.raises(db.DatabaseLoginFailed):
        scratch.connect(user, password)


def test_a_missing_password_fails_before_any_change(scratch: Scratch) -> None:
    app, ro = scratch.user("app"), scratch.user("ro")
    with pytest.raises(UserResetFailed, match=f"no password for: {ro}"):
        reset(scratch, {app: READ_WRITE, ro: READ_ONLY}, {app: "a", ro: ""})
    with pytest.raises(db.DatabaseLoginFailed):
        scratch.connect(app, "a")  # never created


def test_refuses_to_manage_the_admin(scratch: Scratch) -> None:
    with pytest.raises(UserResetFailed, match="refusing"):
        reset(scratch, {scratch.admin.username: READ_WRITE}, {scratch.admin.username: "x"})


def test_refuses_a_privileged_user_before_changing_anyone(scratch: Scratch) -> None:
    app, boss = scratch.user("app"), scratch.user("boss")
    su = scratch.as_superuser()
    if scratch.mysql:
        scratch.execute(su, f"CREATE USER '{boss}'@'%' IDENTIFIED BY 'old'")
        scratch.execute(su, f"GRANT SELECT, CREATE USER ON *.* TO '{boss}'@'%'")
    else:
        scratch.execute(su, f'CREATE ROLE "{boss}" SUPERUSER LOGIN PASSWORD \'old\'')
    scratch.close(su)
    with pytest.raises(UserResetFailed, match=f"user {boss} .*refusing to manage it"):
        reset(scratch, {app: READ_WRITE, boss: READ_WRITE}, {app: "a", boss: "new"})
    scratch.close(scratch.connect(boss, "old"))  # untouched


def test_write_access_granted_elsewhere_fails_the_read_only_user(scratch: Scratch) -> None:
    """A grant the step did not make (here: a global one) still lets a read-only user write;
    the effective-privilege check says so."""
    ro = scratch.user("ro")
    su = scratch.as_superuser()
    if scratch.mysql:
        scratch.execute(su, f"CREATE USER '{ro}'@'%' IDENTIFIED BY 'old'")
        scratch.execute(su, f"GRANT INSERT ON *.* TO '{ro}'@'%'")
    else:
        owner = scratch.user("owner")
        scratch.execute(su, f'CREATE ROLE "{owner}"')
        scratch.execute(su, f'CREATE ROLE "{ro}" LOGIN PASSWORD \'old\'')
        scratch.execute(su, "CREATE TABLE audit_log (id int)")
        scratch.execute(su, f'ALTER TABLE audit_log OWNER TO "{owner}"')
        scratch.execute(su, f'GRANT SELECT, INSERT ON audit_log TO "{ro}"')
        scratch.execute(su, f'GRANT SELECT ON audit_log TO "{scratch.admin.username}"')
    scratch.close(su)

    with pytest.raises(UserResetFailed, match=f"read-only user {ro} can still write to"):
        reset(scratch, {ro: READ_ONLY}, {ro: "new"})


def test_table_level_write_grants_from_production_are_revoked(scratch: Scratch) -> None:
    """MySQL: a table-level grant from production is revoked with the database's; PostgreSQL:
    REVOKE ALL ON ALL TABLES does the same (the step's own grants are the only ones left)."""
    ro = scratch.user("ro")
    su = scratch.as_superuser()
    if scratch.mysql:
        scratch.execute(su, f"CREATE USER '{ro}'@'%' IDENTIFIED BY 'old'")
        scratch.execute(su, f"GRANT INSERT, UPDATE ON {scratch.name}.orders TO '{ro}'@'%'")
    else:
        scratch.execute(su, f'CREATE ROLE "{ro}" LOGIN PASSWORD \'old\'')
        scratch.execute(su, f'GRANT INSERT, UPDATE ON orders TO "{ro}"')
    scratch.close(su)

    reset(scratch, {ro: READ_ONLY}, {ro: "new"})

    conn = scratch.connect(ro, "new")
    denied(scratch, conn, "UPDATE orders SET notes = 'x'")
    scratch.close(conn)


def test_the_user_name_limit_is_the_engines(scratch: Scratch) -> None:
    from handlers.lib.errors import SettingsInvalid

    longest = 32 if scratch.engine_name == MYSQL else 63
    scratch.engine.check_user_name("u" * longest)
    with pytest.raises(SettingsInvalid):
        scratch.engine.check_user_name("u" * (longest + 1))
