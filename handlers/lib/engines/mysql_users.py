"""MySQL: give the configured application users fresh passwords and exactly their privileges
(the users step, `Engine.reset_users`).

An application user is `'<name>'@'%'`. It is created when missing (`CREATE USER IF NOT
EXISTS`), then given its password and unlocked (`ALTER USER … IDENTIFIED BY … ACCOUNT UNLOCK`:
a user that came from production keeps nothing of production's password). On each configured
schema (a MySQL database) its privileges are reset to the configured level: whatever it held
there is revoked (database and table level), then `SELECT` (read-only) or `SELECT, INSERT,
UPDATE, DELETE` (read-write) is granted on the whole database, which covers tables created
later. Then what it can really do is checked, as for PostgreSQL: global or table-level grants
the step did not make can leave a read-only user able to write.

MySQL commits account statements at once (no transaction spans them), so everything that can
be checked is checked before the first change (passwords present, no admin or privileged
account); a failure after that names the users already changed. The step is idempotent: a
retry finishes the job. Database names in GRANT are escaped (`_` and `%` would be wildcards).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.lib import db
from handlers.lib.app_users import READ_ONLY, READ_WRITE, AppUser
from handlers.lib.engines import Statement
from handlers.lib.engines import mysql_connection as myc
from handlers.lib.errors import UserResetFailed

HOST = "%"
PRIVILEGES = {READ_ONLY: "SELECT", READ_WRITE: "SELECT, INSERT, UPDATE, DELETE"}
WRITES = ("Insert", "Update", "Delete")
ADMINISTRATIVE = ("Super_priv", "Grant_priv", "Create_user_priv", "Shutdown_priv",
                  "Process_priv", "File_priv", "Reload_priv")
# mysql.db's columns (`<name>_priv`) that MySQL 8.0 and MariaDB share, and their GRANT names.
DATABASE_PRIVILEGES = {
    "Select": "SELECT", "Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE",
    "Create": "CREATE", "Drop": "DROP", "Grant": "GRANT OPTION", "References": "REFERENCES",
    "Index": "INDEX", "Alter": "ALTER", "Create_tmp_table": "CREATE TEMPORARY TABLES",
    "Lock_tables": "LOCK TABLES", "Create_view": "CREATE VIEW", "Show_view": "SHOW VIEW",
    "Create_routine": "CREATE ROUTINE", "Alter_routine": "ALTER ROUTINE", "Execute": "EXECUTE",
    "Event": "EVENT", "Trigger": "TRIGGER",
}
NOT_ALLOWED_HINT = " (the admin user may not grant this: it needs the privilege WITH GRANT OPTION)"


def reset_users(
    engine: Any,
    conn: Any,
    users: Sequence[AppUser],
    passwords: db.AppSecret,
    schemas: Sequence[str],
) -> dict[str, Any]:
    """`schemas`: the databases on the server (mapped from the config's names)."""
    missing = [u.name for u in users if passwords.password_for(u.name) is None]
    if missing:
        raise UserResetFailed(f"the app secret has no password for: {', '.join(missing)}")

    def run(sql: str, **params: Any) -> list[Any]:
        return list(engine.run(conn, Statement(sql, params)))

    current, changed = "", []
    try:
        admin = str(run("SELECT CURRENT_USER()")[0][0]).rsplit("@", 1)[0]
        for user in users:
            current = user.name
            _refuse_unmanageable(run, user, admin)
        outcome: dict[str, str] = {}
        for user in users:
            current = user.name
            outcome[user.name] = _set_login(run, user, passwords)
            changed.append(user.name)
        for user in users:
            current = user.name
            for schema in schemas:
                _grant(run, user, schema)
        tables = 0
        for user in users:
            current = user.name
            tables = _check_effective(run, user, schemas)
    except Exception as exc:
        if not myc.is_server_error(exc):
            raise
        code, message = myc.error_fields(exc)
        for user in users:  # never a password in a message, even a quoted one
            message = message.replace(passwords.password_for(user.name) or "\0", "***")
        hint = NOT_ALLOWED_HINT if code in (1044, 1045, 1142, 1227, 1410) else ""
        done = f"; already changed: {', '.join(changed)}" if changed else ""
        raise UserResetFailed(f"user {current}: {code} {message}{hint}{done}") from None
    return {
        "users": [
            {"name": u.name, "privilege": u.privilege, "action": outcome[u.name]} for u in users
        ],
        "schemas": len(schemas),
        "tables": tables,
        "host": HOST,
    }


def _refuse_unmanageable(run: Any, user: AppUser, admin: str) -> None:
    if user.name == admin:
        raise UserResetFailed(f"user {user.name} is the admin role; refusing to change it")
    columns = ", ".join(ADMINISTRATIVE)
    rows = run(f"SELECT {columns} FROM mysql.user WHERE User = %(u)s AND Host = %(h)s",
               u=user.name, h=HOST)
    if rows and any(str(value).upper() == "Y" for value in rows[0]):
        raise UserResetFailed(
            f"user {user.name} holds administrative privileges; refusing to manage it"
        )


def _set_login(run: Any, user: AppUser, passwords: db.AppSecret) -> str:
    password = passwords.password_for(user.name)
    assert password is not None  # checked for every user before any change
    existed = run("SELECT COUNT(*) FROM mysql.user WHERE User = %(u)s AND Host = %(h)s",
                  u=user.name, h=HOST)[0][0]
    run("CREATE USER IF NOT EXISTS %(u)s@%(h)s IDENTIFIED BY %(p)s", u=user.name, h=HOST,
        p=password)
    run("ALTER USER %(u)s@%(h)s IDENTIFIED BY %(p)s ACCOUNT UNLOCK", u=user.name, h=HOST,
        p=password)
    return "updated" if existed else "created"


def grant_database(schema: str) -> str:
    """A database name as GRANT reads it: quoted, its wildcards escaped."""
    return myc.quote_ident(schema.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%"))


def _grant(run: Any, user: AppUser, schema: str) -> None:
    """Revoke what the user holds on the database (exactly that: REVOKE ALL would need the
    admin to hold every privilege there is, which the RDS master does not), then grant."""
    pattern = grant_pattern(schema)
    columns = ", ".join(f"{c}_priv" for c in DATABASE_PRIVILEGES)
    for row in run(
        f"SELECT Db, {columns} FROM mysql.db WHERE User = %(u)s AND Host = %(h)s "
        "AND Db IN (%(d)s, %(p)s)", u=user.name, h=HOST, d=schema, p=pattern,
    ):
        held = [DATABASE_PRIVILEGES[c] for c, v in zip(DATABASE_PRIVILEGES, row[1:], strict=True)
                if str(v).upper() == "Y"]
        if held:
            run(f"REVOKE {', '.join(held)} ON {myc.quote_ident(str(row[0]))}.* "
                "FROM %(u)s@%(h)s", u=user.name, h=HOST)
    for table, privileges in run(
        "SELECT Table_name, Table_priv FROM mysql.tables_priv WHERE User = %(u)s "
        "AND Host = %(h)s AND Db = %(d)s", u=user.name, h=HOST, d=schema,
    ):
        held = _set_privileges(privileges)
        if held:
            run(f"REVOKE {', '.join(held)} ON {myc.quote_ident(schema)}."
                f"{myc.quote_ident(str(table))} FROM %(u)s@%(h)s", u=user.name, h=HOST)
    for table, column, privileges in run(
        "SELECT Table_name, Column_name, Column_priv FROM mysql.columns_priv WHERE User = %(u)s "
        "AND Host = %(h)s AND Db = %(d)s", u=user.name, h=HOST, d=schema,
    ):
        held = [f"{p} ({myc.quote_ident(str(column))})" for p in _set_privileges(privileges)]
        if held:
            run(f"REVOKE {', '.join(held)} ON {myc.quote_ident(schema)}."
                f"{myc.quote_ident(str(table))} FROM %(u)s@%(h)s", u=user.name, h=HOST)
    run(f"GRANT {PRIVILEGES[user.privilege]} ON {grant_database(schema)}.* TO %(u)s@%(h)s",
        u=user.name, h=HOST)


def _set_privileges(value: Any) -> list[str]:
    """mysql.tables_priv's SET of privileges ('Select,Insert,Grant') as REVOKE names them."""
    names = {"grant": "GRANT OPTION", "show view": "SHOW VIEW", "create view": "CREATE VIEW"}
    text = ",".join(value) if isinstance(value, (set, frozenset)) else str(value or "")
    held = [p.strip() for p in text.split(",") if p.strip()]
    return [names.get(p.lower(), p.upper()) for p in held
            if p.lower() != "delete versioning rows"]  # MariaDB only: not ours to touch


def _check_effective(run: Any, user: AppUser, schemas: Sequence[str]) -> int:
    """What the user can really do on the configured schemas' tables."""
    names = tuple(schemas)
    tables = [(str(s), str(t)) for s, t in run(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA IN %(s)s", s=names,
    )]
    writes = " OR ".join(f"{w}_priv = 'Y'" for w in WRITES)
    global_write = run(f"SELECT COUNT(*) FROM mysql.user WHERE User = %(u)s AND Host = %(h)s "
                       f"AND ({writes})", u=user.name, h=HOST)[0][0]
    readable = run(
        "SELECT COUNT(*) FROM mysql.db WHERE User = %(u)s AND Host = %(h)s AND Select_priv = 'Y'"
        " AND Db IN %(d)s", u=user.name, h=HOST, d=tuple(grant_pattern(s) for s in names),
    )[0][0]
    if readable < len(names):
        raise UserResetFailed(f"user {user.name} still cannot read {len(names) - readable} of "
                              f"{len(names)} schemas")
    if user.privilege == READ_ONLY:
        writable: set[tuple[str, str]] = set(tables) if global_write else set()
        db_writes = {str(d) for (d,) in run(
            f"SELECT Db FROM mysql.db WHERE User = %(u)s AND Host = %(h)s AND ({writes})",
            u=user.name, h=HOST)}
        writable |= {t for t in tables if t[0] in db_writes or grant_pattern(t[0]) in db_writes}
        for kind in ("tables_priv", "columns_priv"):
            column = "Table_priv" if kind == "tables_priv" else "Column_priv"
            found = run(
                f"SELECT Db, Table_name, {column} FROM mysql.{kind} WHERE User = %(u)s "
                "AND Host = %(h)s", u=user.name, h=HOST)
            writable |= {(str(d), str(t)) for d, t, privileges in found
                         if any(w in str(privileges) for w in WRITES)} & set(tables)
        if writable:
            raise UserResetFailed(
                f"read-only user {user.name} can still write to {len(writable)} of "
                f"{len(tables)} tables (a global, table or column grant, or a role)"
            )
    return len(tables)


def grant_pattern(schema: str) -> str:
    """How mysql.db stores a database granted through `grant_database`."""
    return schema.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
