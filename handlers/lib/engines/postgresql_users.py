"""PostgreSQL: give the configured application users fresh passwords and exactly their
privileges (the users step, `Engine.reset_users`).

Production roles come along in the snapshot, so a role is altered when present and created
otherwise; its passwords come from the app secret and are sent as SCRAM verifiers (never in
clear text). Privileges on the configured schemas are reset to the configured level (revoke,
then grant), so a downgraded user loses write access; default privileges cover tables created
later. All users change in one transaction, then what each role can really do is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.lib import db
from handlers.lib.app_users import READ_ONLY, READ_WRITE, AppUser
from handlers.lib.engines.postgresql_connection import (
    Connection,
    DatabaseError,
    error_fields,
    quote_ident,
    transaction,
)
from handlers.lib.errors import UserResetFailed
from handlers.lib.scram import scram_literal, scram_verifier

TABLE_PRIVILEGES = {READ_ONLY: "SELECT", READ_WRITE: "SELECT, INSERT, UPDATE, DELETE"}
SEQUENCE_PRIVILEGES = {READ_ONLY: "SELECT", READ_WRITE: "USAGE, SELECT, UPDATE"}


def reset_users(
    conn: Connection,
    users: Sequence[AppUser],
    passwords: db.AppSecret,
    database: str,
    schemas: Sequence[str],
) -> dict[str, Any]:
    """Create or alter every user, then set its privileges; one transaction, all or nothing."""
    missing = [u.name for u in users if passwords.password_for(u.name) is None]
    if missing:
        raise UserResetFailed(f"the app secret has no password for: {', '.join(missing)}")
    outcome: dict[str, str] = {}
    current = ""
    try:
        with transaction(conn):
            admin, admin_is_super = conn.run(
                "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
            )[0]
            for user in users:
                current = user.name
                outcome[user.name] = _set_login(conn, user, passwords, admin)
            creators = _default_privilege_creators(conn, users, admin, admin_is_super)
            for user in users:
                current = user.name
                _grant(conn, user, database, schemas, creators)
            tables = 0
            for user in users:
                current = user.name
                tables = _check_effective(conn, user, schemas)
    except DatabaseError as exc:
        code, message = error_fields(exc)
        hint = " (the admin role has no rights on objects owned by other roles)"
        raise UserResetFailed(
            f"user {current}: {code} {message}{hint if code == '42501' else ''}"
        ) from None
    return {
        "users": [
            {"name": u.name, "privilege": u.privilege, "action": outcome[u.name]} for u in users
        ],
        "schemas": len(schemas),
        "tables": tables,
        "default_privileges_for": creators,
    }


def _set_login(conn: Connection, user: AppUser, passwords: db.AppSecret, admin: str) -> str:
    if user.name == admin:
        raise UserResetFailed(f"user {user.name} is the admin role; refusing to change it")
    password = passwords.password_for(user.name)
    assert password is not None  # checked for every user before the transaction
    role = quote_ident(user.name)
    literal = scram_literal(scram_verifier(password))
    rows = conn.run("SELECT rolsuper FROM pg_roles WHERE rolname = :name", name=user.name)
    if rows and rows[0][0]:
        raise UserResetFailed(f"user {user.name} is a superuser; refusing to manage it")
    if rows:
        conn.run(f"ALTER ROLE {role} WITH LOGIN PASSWORD {literal}")
        return "updated"
    conn.run(f"CREATE ROLE {role} WITH LOGIN PASSWORD {literal}")
    return "created"


def _default_privilege_creators(
    conn: Connection, users: Sequence[AppUser], admin: str, admin_is_super: bool
) -> list[str]:
    """Roles whose future tables the users get privileges on: the admin, and the read-write
    users (they may run migrations) when the admin may act for them."""
    creators = [admin]
    for user in users:
        if user.privilege != READ_WRITE:
            continue
        may_act = (
            admin_is_super
            or conn.run("SELECT pg_has_role(current_user, :name, 'MEMBER')", name=user.name)[0][0]
        )
        if may_act:
            creators.append(user.name)
    return creators


def _grant(
    conn: Connection,
    user: AppUser,
    database: str,
    schemas: Sequence[str],
    creators: Sequence[str],
) -> None:
    role = quote_ident(user.name)
    tables, sequences = TABLE_PRIVILEGES[user.privilege], SEQUENCE_PRIVILEGES[user.privilege]
    conn.run(f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {role}")
    for schema_name in schemas:
        schema = quote_ident(schema_name)
        conn.run(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        if user.privilege == READ_ONLY:
            conn.run(f"REVOKE CREATE ON SCHEMA {schema} FROM {role}")
        conn.run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}")
        conn.run(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}")
        conn.run(f"GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {role}")
        conn.run(f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
        for creator_name in creators:
            if creator_name == user.name:
                continue  # a role always has full rights on what it creates itself
            alter = f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(creator_name)}"
            alter += f" IN SCHEMA {schema}"
            conn.run(f"{alter} REVOKE ALL ON TABLES FROM {role}")
            conn.run(f"{alter} REVOKE ALL ON SEQUENCES FROM {role}")
            conn.run(f"{alter} GRANT {tables} ON TABLES TO {role}")
            conn.run(f"{alter} GRANT {sequences} ON SEQUENCES TO {role}")


_EFFECTIVE = """
SELECT count(*) FILTER (WHERE NOT has_table_privilege(:role, c.oid, 'SELECT')),
       count(*) FILTER (WHERE has_table_privilege(:role, c.oid, 'INSERT')
                           OR has_table_privilege(:role, c.oid, 'UPDATE')
                           OR has_table_privilege(:role, c.oid, 'DELETE')),
       count(*) FILTER (WHERE NOT (has_table_privilege(:role, c.oid, 'INSERT')
                               AND has_table_privilege(:role, c.oid, 'UPDATE')
                               AND has_table_privilege(:role, c.oid, 'DELETE'))),
       count(*)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""


_ACCESS = """
SELECT has_database_privilege(:role, current_database(), 'CONNECT'),
       (SELECT count(*) FROM unnest(CAST(:schemas AS text[])) AS s (name)
        WHERE NOT has_schema_privilege(:role, s.name, 'USAGE'))
"""


def _check_effective(conn: Connection, user: AppUser, schemas: Sequence[str]) -> int:
    """Check what the role can really do. A non-superuser admin (the RDS master) can only
    revoke what it granted itself and GRANT on tables it may not grant merely warns, so
    ownership, other grantors or role memberships can leave a user with other rights."""
    can_connect, schemas_unusable = conn.run(_ACCESS, role=user.name, schemas=list(schemas))[0]
    if not can_connect:
        raise UserResetFailed(f"user {user.name} still has no CONNECT on the database")
    if schemas_unusable:
        raise UserResetFailed(f"user {user.name} still lacks USAGE on {schemas_unusable} schemas")
    cannot_read, can_write, cannot_write, total = conn.run(
        _EFFECTIVE, role=user.name, schemas=list(schemas)
    )[0]
    if cannot_read:
        raise UserResetFailed(f"user {user.name} still cannot read {cannot_read} of {total} tables")
    if user.privilege == READ_ONLY and can_write:
        raise UserResetFailed(
            f"read-only user {user.name} can still write to {can_write} of {total} tables "
            "(it owns them, another role granted it, or it inherits it from a role)"
        )
    if user.privilege == READ_WRITE and cannot_write:
        raise UserResetFailed(
            f"user {user.name} still cannot write to {cannot_write} of {total} tables"
        )
    return int(total)
