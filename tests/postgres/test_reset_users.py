"""reset_users against a real server, run as a non-superuser admin (like the RDS master)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pg8000.native
import pytest

from handlers.lib import db
from handlers.lib.engines import postgresql_connection as pgc
from handlers.lib.engines.postgresql_users import reset_users
from handlers.lib.errors import SettingsInvalid, UserResetFailed
from handlers.lib.scram import scram_verifier
from handlers.reset_app_users import READ_ONLY, READ_WRITE, AppUser

from .conftest import ScratchDatabase


def reset(
    database: ScratchDatabase, users: dict[str, str], passwords: dict[str, str]
) -> dict[str, Any]:
    conn = database.as_admin()
    try:
        return reset_users(
            conn,
            [AppUser(name, privilege) for name, privilege in users.items()],
            db.AppSecret(passwords),
            database.name,
            ["public"],
        )
    finally:
        conn.close()


def sqlstate(exc: BaseException) -> str:
    assert isinstance(exc, pg8000.native.DatabaseError)
    return str(exc.args[0]["C"])


def login_fails(database: ScratchDatabase, user: str, password: str) -> str:
    with pytest.raises(db.DatabaseLoginFailed) as failure:
        database.connect(user, password).close()
    return str(failure.value)


def test_creates_missing_users_who_can_log_in(database: ScratchDatabase) -> None:
    app, ro = database.role("app"), database.role("ro")
    result = reset(database, {app: READ_WRITE, ro: READ_ONLY}, {app: "pw-app-1", ro: "pw-ro-1"})

    assert result["users"] == [
        {"name": app, "privilege": READ_WRITE, "action": "created"},
        {"name": ro, "privilege": READ_ONLY, "action": "created"},
    ]
    assert result["tables"] == 2
    for user, password in ((app, "pw-app-1"), (ro, "pw-ro-1")):
        conn = database.connect(user, password)
        assert conn.run("SELECT current_user, count(*) FROM public.customers") == [[user, 3]]
        conn.close()


def test_existing_user_gets_the_new_password(database: ScratchDatabase) -> None:
    app = database.role("app")
    admin = database.as_admin()
    # As it arrives from production: NOLOGIN drift and production's password.
    admin.run(f"CREATE ROLE {pgc.quote_ident(app)} NOLOGIN PASSWORD 'production-password'")
    admin.close()

    result = reset(database, {app: READ_WRITE}, {app: "fresh-dev-password"})

    assert result["users"][0]["action"] == "updated"
    message = login_fails(database, app, "production-password")
    assert "28P01" in message and "production-password" not in message
    conn = database.connect(app, "fresh-dev-password")
    assert conn.run("SELECT count(*) FROM public.orders") == [[3]]
    conn.close()


def test_privilege_levels_are_enforced(database: ScratchDatabase) -> None:
    app, ro = database.role("app"), database.role("ro")
    reset(database, {app: READ_WRITE, ro: READ_ONLY}, {app: "a", ro: "r"})

    writer = database.connect(app, "a")
    writer.run("INSERT INTO public.customers (email) VALUES ('new@example.invalid')")  # sequence
    writer.run("UPDATE public.orders SET notes = 'x' WHERE id = 1")
    writer.run("DELETE FROM public.orders WHERE id = 3")
    with pytest.raises(pg8000.native.DatabaseError) as denied:
        writer.run("CREATE TABLE public.not_allowed (id int)")  # PG15: no CREATE on public
    assert sqlstate(denied.value) == "42501"
    writer.close()

    reader = database.connect(ro, "r")
    assert reader.run("SELECT count(*) FROM public.customers") == [[4]]
    assert reader.run("SELECT last_value >= 1 FROM public.customers_id_seq") == [[True]]
    for statement in (
        "INSERT INTO public.customers (email) VALUES ('ro@example.invalid')",
        "UPDATE public.customers SET phone = NULL",
        "DELETE FROM public.orders",
        "SELECT nextval('public.customers_id_seq')",
    ):
        with pytest.raises(pg8000.native.DatabaseError) as denied:
            reader.run(statement)
        assert sqlstate(denied.value) == "42501", statement
    reader.close()


def test_downgrade_to_read_only_revokes_writes(database: ScratchDatabase) -> None:
    user = database.role("app")
    reset(database, {user: READ_WRITE}, {user: "pw"})
    conn = database.connect(user, "pw")
    conn.run("INSERT INTO public.orders (customer_id, total_cents) VALUES (1, 1)")
    conn.close()

    reset(database, {user: READ_ONLY}, {user: "pw"})

    conn = database.connect(user, "pw")
    assert conn.run("SELECT count(*) FROM public.orders") == [[4]]
    with pytest.raises(pg8000.native.DatabaseError) as denied:
        conn.run("INSERT INTO public.orders (customer_id, total_cents) VALUES (1, 2)")
    assert sqlstate(denied.value) == "42501"
    conn.close()


def test_default_privileges_cover_tables_created_later(database: ScratchDatabase) -> None:
    app, ro = database.role("app"), database.role("ro")
    reset(database, {app: READ_WRITE, ro: READ_ONLY}, {app: "a", ro: "r"})
    admin = database.as_admin()
    admin.run("CREATE TABLE public.invoices (id serial PRIMARY KEY, amount int)")
    admin.close()

    writer = database.connect(app, "a")
    writer.run("INSERT INTO public.invoices (amount) VALUES (10)")
    writer.close()
    reader = database.connect(ro, "r")
    assert reader.run("SELECT amount FROM public.invoices") == [[10]]
    with pytest.raises(pg8000.native.DatabaseError):
        reader.run("INSERT INTO public.invoices (amount) VALUES (11)")
    reader.close()


AWKWARD = [
    ("o'brien", "it's a 'quoted' password"),
    ('dq"user"', 'pass"word""'),
    ("back\\slash", "c:\\temp\\new\\x00-not-a-nul \\' \\\\"),
    ("dollar$$", "$$; DROP ROLE postgres; $$ $tag$ x $tag$"),
    ("semi;colon -- x", "'; ALTER ROLE postgres PASSWORD 'pwned'; --"),
    ("ünïcödé ユーザー", "pässwörd 密码 \u00e9 e\u0301 \ufb01"),  # é precomposed and combined
    ("with space", "  leading and trailing spaces  "),
    ("UPPER_case", "pw%s%(x)s:name ?"),
]


@pytest.mark.parametrize(("suffix", "password"), AWKWARD)
def test_awkward_names_and_passwords(database: ScratchDatabase, suffix: str, password: str) -> None:
    user = database.role(suffix)
    reset(database, {user: READ_WRITE}, {user: password})
    reset(database, {user: READ_WRITE}, {user: password + "2"})  # the ALTER path too

    conn = database.connect(user, password + "2")
    assert conn.run("SELECT current_user") == [[user]]  # stored exactly, not folded
    conn.close()
    login_fails(database, user, password)
    su = database.as_superuser()
    assert su.run("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")[0][0]
    assert su.run(
        "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, :p)", p=database.prefix
    ) == [[2]]  # the admin and this user, nothing else
    su.close()
    su_login = database.server.superuser()  # postgres' password untouched
    su_login.close()


def test_our_verifier_matches_the_servers_own(database: ScratchDatabase) -> None:
    su = database.as_superuser()
    role = database.role("hash")
    for password in ("plain", "pässwörd 密码 🔑", "Ⅸ ﬁ\u00a0nbsp", "tab\tcontrol"):
        su.run(f"DROP ROLE IF EXISTS {pgc.quote_ident(role)}")
        su.run(f"CREATE ROLE {pgc.quote_ident(role)} PASSWORD {pg8000.native.literal(password)}")
        stored = su.run("SELECT rolpassword FROM pg_authid WHERE rolname = :r", r=role)[0][0]
        iterations, salt = stored.split("$")[1].split(":")
        assert scram_verifier(password, base64.b64decode(salt), int(iterations)) == stored
    su.close()


def test_password_the_client_cannot_send_fails_cleanly(database: ScratchDatabase) -> None:
    """The server accepts any password; pg8000's SCRAM client refuses SASLprep-prohibited ones."""
    user = database.role("emoji")
    reset(database, {user: READ_ONLY}, {user: "key 🔑"})
    message = login_fails(database, user, "key 🔑")
    assert "cannot use this password" in message and "🔑" not in message


