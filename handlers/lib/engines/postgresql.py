"""Aurora PostgreSQL behind the engine interface (pg8000's native API, `:name` parameters; the
connection layer is postgresql_connection.py, the users step postgresql_users.py).

Masking expressions are plain SQL over built-in functions: the keyed hash is HMAC-SHA256
computed as `sha256(opad || sha256(ipad || message))`, where the pads are the key XOR-ed
with HMAC's constants, computed once in Python and sent as bytea parameters. No extension
(pgcrypto, anon) is needed, so Aurora's defaults are enough.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from handlers.lib import masking_rules
from handlers.lib.app_users import AppUser
from handlers.lib.db import AppSecret, Credentials, Target
from handlers.lib.engines import (
    DATETIME,
    JSON,
    OTHER,
    TEXT,
    BuiltinCheck,
    BuiltinResult,
    ColumnInfo,
    ScriptEndedTransaction,
    ServerError,
    Statement,
    TableInfo,
    postgresql_users,
)
from handlers.lib.engines import postgresql_connection as pgc
from handlers.lib.engines.fakes import FIRST_NAMES, LAST_NAMES, RESERVED_DOMAIN, STREETS
from handlers.lib.engines.postgresql_connection import DatabaseError, InterfaceError
from handlers.lib.masking_rules import Rule
from handlers.lib.quarantine_rules import SENTINEL_HOST, HostPolicy

PROGRESS_SCHEMA = "aurora_restore_masking"
QUERY_CANCELED = "57014"

TEXT_TYPES = ("text", "varchar", "bpchar", "citext", "name")
DATETIME_TYPES = ("date", "timestamp", "timestamptz")
JSON_TYPES = ("json", "jsonb")

CATALOG = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
               AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary
               AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum),
       greatest(c.reltuples, 0)::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type declared ON declared.oid = a.atttypid
JOIN pg_type t ON t.oid = CASE WHEN declared.typtype = 'd' THEN declared.typbasetype
                               ELSE declared.oid END
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', :progress)
  AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname, c.relname, a.attnum
"""


