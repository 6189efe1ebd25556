"""The sandbox's database for an engine, as the seed and the demo use it: which server holds
a cluster's database, how it gets its fake personal data, and a few rows to show.
PostgreSQL (postgres.py) serves aurora-postgresql envs, MySQL (mysql.py) aurora-mysql ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import data
from . import mysql as mysql_server
from . import postgres as postgres_server
from .control import Sandbox

MYSQL = "aurora-mysql"


@dataclass(frozen=True)
class SandboxDatabase:
    engine: str
    server: Any  # PostgresServer | MySQLServer
    kind: str  # PostgreSQL | MySQL: for people
    admin_secret: str  # what the database steps log in with (AURORA_RESTORE_DB_ADMIN_SECRET_ID)

    def database(self, cluster_id: str) -> str:
        return str(self.server.database(cluster_id))

    def fill(self, cluster_id: str, endpoint: str) -> tuple[bool, dict[str, int], str]:
        """(had data already, row counts, production's side effect) after filling the cluster's
        database. `endpoint`: a host of production's (the foreign server points there)."""
        conn = self.server.connect(self.database(cluster_id))
        try:
            if self.engine == MYSQL:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                                   "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers'")
                    had = bool(cursor.fetchone()[0])
                counts = data.fill_mysql(conn)
                return had, counts, f"event {data.MYSQL_EVENT}: {data.schedule_sending(conn)}"
            had = bool(conn.run("SELECT to_regclass('public.customers') IS NOT NULL")[0][0])
            counts = data.fill(conn)
            try:
                linked = f"foreign server {data.FOREIGN_SERVER} → {endpoint}: " + \
                    data.link_production(conn, endpoint)
            except Exception as exc:  # e.g. a DSN's server without postgres_fdw or the right
                linked = f"no foreign server ({type(exc).__name__}: {str(exc)[:120]})"
            return had, counts, linked
        finally:
            conn.close()

    def side_effects(self, cluster_id: str) -> dict[str, Any]:
        """Production's side effects in a cluster's database (the demo's quarantine table)."""
        conn = self.server.connect(self.database(cluster_id))
        try:
            if self.engine == MYSQL:
                return data.side_effects_mysql(conn)
            return data.side_effects(conn)
        finally:
            conn.close()

    def sample(self, cluster_id: str, count: int = 3) -> list[list[str]]:
        conn = self.server.connect(self.database(cluster_id))
        try:
            return data.sample_mysql(conn, count) if self.engine == MYSQL else data.sample(conn, count)
        finally:
            conn.close()

    def login(self) -> tuple[str, str]:
        return str(self.server.user), str(self.server.password)

    def schema(self, database_name: str) -> str:
        """Where the example tables are, as masking rules name it: PostgreSQL's `public`,
        MySQL's database (the config's database.name)."""
        return database_name if self.engine == MYSQL else "public"

    def add_column(self, cluster_id: str, column: str) -> None:
        """Production gains a column of e-mail addresses (the demo's PII gate story)."""
        conn = self.server.connect(self.database(cluster_id))
        try:
            if self.engine == MYSQL:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE "
                                   "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers' "
                                   "AND COLUMN_NAME = %s", (column,))
                    if not cursor.fetchone()[0]:
                        cursor.execute(f"ALTER TABLE customers ADD COLUMN {column} VARCHAR(255)")
                    cursor.execute(f"UPDATE customers c JOIN customers r ON r.id = c.id % 24 + 1 "
                                   f"SET c.{column} = r.email")
                return
            conn.run(f"ALTER TABLE public.customers ADD COLUMN IF NOT EXISTS {column} text")
            conn.run(f"UPDATE public.customers c SET {column} = r.email FROM public.customers r "
                     "WHERE r.id = c.id % 24 + 1")
        finally:
            conn.close()


def for_engine(box: Sandbox, engine: str) -> SandboxDatabase | None:
    if engine == MYSQL:
        if box.mysql is None:
            return None
        return SandboxDatabase(engine, box.mysql, "MySQL", mysql_server.ADMIN_SECRET)
    if box.postgres is None:
        return None
    return SandboxDatabase(engine, box.postgres, "PostgreSQL", postgres_server.ADMIN_SECRET)


def missing_note(box: Sandbox, engine: str) -> str:
    """Why the sandbox has no database for `engine` (the steps are skipped)."""
    if engine == MYSQL:
        return f"no MySQL ({box.mysql_note or 'not started'})"
    return f"no PostgreSQL ({box.postgres_note})"