def test_missing_password_fails_before_any_change(database: ScratchDatabase) -> None:
    app, ro = database.role("app"), database.role("ro")
    with pytest.raises(UserResetFailed, match=f"no password for: {ro}"):
        reset(database, {app: READ_WRITE, ro: READ_ONLY}, {app: "a", ro: ""})
    su = database.as_superuser()
    assert su.run("SELECT count(*) FROM pg_roles WHERE rolname = :r", r=app) == [[0]]
    su.close()


def _table_owned_by_another_role(database: ScratchDatabase, admin_select: bool) -> str:
    owner, ro = database.role("owner"), database.role("ro")
    su = database.as_superuser()
    su.run(f"CREATE ROLE {pgc.quote_ident(owner)}")
    su.run(f"CREATE ROLE {pgc.quote_ident(ro)} LOGIN PASSWORD 'old'")
    su.run("CREATE TABLE public.audit_log (id int)")
    su.run(f"ALTER TABLE public.audit_log OWNER TO {pgc.quote_ident(owner)}")
    su.run(f"GRANT SELECT, INSERT ON public.audit_log TO {pgc.quote_ident(ro)}")
    if admin_select:
        su.run(f"GRANT SELECT ON public.audit_log TO {pgc.quote_ident(database.admin.username)}")
    su.close()
    return ro


