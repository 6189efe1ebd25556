"""Aurora PostgreSQL behind the engine interface (pg8000's native API, `:name` parameters; the
connection layer is postgresql_connection.py, the users step postgresql_users.py).

Masking expressions are plain SQL over built-in functions: the keyed hash is HMAC-SHA256
computed as `sha256(opad || sha256(ipad || message))`, where the pads are the key XOR-ed
with HMAC's constants, computed once in Python and sent as bytea parameters. No extension
(pgcrypto, anon) is needed, so Aurora's defaults are enough.
"""

from __future__ import annotations

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

    def begin_read_only(self, conn: Any, timeout_ms: int) -> None:
        conn.run("START TRANSACTION")
        conn.run("SET TRANSACTION READ ONLY")
        conn.run(f"SET LOCAL statement_timeout = {int(timeout_ms)}")

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
