"""The `database:` section: users, SQL files, verification, and the RDS CA bundle.

What a name may be depends on the engine: PostgreSQL roles have at most 63 bytes (no `pg_`
prefix), MySQL users at most 32 characters; MySQL's schemas are its databases, so `schemas`
defaults to `[<name>]` there (PostgreSQL: `[public]`).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from .fields import PG_NAME, TABLE_NAME, existing_file
from .reader import ConfigError, Section, string_item
from .settings import AppUser, Database, ExpectedTable, Settings

# AWS's published bundle of the RDS certificate authorities (all commercial regions).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"

RDS_CA_BUNDLE_FILE = "rds-global-bundle.pem"

MYSQL = "aurora-mysql"
MYSQL_USER_CHARS = 32  # MySQL 8.0 / Aurora MySQL 3
MYSQL_RESERVED_USERS = ("rdsadmin", "root", "mysql.sys", "mysql.session", "mysql.infoschema")


def _user(file: Path, engine: str) -> Any:
    def check(path: str, value: Any) -> AppUser:
        s = Section(file, path, value)
        with s.reading():
            if engine == MYSQL:
                name = s.string("name", expected="a MySQL user name (1-32 characters)")
                if len(name) > MYSQL_USER_CHARS or name.lower() in MYSQL_RESERVED_USERS:
                    raise s.error(
                        "name", f"MySQL user names have at most {MYSQL_USER_CHARS} characters "
                        f"and are none of {', '.join(MYSQL_RESERVED_USERS)}"
                    )
            else:
                name = s.string("name", expected="a PostgreSQL role name (1-63 characters)")
                if len(name.encode()) > 63 or name.lower().startswith("pg_"):
                    raise s.error(
                        "name", "PostgreSQL role names have at most 63 bytes and no pg_ prefix"
                    )
            return AppUser(
                name=name, privilege=s.string("privilege", choices=("read-write", "read-only"))
            )

    return check

def _expected_table(file: Path) -> Any:
    def check(path: str, value: Any) -> ExpectedTable:
        s = Section(file, path, value)
        with s.reading():
            return ExpectedTable(
                name=s.string(
                    "name", pattern=TABLE_NAME, expected="a table name, optionally schema-qualified"
                ),
                min_rows=s.integer("min_rows", 0, 10**12, 0),
            )

    return check

def _ca_bundle(s: Section, value: Any) -> Path:
    """A PEM file of CA certificates that Python's ssl module can load."""
    path = existing_file(s, "database.ca_bundle", value)
    count = ca_certificate_count(path)
    if count == 0:
        raise ConfigError(
            s.file,
            "database.ca_bundle",
            f"{path} holds no PEM CA certificate; get AWS's bundle with: "
            f"{ca_bundle_fetch_command(s.file.parent)}",
        )
    return path

def ca_certificate_count(path: Path) -> int:
    """How many CA certificates `path` holds (0 when it is not loadable PEM)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return 0
    if "-----BEGIN CERTIFICATE-----" not in text:
        return 0
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=text)
    except (ssl.SSLError, ValueError):
        return 0
    return len(context.get_ca_certs())

def ca_bundle_fetch_command(config_dir: Path) -> str:
    return f"curl -fsSo {config_dir / RDS_CA_BUNDLE_FILE} {RDS_CA_BUNDLE_URL}"

def require_ca_bundle(settings: Settings) -> Path:
    """The CA bundle the database steps verify the cluster's certificate with.

    Needed against AWS (not in the sandbox, whose database steps are skipped): the RDS
    certificate authorities are not in the Lambda runtime's trust store, and we never fall
    back to unverified TLS. Raises ConfigError saying exactly how to get AWS's bundle."""
    if settings.database.ca_bundle is not None:
        return settings.database.ca_bundle
    raise ConfigError(
        settings.file,
        "database.ca_bundle",
        "is required against AWS: the RDS certificate authorities are not in the Lambda "
        f"runtime's trust store. Get AWS's bundle with `{ca_bundle_fetch_command(settings.config_dir)}` "
        f"and set database.ca_bundle: {RDS_CA_BUNDLE_FILE}",
    )

def read_database(s: Section, engine: str = "aurora-postgresql") -> Database:
    f = s.file
    with s.reading():
        name = s.string("name", pattern=PG_NAME, expected="a database name")
        ca = s.raw("ca_bundle", None)
        users = s.items("users", _user(f, engine), [])
        seen: set[str] = set()
        for i, user in enumerate(users):
            if user.name in seen:
                raise ConfigError(f, f"database.users[{i}].name", f"duplicate user {user.name!r}")
            seen.add(user.name)
        verify = s.optional_section("verify")
        expected: tuple[ExpectedTable, ...] = ()
        if verify is not None:
            with verify.reading():
                expected = verify.items("expected_tables", _expected_table(f), [])
        return Database(
            name=name,
            ca_bundle=None if ca is None else _ca_bundle(s, ca),
            connect_timeout_seconds=s.integer("connect_timeout_seconds", 1, 120, 10),
            schemas=s.items(
                "schemas",
                string_item(f, PG_NAME, "a schema name" if engine != MYSQL else "a database name"),
                [name] if engine == MYSQL else ["public"],
                min_items=1,
            ),
            users=users,
            post_restore_sql=s.items("post_restore_sql", lambda p, v: existing_file(s, p, v), []),
            expected_tables=expected,
        )
