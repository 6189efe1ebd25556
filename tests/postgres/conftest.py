"""Fixtures for tests against a real PostgreSQL server (`scripts/pg-test-server.sh` sets it up).

Where the server is: AURORA_RESTORE_TEST_PG_HOST (127.0.0.1), _PORT (5432), _USER (postgres),
_PASSWORD (postgres), _CA (/var/lib/postgresql/aurora-restore-tls/ca.pem). An unreachable
server fails the tests; they are never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pg8000.native
import pytest

from handlers.lib import db
from handlers.lib.engines import postgresql_connection as pgc

SETUP_HINT = "run `sudo bash scripts/pg-test-server.sh` (it installs, starts and configures it)"

EXAMPLE_SCHEMA = """
CREATE TABLE public.customers (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    phone text,
    first_name text,
    last_name text,
    street text,
    postal_code text,
    date_of_birth date,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES public.customers (id),
    total_cents integer NOT NULL,
    shipping_address text,
    notes text,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.customers (email, phone, first_name, last_name, street, postal_code,
                              date_of_birth)
VALUES ('ada@lovelace.example', '+44 20 7946 0018', 'Ada', 'Lovelace', '12 St James''s Square',
        'SW1Y 4JH', '1815-12-10'),
       ('alan@turing.example', '+44 161 496 0735', 'Alan', 'Turing', '43 Adlington Road',
        'SK9 4LA', '1912-06-23'),
       ('grace@hopper.example', '+1 212 555 0147', 'Grace', 'Hopper', '1 Navy Way', '10001',
        '1906-12-09');
INSERT INTO public.orders (customer_id, total_cents, shipping_address, notes)
VALUES (1, 4200, '12 St James''s Square, London', 'leave at the door'),
       (2, 1999, '43 Adlington Road, Wilmslow', 'call +44 161 496 0735 first'),
       (3, 15000, '1 Navy Way, New York', NULL);
"""


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    ca_file: Path

    def tls(self) -> db.Target:
        return self.target("postgres")

    def target(self, database: str, *, tls: bool = True, timeout: float = 5.0) -> db.Target:
        context = db.tls_context(self.ca_file) if tls else None
        return db.Target(self.host, self.port, database, context, timeout)

    def superuser(self, database: str = "postgres") -> pg8000.native.Connection:
        return pgc.connect(self.target(database), db.Credentials(self.user, self.password))


@dataclass
class ScratchDatabase:
    server: PgServer
    name: str
    prefix: str  # every role a test creates starts with it, so teardown finds them all
    admin: db.Credentials

    def role(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    def target(self, *, tls: bool = True, timeout: float = 5.0) -> db.Target:
        return self.server.target(self.name, tls=tls, timeout=timeout)

    def connect(self, user: str, password: str) -> pg8000.native.Connection:
        return pgc.connect(self.target(), db.Credentials(user, password))

    def as_admin(self) -> pg8000.native.Connection:
        return self.connect(self.admin.username, self.admin.password)

    def as_superuser(self) -> pg8000.native.Connection:
        return self.server.superuser(self.name)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"AURORA_RESTORE_TEST_PG_{name}", default)


@pytest.fixture(scope="session")
def pg() -> PgServer:
    server = PgServer(
        host=_env("HOST", "127.0.0.1"),
        port=int(_env("PORT", "5432")),
        user=_env("USER", "postgres"),
        password=_env("PASSWORD", "postgres"),
        ca_file=Path(_env("CA", "/var/lib/postgresql/aurora-restore-tls/ca.pem")),
    )
    if not server.ca_file.is_file():
        pytest.fail(f"no test CA at {server.ca_file}: {SETUP_HINT}", pytrace=False)
    problem = ""
    try:
        server.superuser().close()
    except Exception as exc:
        problem = str(exc)
    if problem:
        pytest.fail(
            f"PostgreSQL test server {server.host}:{server.port} unusable ({problem}): {SETUP_HINT}",
            pytrace=False,
        )
    return server


@pytest.fixture
def database(pg: PgServer) -> Iterator[ScratchDatabase]:
    """A fresh database owned by a non-superuser admin with CREATEROLE, like the RDS master
    user, holding the example schema. Dropped afterwards with every role the test made."""
    tag = uuid.uuid4().hex[:10]
    prefix = f"ar{tag}_"
    admin = db.Credentials(f"{prefix}admin", f"admin-{uuid.uuid4().hex}")
    name = f"ar_test_{tag}"
    su = pg.superuser()
    try:
        su.run(
            f"CREATE ROLE {pgc.quote_ident(admin.username)} LOGIN CREATEROLE PASSWORD "
            f"{pg8000.native.literal(admin.password)}"
        )
        su.run(f"CREATE DATABASE {pgc.quote_ident(name)} OWNER {pgc.quote_ident(admin.username)}")
        test_db = ScratchDatabase(pg, name, prefix, admin)
        conn = test_db.as_admin()
        conn.run(EXAMPLE_SCHEMA)
        conn.close()
        yield test_db
    finally:
        su.run(f"DROP DATABASE IF EXISTS {pgc.quote_ident(name)} WITH (FORCE)")
        for (role,) in su.run(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)", p=prefix
        ):
            su.run(f"DROP ROLE {pgc.quote_ident(role)}")
        su.close()


@pytest.fixture
def admin_conn(database: ScratchDatabase) -> Iterator[pg8000.native.Connection]:
    conn = database.as_admin()
    yield conn
    pgc.close_quietly(conn)