class PostgreSQL:
    name = "aurora-postgresql"
    default_port = 5432

    # --- plumbing ---------------------------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def table(self, schema: str, table: str) -> str:
        return f"{self.quote(schema)}.{self.quote(table)}"

    def run(self, conn: Any, statement: Statement) -> list[Sequence[Any]]:
        rows = conn.run(statement.sql, **dict(statement.params))
        return list(rows or [])

    def begin(self, conn: Any, timeout_seconds: float | None) -> None:
        conn.run("START TRANSACTION")
        if timeout_seconds is not None:
            # On the server: holds even if the invocation is stopped mid-statement.
            conn.run(f"SET LOCAL statement_timeout = {max(1, int(timeout_seconds * 1000))}")

    def commit(self, conn: Any) -> None:
        conn.run("COMMIT")

    def rollback(self, conn: Any) -> None:
        conn.run("ROLLBACK")

    def rowcount(self, conn: Any) -> int:
        return int(conn.row_count)

    def cancelled(self, exc: BaseException) -> bool:
        """A statement stopped by statement_timeout or a cancel (SQLSTATE 57014)."""
        return isinstance(exc, DatabaseError) and pgc.error_fields(exc)[0] == QUERY_CANCELED

    def describe_error(self, exc: BaseException) -> str | None:
        """`<SQLSTATE> <message>` of a database error; None for anything else."""
        if not isinstance(exc, DatabaseError):
            return None
        code, message = pgc.error_fields(exc)
        return f"{code} {message}"

    def server_error(self, exc: BaseException) -> ServerError | None:
        if not isinstance(exc, DatabaseError):
            return None
        code, message = pgc.error_fields(exc)
        return ServerError(code, message, pgc.error_position(exc), code == QUERY_CANCELED)

    def connection_lost(self, exc: BaseException) -> bool:
        return isinstance(exc, InterfaceError)

    # --- connections --------------------------------------------------------------------------

    def connect(self, target: Target, credentials: Credentials) -> Any:
        return pgc.connect(target, credentials)

    def close(self, conn: Any) -> None:
        pgc.close_quietly(conn)

    def for_target(self, target: Target) -> PostgreSQL:
        return self  # one database per cluster: schema names are the same everywhere

    def select_one(self, conn: Any) -> bool:
        return bool(conn.run("SELECT 1") == [[1]])

    # --- users, verify, drill checks, SQL files ------------------------------------------------

    def check_user_name(self, name: str) -> None:
        pgc.quote_ident(name)

    def default_schemas(self, database: str) -> list[str]:
        return ["public"]

    def reset_users(
        self, conn: Any, users: Sequence[AppUser], passwords: AppSecret, database: str,
        schemas: Sequence[str],
    ) -> dict[str, Any]:
        return postgresql_users.reset_users(conn, users, passwords, database, schemas)

    def check_table_name(self, name: str) -> None:
        pgc.quote_qualified(name)

    def table_exists(self, conn: Any, name: str) -> bool:
        quoted = pgc.quote_qualified(name)
        return bool(conn.run("SELECT to_regclass(:name) IS NOT NULL", name=quoted)[0][0])

    def rows_upto(self, conn: Any, name: str, limit: int) -> int:
        # LIMIT keeps this cheap on big tables: only "at least N" matters.
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {pgc.quote_qualified(name)} LIMIT :n) AS sample"
        return int(conn.run(sql, n=limit)[0][0])

    def truth(self, value: Any) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise TypeError(type(value).__name__)

    def session_id(self, conn: Any) -> int:
        return int(conn.run("SELECT pg_backend_pid()")[0][0])

    def cancel_session(self, conn: Any, session_id: int) -> None:
        conn.run("SELECT pg_cancel_backend(:pid)", pid=session_id)

    def run_script(
        self, conn: Any, sql: str, timeout_seconds: float | None,
        finish: Callable[[Any], None] | None,
    ) -> None:
        with pgc.transaction(conn):
            xid = conn.run("SELECT txid_current()")[0][0]
            if timeout_seconds is not None:
                # Per statement, on the server: holds even if this invocation is stopped.
                conn.run(f"SET LOCAL statement_timeout = {max(1, int(timeout_seconds * 1000))}")
            conn.run(sql)  # no parameters: the simple protocol, so a file may hold many statements
            if conn.run("SELECT txid_current_if_assigned()")[0][0] != xid:
                raise ScriptEndedTransaction
            if finish is not None:
                finish(conn)

    def reset_session(self, conn: Any) -> None:
        conn.run("DISCARD ALL")

    # --- the catalog ------------------------------------------------------------------------

    def catalog(self, conn: Any) -> list[TableInfo]:
        rows = conn.run(CATALOG, progress=PROGRESS_SCHEMA)
        tables: dict[tuple[str, str], dict[str, Any]] = {}
        for schema, table, column, type_sql, base, length, unique, primary, estimate in rows:
            entry = tables.setdefault(
                (schema, table), {"columns": [], "key": None, "key_type": None, "rows": estimate}
            )
            entry["columns"].append(
                ColumnInfo(str(column), str(type_sql), _category(str(base)),
                           int(length) if length else None, bool(unique or primary))
            )
            if primary:
                entry["key"], entry["key_type"] = str(column), str(type_sql)
        return [
            TableInfo(schema, table, tuple(e["columns"]), e["key"], e["key_type"], int(e["rows"]))
            for (schema, table), e in tables.items()
        ]

    # --- masking ----------------------------------------------------------------------------

    def hmac_sql(self, purpose: str, value_sql: str) -> str:
        """Hex HMAC-SHA256(key, '<purpose>:' || value) (the pads are parameters)."""
        message = f"convert_to('{purpose}:' || {value_sql}, 'UTF8')"
        return f"encode(sha256(:opad || sha256(:ipad || {message})), 'hex')"

    def hmac_hex(self, conn: Any, purpose: str, value: str, pads: Mapping[str, bytes]) -> str:
        sql = "SELECT " + self.hmac_sql(purpose, "CAST(:value AS text)")
        return str(conn.run(sql, value=value, **pads)[0][0])

    def _number(self, hex_sql: str) -> str:
        """A non-negative bigint from the first 60 bits of a hex hash."""
        return f"('x' || substr({hex_sql}, 1, 15))::bit(60)::bigint"

    def mask_expression(
        self, rule: Rule, column: ColumnInfo, unique_bytes: int, params: dict[str, Any]
    ) -> str:
        """SQL for the masked value of `column` (NULL stays NULL). `unique_bytes`: how many
        bytes of hash a value needs to keep a unique column unique. Raises ValueError when the
        transformer cannot work on this column."""
        c = self.quote(column.name)
        kind = rule.transformer
        if kind == "null":
            return "NULL"
        if kind == "fixed":
            name = f"fixed_{len(params)}"
            params[name] = None if rule.argument is None else _text(rule.argument)
            value = f"CAST(:{name} AS {column.type_sql})"
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"
        if kind == "date_shift":
            if column.category != DATETIME:
                raise ValueError(f"date_shift needs a date or timestamp column, not {column.type_sql}")
            days = masking_rules.shift_days(rule)
            offset = f"({self._number(self.hmac_sql('date_shift', f'{c}::text'))} % {2 * days + 1} - {days})"
            value = f"CAST({c} + make_interval(days => {offset}::int) AS {column.type_sql})"
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"
        if column.category != TEXT:
            raise ValueError(f"{kind} needs a text column, not {column.type_sql}")
        limit = column.max_length
        if kind in ("email", "hash"):
            hex_chars = 64 if kind == "hash" else 24
            room = (limit if limit else 10**6) - (0 if kind == "hash" else 2 + len(RESERVED_DOMAIN))
            hex_chars = min(hex_chars, room)
            if hex_chars < 2 * unique_bytes:
                raise ValueError(
                    f"{column.type_sql} is too short for {kind} values that keep this unique "
                    f"column unique ({2 * unique_bytes} hex characters of hash)"
                )
            if hex_chars < 8:
                raise ValueError(f"{column.type_sql} is too short for {kind} values")
            source = f"lower({c}::text)" if kind == "email" else f"{c}::text"
            digest = f"left({self.hmac_sql(kind, source)}, {hex_chars})"
            value = digest if kind == "hash" else f"'u' || {digest} || '@{RESERVED_DOMAIN}'"
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"
        if unique_bytes:
            raise ValueError(f"{kind} cannot keep a unique column unique: use hash or email")
        if kind == "redact_keep_last":
            keep = int(rule.argument)
            kept = f"right({c}::text, {keep})" if keep else "''"
            value = f"repeat('*', greatest(char_length({c}::text) - {keep}, 0)) || {kept}"
        else:
            n = self._number(self.hmac_sql(kind, f"{c}::text"))
            value = self._fake(kind, n)
        if limit:
            value = f"left({value}, {limit})"
        return f"CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"

    def _fake(self, kind: str, n: str) -> str:
        def pick(values: Sequence[str], number: str) -> str:
            array = "ARRAY[" + ", ".join(_literal(v) for v in values) + "]"
            return f"({array})[1 + ({number}) % {len(values)}]"

        if kind == "first_name":
            return pick(FIRST_NAMES, n)
        if kind == "last_name":
            return pick(LAST_NAMES, n)
        if kind == "name":
            return f"{pick(FIRST_NAMES, n)} || ' ' || {pick(LAST_NAMES, f'{n} / {len(FIRST_NAMES)}')}"
        if kind == "phone":
            return f"'+1-202-555-01' || lpad(({n} % 100)::text, 2, '0')"
        if kind == "address":
            return f"(100 + {n} % 9900)::text || ' ' || {pick(STREETS, f'{n} / 9900')}"
        raise ValueError(f"unknown transformer {kind!r}")

    # --- progress, in the database being masked (committed with each batch) ------------------

    def progress_setup(self) -> list[Statement]:
        return [
            Statement(f"CREATE SCHEMA IF NOT EXISTS {PROGRESS_SCHEMA}", {}),
            Statement(
                f"CREATE TABLE IF NOT EXISTS {PROGRESS_SCHEMA}.progress (item text PRIMARY KEY, "
                "last_key text, rows bigint NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT "
                "false)",
                {},
            ),
        ]

    def progress_read(self) -> Statement:
        return Statement(f"SELECT item, last_key, rows, done FROM {PROGRESS_SCHEMA}.progress", {})

    def progress_write(self, item: str, last_key: str | None, rows: int, done: bool) -> Statement:
        return Statement(
            f"INSERT INTO {PROGRESS_SCHEMA}.progress (item, last_key, rows, done) "
            "VALUES (:item, :last_key, :rows, :done) ON CONFLICT (item) DO UPDATE SET "
            "last_key = EXCLUDED.last_key, rows = EXCLUDED.rows, done = EXCLUDED.done",
            {"item": item, "last_key": last_key, "rows": rows, "done": done},
        )

    def progress_drop(self) -> Statement:
        return Statement(f"DROP SCHEMA IF EXISTS {PROGRESS_SCHEMA} CASCADE", {})

    def next_bound(self, table: TableInfo, last_key: str | None, batch_rows: int) -> Statement:
        assert table.key is not None
        key, name = self.quote(table.key), self.table(table.schema, table.name)
        where = "" if last_key is None else f" WHERE {key} > CAST(:last AS {table.key_type})"
        sql = (
            f"SELECT max(k)::text FROM (SELECT {key} AS k FROM {name}{where} "
            f"ORDER BY {key} LIMIT :n) batch"
        )
        return Statement(sql, {"n": batch_rows, **({} if last_key is None else {"last": last_key})})

    def masking_update(
        self, table: TableInfo, assignments: Sequence[str], params: Mapping[str, Any],
        last_key: str | None, upto: str | None,
    ) -> Statement:
        name = self.table(table.schema, table.name)
        sql = f"UPDATE {name} SET\n    " + ",\n    ".join(assignments)
        bounds: dict[str, Any] = {}
        if upto is not None:
            key = self.quote(str(table.key))
            conditions = [f"{key} <= CAST(:upto AS {table.key_type})"]
            bounds["upto"] = upto
            if last_key is not None:
                conditions.insert(0, f"{key} > CAST(:last AS {table.key_type})")
                bounds["last"] = last_key
            sql += "\nWHERE " + " AND ".join(conditions)
        return Statement(sql, {**params, **bounds})

    # --- the PII scan -------------------------------------------------------------------------

    def sample(self, table: TableInfo, columns: Sequence[str], rows: int | None) -> Statement:
        """Up to `rows` rows of `columns` as text, spread over the table (all rows: None)."""
        listed = ", ".join(f"{self.quote(c)}::text" for c in columns)
        name = self.table(table.schema, table.name)
        if rows is None:
            return Statement(f"SELECT {listed} FROM {name}", {})
        if table.rows_estimate > rows * 2:
            percent = min(100.0, 100.0 * rows * 2 / table.rows_estimate)
            sampled = f"{name} TABLESAMPLE BERNOULLI ({percent:.6f}) REPEATABLE (42)"
            return Statement(f"SELECT {listed} FROM {sampled} LIMIT :n", {"n": rows})
        return Statement(f"SELECT {listed} FROM {name} LIMIT :n", {"n": rows})

    def non_empty(self, table: TableInfo, columns: Sequence[str]) -> Statement:
        """One row: for each column, whether it holds a value that is not NULL or blank."""
        checks = ", ".join(
            f"EXISTS (SELECT 1 FROM {self.table(table.schema, table.name)} "
            f"WHERE {self.quote(c)} IS NOT NULL AND {self.quote(c)}::text <> '')"
            for c in columns
        )
        return Statement(f"SELECT {checks}", {})

    # --- the quarantine ---------------------------------------------------------------------

    def begin_read_only(self, conn: Any, timeout_seconds: float | None) -> None:
        self.begin(conn, timeout_seconds)
        conn.run("SET TRANSACTION READ ONLY")

    def quarantine_checks(self) -> tuple[BuiltinCheck, ...]:
        return QUARANTINE_CHECKS

    def quarantine_builtin(
        self, conn: Any, name: str, hosts: HostPolicy, timeout_seconds: float | None
    ) -> BuiltinResult:
        """One built-in check (QUARANTINE_CHECKS), statement by statement under a session
        statement_timeout of `timeout_seconds`; a statement it stops raises (cancelled)."""
        if timeout_seconds is not None:
            conn.run(f"SET statement_timeout = {max(1, int(timeout_seconds * 1000))}")
        try:
            return _Quarantine(self, conn, hosts).run(name)
        finally:
            if timeout_seconds is not None:
                with contextlib.suppress(Exception):
                    conn.run("RESET statement_timeout")


