"""The database steps on both engines: every test here runs once on PostgreSQL and once on a
MySQL-compatible server (the `engine` fixture is parametrized), through the engine interface.

The servers are the ones scripts/pg-test-server.sh and scripts/mysql-test-server.sh set up:
AURORA_RESTORE_TEST_PG_* and AURORA_RESTORE_TEST_MYSQL_* (HOST, PORT, USER, PASSWORD, CA)
say where, with the scripts' defaults. An unreachable server fails the tests; they are never
skipped. Test SQL keeps to what both engines run, with `:name` parameters (rewritten to
`%(name)s` for MySQL); the example schema is written once per engine.

Each test gets a scratch database on the shared server with an admin like the RDS master user
(PostgreSQL: a non-superuser with CREATEROLE owning the database; MySQL: the master's global
privileges WITH GRANT OPTION), and the engine bound to it (`Target.shared`: it sees only that
database, under the name the settings give it).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from handlers.lib import db
from handlers.lib.engines import Engine, Statement, engine_for

POSTGRESQL, MYSQL = "aurora-postgresql", "aurora-mysql"
ENGINES = (POSTGRESQL, MYSQL)
SETUP_HINT = {
    POSTGRESQL: "run `sudo bash scripts/pg-test-server.sh` (it installs, starts and configures it)",
    MYSQL: "run `sudo bash scripts/mysql-test-server.sh` (it installs, starts and configures it)",
}
# What Aurora MySQL 3 gives its master user (no SUPER; RDS adds rds_superuser_role).
MYSQL_MASTER_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, "
    "SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, "
    "REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, "
    "EVENT, TRIGGER"
)

PG_SCHEMA = """
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
"""
MYSQL_SCHEMA = """
CREATE TABLE customers (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    phone VARCHAR(255),
    first_name VARCHAR(255),
    last_name VARCHAR(255),
    street VARCHAR(255),
    postal_code VARCHAR(255),
    date_of_birth DATE,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE orders (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    total_cents INT NOT NULL,
    shipping_address TEXT,
    notes TEXT,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"""
EXAMPLE_ROWS = """
INSERT INTO customers (email, phone, first_name, last_name, street, postal_code, date_of_birth)
VALUES ('ada@lovelace.example', '+44 20 7946 0018', 'Ada', 'Lovelace', '12 St James''s Square',
        'SW1Y 4JH', '1815-12-10'),
       ('alan@turing.example', '+44 161 496 0735', 'Alan', 'Turing', '43 Adlington Road',
        'SK9 4LA', '1912-06-23'),
       ('grace@hopper.example', '+1 212 555 0147', 'Grace', 'Hopper', '1 Navy Way', '10001',
        '1906-12-09');
INSERT INTO orders (customer_id, total_cents, shipping_address, notes)
VALUES (1, 4200, '12 St James''s Square, London', 'leave at the door'),
       (2, 1999, '43 Adlington Road, Wilmslow', 'call +44 161 496 0735 first'),
       (3, 15000, '1 Navy Way, New York', NULL);
"""


@dataclass(frozen=True)
class Server:
    engine: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    ca_file: Path
    admin_database: str

    @property
    def credentials(self) -> db.Credentials:
        return db.Credentials(self.user, self.password)

    def target(self, database: str | None = None, *, tls: bool = True,
               timeout: float = 5.0) -> db.Target:
        name = database or self.admin_database
        context = db.tls_context(self.ca_file) if tls else None
        return db.Target(self.host, self.port, name, context, timeout, name, True)

    def connect(self, database: str | None = None) -> Any:
        return engine_for(self.engine).connect(self.target(database), self.credentials)


def _env(engine: str, name: str, default: str) -> str:
    prefix = "PG" if engine == POSTGRESQL else "MYSQL"
    return os.environ.get(f"AURORA_RESTORE_TEST_{prefix}_{name}", default)


def _server(engine: str) -> Server:
    if engine == POSTGRESQL:
        server = Server(engine, _env(engine, "HOST", "127.0.0.1"), int(_env(engine, "PORT", "5432")),
                        _env(engine, "USER", "postgres"), _env(engine, "PASSWORD", "postgres"),
                        Path(_env(engine, "CA", "/var/lib/postgresql/aurora-restore-tls/ca.pem")),
                        "postgres")
    else:
        server = Server(engine, _env(engine, "HOST", "127.0.0.1"), int(_env(engine, "PORT", "3306")),
                        _env(engine, "USER", "aurora_test"), _env(engine, "PASSWORD", "mysql"),
                        Path(_env(engine, "CA", "/etc/mysql/aurora-restore-tls/ca.pem")), "mysql")
    if not server.ca_file.is_file():
        pytest.fail(f"no test CA at {server.ca_file}: {SETUP_HINT[engine]}", pytrace=False)
    problem = ""
    try:
        engine_for(engine).close(server.connect())
    except Exception as exc:
        problem = str(exc)
    if problem:
        pytest.fail(f"{engine} test server {server.host}:{server.port} unusable ({problem}): "
                    f"{SETUP_HINT[engine]}", pytrace=False)
    return server


_servers: dict[str, Server] = {}


@pytest.fixture(params=ENGINES, ids=["postgresql", "mysql"])
def server(request: pytest.FixtureRequest) -> Server:
    engine = str(request.param)
    if engine not in _servers:
        _servers[engine] = _server(engine)
    return _servers[engine]


_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass
class Scratch:
    """A scratch database, its admin, and engine-neutral helpers for test SQL."""

    server: Server
    name: str
    prefix: str  # every user a test creates starts with it, so teardown finds them all
    admin: db.Credentials

    @property
    def engine_name(self) -> str:
        return self.server.engine

    @property
    def mysql(self) -> bool:
        return self.server.engine == MYSQL

    @property
    def schema(self) -> str:
        """The example tables' schema as rules and expected tables name it."""
        return self.name if self.mysql else "public"

    @property
    def engine(self) -> Engine:
        return engine_for(self.engine_name).for_target(self.target())

    def user(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    def target(self, *, tls: bool = True, timeout: float = 5.0) -> db.Target:
        return self.server.target(self.name, tls=tls, timeout=timeout)

    def connect(self, user: str, password: str) -> Any:
        return self.engine.connect(self.target(), db.Credentials(user, password))

    def as_admin(self) -> Any:
        return self.connect(self.admin.username, self.admin.password)

    def as_superuser(self) -> Any:
        return self.server.connect(self.name)

    def sql(self, text: str) -> str:
        return _PARAMETER.sub(r"%(\1)s", text) if self.mysql else text

    def rows(self, conn: Any, text: str, **params: Any) -> list[list[Any]]:
        statement = Statement(self.sql(text), params, raw=not params)  # raw: `%` as written
        return [list(r) for r in self.engine.run(conn, statement)]

    def execute(self, conn: Any, text: str, **params: Any) -> None:
        self.rows(conn, text, **params)

    def column(self, conn: Any, text: str, **params: Any) -> list[Any]:
        return [row[0] for row in self.rows(conn, text, **params)]

    def script(self, conn: Any, text: str) -> None:
        """Several statements, as written (no parameters)."""
        for statement in filter(str.strip, text.split(";\n")):
            self.engine.run(conn, Statement(statement, {}, raw=True))

    def close(self, conn: Any) -> None:
        self.engine.close(conn)


def _quote(engine: str, name: str) -> str:
    return "`" + name.replace("`", "``") + "`" if engine == MYSQL else '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


@pytest.fixture
def scratch(server: Server) -> Iterator[Scratch]:
    """A fresh database holding the example schema and rows, owned by an admin like the RDS
    master user; dropped afterwards with every user the test made."""
    tag = uuid.uuid4().hex[:10]
    prefix = f"ar{tag}_"
    admin = db.Credentials(f"{prefix}admin", f"admin-{uuid.uuid4().hex}")
    name = f"ar_test_{tag}"
    engine = engine_for(server.engine)
    su = server.connect()

    def run(sql: str) -> list[Any]:
        return list(engine.run(su, Statement(sql, {}, raw=True)))

    q = lambda n: _quote(server.engine, n)  # noqa: E731
    try:
        if server.engine == MYSQL:
            run(f"CREATE USER {_literal(admin.username)}@'%' IDENTIFIED BY {_literal(admin.password)}")
            run(f"GRANT {MYSQL_MASTER_PRIVILEGES} ON *.* TO {_literal(admin.username)}@'%' "
                "WITH GRANT OPTION")
            if "mariadb" in str(run("SELECT VERSION()")[0][0]).lower():
                # MariaDB ≥ 10.5 split REPLICATION CLIENT: reading replica status (which
                # Aurora's master may) is SLAVE MONITOR there
                run(f"GRANT SLAVE MONITOR ON *.* TO {_literal(admin.username)}@'%'")
            run(f"CREATE DATABASE {q(name)} CHARACTER SET utf8mb4")
        else:
            run(f"CREATE ROLE {q(admin.username)} LOGIN CREATEROLE PASSWORD {_literal(admin.password)}")
            run(f"CREATE DATABASE {q(name)} OWNER {q(admin.username)}")
        scratch = Scratch(server, name, prefix, admin)
        conn = scratch.as_admin()
        scratch.script(conn, MYSQL_SCHEMA if server.engine == MYSQL else PG_SCHEMA)
        scratch.script(conn, EXAMPLE_ROWS)
        engine.close(conn)
        yield scratch
    finally:
        if server.engine == MYSQL:
            run(f"DROP DATABASE IF EXISTS {q(name)}")
            for user, host in run(f"SELECT User, Host FROM mysql.user WHERE User LIKE '{prefix}%%'"
                                  .replace("%%", "%")):
                run(f"DROP USER {_literal(str(user))}@{_literal(str(host))}")
        else:
            run(f"DROP DATABASE IF EXISTS {q(name)} WITH (FORCE)")
            for (role,) in run(f"SELECT rolname FROM pg_roles WHERE starts_with(rolname, '{prefix}')"):
                run(f"DROP ROLE {q(str(role))}")
        engine.close(su)


@pytest.fixture
def admin_conn(scratch: Scratch) -> Iterator[Any]:
    conn = scratch.as_admin()
    yield conn
    scratch.close(conn)