def test_write_access_it_cannot_revoke_fails_and_rolls_back(database: ScratchDatabase) -> None:
    """On RDS the master is no superuser: REVOKE only removes what it granted itself, and
    GRANT/REVOKE without grant option merely warn. The effective-privilege check catches it."""
    ro = _table_owned_by_another_role(database, admin_select=True)

    with pytest.raises(UserResetFailed, match=f"read-only user {ro} can still write to 1 of 3"):
        reset(database, {ro: READ_ONLY}, {ro: "new"})
    conn = database.connect(ro, "old")  # rolled back: the old password still works
    conn.close()


def test_table_the_admin_has_no_rights_on_fails_clearly(database: ScratchDatabase) -> None:
    ro = _table_owned_by_another_role(database, admin_select=False)

    expected = f"user {ro}: 42501 permission denied for table audit_log (the admin role has no"
    with pytest.raises(UserResetFailed, match=re.escape(expected)):
        reset(database, {ro: READ_ONLY}, {ro: "new"})


def test_connect_it_cannot_grant_fails(database: ScratchDatabase) -> None:
    """A database owned by someone else, CONNECT revoked from PUBLIC: GRANT only warns."""
    admin, ro = pgc.quote_ident(database.admin.username), database.role("ro")
    su = database.server.superuser()
    name = pgc.quote_ident(database.name)
    su.run(f"ALTER DATABASE {name} OWNER TO CURRENT_USER")
    su.run(f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")
    su.run(f"GRANT CONNECT ON DATABASE {name} TO {admin}")
    su.close()

    with pytest.raises(UserResetFailed, match=f"user {ro} still has no CONNECT"):
        reset(database, {ro: READ_ONLY}, {ro: "pw"})


@pytest.mark.parametrize("which", ["admin", "superuser"])
def test_refuses_to_manage_admin_or_superuser(database: ScratchDatabase, which: str) -> None:
    if which == "admin":
        name = database.admin.username
    else:
        name = database.role("su")
        su = database.as_superuser()
        su.run(f"CREATE ROLE {pgc.quote_ident(name)} SUPERUSER")
        su.close()
    with pytest.raises(UserResetFailed, match="refusing"):
        reset(database, {name: READ_WRITE}, {name: "x"})


def test_name_longer_than_postgres_keeps_is_refused() -> None:
    with pytest.raises(SettingsInvalid, match="63 bytes"):
        pgc.quote_ident("é" * 32)