# --- the quarantine's built-in checks ---------------------------------------------------------

QUARANTINE_CHECKS = (
    BuiltinCheck(
        "pg_cron",
        "pg_cron jobs are disabled (cron.alter_job(job, active := false)), in the database "
        "pg_cron runs in (cron.database_name); nothing when pg_cron is not installed",
        "disable them in the restored cluster: SELECT cron.alter_job(jobid, active := false) "
        "FROM cron.job WHERE active (as the jobs' owner or rds_superuser), then run again",
    ),
    BuiltinCheck(
        "subscriptions",
        "logical replication subscriptions of this database are disabled and detached from "
        "their slot on the publisher (ALTER SUBSCRIPTION … DISABLE, SET (slot_name = NONE))",
        "ALTER SUBSCRIPTION <name> DISABLE; ALTER SUBSCRIPTION <name> SET (slot_name = NONE) "
        "as its owner (never DROP it while it names a slot: that drops the slot on the "
        "publisher)",
    ),
    BuiltinCheck(
        "replication_slots",
        "replication slots of this database carried over from production are dropped",
        "SELECT pg_drop_replication_slot('<name>') once nothing consumes it (a role with "
        "REPLICATION, rds_superuser on Aurora)",
    ),
    BuiltinCheck(
        "foreign_servers",
        "foreign servers (postgres_fdw, dblink, other FDWs) naming a host outside the lower "
        f"environment are pointed at {SENTINEL_HOST} and their user mappings (production "
        "credentials) dropped; hosts allowed: the cluster's own endpoints, localhost, "
        "quarantine.allowed_hosts",
        "as the server's owner: ALTER SERVER <name> OPTIONS (SET host '<allowed host>'), "
        "DROP USER MAPPING FOR … SERVER <name>; or DROP SERVER <name> CASCADE; or add the host "
        "to quarantine.allowed_hosts if it belongs to the lower environment",
    ),
    BuiltinCheck("event_triggers", "event triggers are listed in the report", "",
                 report_only=True),
    BuiltinCheck("publications", "publications are listed in the report", "", report_only=True),
)
HOST_OPTIONS = ("host", "hostaddr", "servername", "dbserver", "address")
PERMISSION_DENIED = "42501"


class _Quarantine:
    """The built-in checks on one connection (autocommit; a session statement_timeout)."""

    def __init__(self, engine: PostgreSQL, conn: Any, hosts: HostPolicy) -> None:
        self.engine, self.conn, self.hosts = engine, conn, hosts

    def run(self, name: str) -> BuiltinResult:
        method = getattr(self, name, None)
        if method is None or name not in {c.name for c in QUARANTINE_CHECKS}:
            raise ValueError(f"no built-in quarantine check {name!r}")
        result: BuiltinResult = method(BuiltinResult(name))
        return result

    def _try(self, result: BuiltinResult, what: str, *statements: str, **params: Any) -> bool:
        """Run `statements` in one transaction; a database error becomes a failing entry."""
        try:
            self.conn.run("START TRANSACTION")
            for sql in statements:
                self.conn.run(sql, **params)
            self.conn.run("COMMIT")
        except DatabaseError as exc:
            with contextlib.suppress(Exception):
                self.conn.run("ROLLBACK")
            if self.engine.cancelled(exc):
                raise
            result.failing.append(f"{what}: {self.engine.describe_error(exc)}")
            return False
        return True

    def pg_cron(self, result: BuiltinResult) -> BuiltinResult:
        here = str(self.conn.run("SELECT current_database()")[0][0])
        if not self.conn.run("SELECT to_regclass('cron.job') IS NOT NULL")[0][0]:
            home = self.conn.run("SELECT current_setting('cron.database_name', true)")[0][0]
            if home and str(home) != here:
                result.elsewhere = str(home)
            else:
                result.note = "pg_cron is not installed"
            return result
        alter = bool(self.conn.run("SELECT to_regproc('cron.alter_job') IS NOT NULL")[0][0])
        for jobid, jobname in self.conn.run(
            "SELECT jobid, coalesce(jobname, '') FROM cron.job WHERE active ORDER BY jobid"
        ):
            label = f"job {jobid}" + (f" ({jobname})" if jobname else "")
            sql = ("SELECT cron.alter_job(CAST(:id AS bigint), active := false)" if alter
                   else "UPDATE cron.job SET active = false WHERE jobid = :id")
            if self._try(result, f"{label} could not be disabled", sql, id=jobid):
                result.done.append(f"disabled {label}")
        left = self.conn.run("SELECT jobid FROM cron.job WHERE active ORDER BY jobid")
        if left and not result.failing:
            result.failing.append("still active: " + ", ".join(f"job {r[0]}" for r in left))
        return result

    def subscriptions(self, result: BuiltinResult) -> BuiltinResult:
        found = self.conn.run(
            "SELECT s.subname, s.subenabled, s.subslotname IS NOT NULL FROM pg_subscription s "
            "JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = current_database() "
            "ORDER BY s.subname"
        )
        for name, enabled, has_slot in found:
            quoted = self.engine.quote(str(name))
            if enabled and self._try(result, f"subscription {name} could not be disabled",
                                     f"ALTER SUBSCRIPTION {quoted} DISABLE"):
                result.done.append(f"disabled subscription {name}")
            if has_slot and self._try(
                result, f"subscription {name} could not be detached from its slot",
                f"ALTER SUBSCRIPTION {quoted} SET (slot_name = NONE)",
            ):
                result.done.append(f"detached subscription {name} from its publisher's slot")
        left = self.conn.run(
            "SELECT s.subname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid "
            "WHERE d.datname = current_database() AND (s.subenabled OR s.subslotname IS NOT NULL) "
            "ORDER BY s.subname"
        )
        if left and not result.failing:
            result.failing.append("still enabled or attached: " + ", ".join(str(r[0]) for r in left))
        return result

    def replication_slots(self, result: BuiltinResult) -> BuiltinResult:
        here = str(self.conn.run("SELECT current_database()")[0][0])
        for name, kind, active, database in self.conn.run(
            "SELECT slot_name, slot_type, active, coalesce(database, '') "
            "FROM pg_replication_slots ORDER BY slot_name"
        ):
            if database != here:
                where = f"database {database}" if database else "the whole server"
                result.listed.append(f"{kind} slot {name} ({where}): not this database's")
                continue
            if active:
                result.failing.append(f"slot {name} is in use (active): something consumes it")
                continue
            if self._try(result, f"slot {name} could not be dropped",
                         "SELECT pg_drop_replication_slot(:name)", name=name):
                result.done.append(f"dropped {kind} slot {name}")
        return result

    def foreign_servers(self, result: BuiltinResult) -> BuiltinResult:
        for name, wrapper, options in self._servers():
            hosts = {k: v for k, v in options.items() if k in HOST_OPTIONS}
            outside = self.hosts.outside(hosts.values())
            if not outside:
                where = ", ".join(hosts.values()) or "local"
                result.listed.append(f"server {name} ({wrapper}) → {where}: allowed")
                continue
            quoted = self.engine.quote(name)
            changes = ", ".join(
                "DROP hostaddr" if key == "hostaddr" else f"SET {key} '{SENTINEL_HOST}'"
                for key in hosts
            )
            drops = [
                f"DROP USER MAPPING IF EXISTS FOR {user} SERVER {quoted}"
                for user in self._mappings(name)
            ]
            if self._try(result, f"server {name} ({wrapper}) → {', '.join(outside)} could not "
                         "be quarantined", f"ALTER SERVER {quoted} OPTIONS ({changes})", *drops):
                result.done.append(
                    f"server {name} ({wrapper}) pointed {', '.join(outside)} → {SENTINEL_HOST}; "
                    f"{len(drops)} user mapping(s) dropped"
                )
        for name, wrapper, options in self._servers():
            outside = self.hosts.outside(v for k, v in options.items() if k in HOST_OPTIONS)
            quarantined = options.get("host") == SENTINEL_HOST
            if (outside or (quarantined and self._mappings(name))) and not result.failing:
                result.failing.append(f"server {name} ({wrapper}) still reaches "
                                      f"{', '.join(outside) or 'production credentials'}")
        return result

    def event_triggers(self, result: BuiltinResult) -> BuiltinResult:
        for name, event, enabled in self.conn.run(
            "SELECT evtname, evtevent, evtenabled <> 'D' FROM pg_event_trigger ORDER BY evtname"
        ):
            result.listed.append(f"event trigger {name} on {event}"
                                 + ("" if enabled else " (disabled)"))
        return result

    def publications(self, result: BuiltinResult) -> BuiltinResult:
        for (name,) in self.conn.run("SELECT pubname FROM pg_publication ORDER BY pubname"):
            result.listed.append(f"publication {name}")
        return result

    def _servers(self) -> list[tuple[str, str, dict[str, str]]]:
        found = []
        for name, wrapper, options in self.conn.run(
            "SELECT s.srvname, w.fdwname, coalesce(s.srvoptions, '{}') FROM pg_foreign_server s "
            "JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw ORDER BY s.srvname"
        ):
            pairs = dict(str(o).split("=", 1) for o in options if "=" in str(o))
            found.append((str(name), str(wrapper), pairs))
        return found

    def _mappings(self, server: str) -> list[str]:
        rows = self.conn.run(
            "SELECT umuser = 0, usename FROM pg_user_mappings WHERE srvname = :s ORDER BY usename",
            s=server,
        )
        return ["PUBLIC" if public else self.engine.quote(str(user)) for public, user in rows]


def _category(base: str) -> str:
    if base in TEXT_TYPES:
        return TEXT
    if base in DATETIME_TYPES:
        return DATETIME
    if base in JSON_TYPES:
        return JSON
    return OTHER


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


ENGINE = PostgreSQL()
