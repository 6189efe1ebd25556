"""Aurora MySQL (3, MySQL 8.0 compatible) behind the engine interface: PyMySQL with `%(name)s`
parameters (mysql_connection.py), the users step in mysql_users.py. The SQL keeps to what
MySQL 8.0 and MariaDB 10.11 both run (the tests run on MariaDB); where they differ, both
variants are here and tested (statement timeouts).

Masking matches PostgreSQL's value for value: the same transformers, the same keyed hash —
HMAC-SHA256 as `SHA2(opad || UNHEX(SHA2(ipad || message, 256)), 256)` with the pads computed
once in Python and sent as binary parameters, over the UTF-8 bytes of `<purpose>:<value>` —
the same numbers drawn from it (the first 60 bits) and the same lists of fakes.

Schemas are MySQL's databases. On a shared server (the sandbox and the tests keep many
clusters' databases on one server: `Target.shared`), the engine is bound to its target
(`for_target`): it sees only the target's own database, under the name the config gives it
(`database.name`), so rules and expected tables read the same as on AWS. On AWS (not shared) it
sees every user database of the cluster, as the PII gate must.

The masking progress is a table in the database being masked
(`aurora_restore_masking_progress`), committed with each batch and dropped at the end; the
quarantine's built-in checks are in mysql_quarantine.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from handlers.lib import db, masking_rules
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
    mysql_quarantine,
    mysql_users,
)
from handlers.lib.engines import mysql_connection as myc
from handlers.lib.engines.fakes import FIRST_NAMES, LAST_NAMES, RESERVED_DOMAIN, STREETS
from handlers.lib.errors import SettingsInvalid
from handlers.lib.masking_rules import Rule
from handlers.lib.quarantine_rules import HostPolicy

PROGRESS_TABLE = "aurora_restore_masking_progress"
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
CANCELLED = {1317, 3024, 1969}  # interrupted (KILL QUERY), MySQL's and MariaDB's timeouts
NO_SUCH_TABLE = {1146, 1049}  # no such table, no such database

TEXT_TYPES = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext")
BOUNDED_TEXT = ("char", "varchar", "tinytext")  # fakes are ASCII: bytes and characters agree
DATETIME_TYPES = ("date", "datetime", "timestamp")
JSON_TYPES = ("json",)
# What a batch key's text is cast back to (CAST knows few types); other keys: one statement.
KEY_CASTS = {
    "tinyint": "SIGNED", "smallint": "SIGNED", "mediumint": "SIGNED", "int": "SIGNED",
    "bigint": "SIGNED", "date": "DATE", "datetime": "DATETIME(6)", "timestamp": "DATETIME(6)",
    "char": None, "varchar": None,
}

COLUMNS = """
SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE,
       c.CHARACTER_MAXIMUM_LENGTH, t.TABLE_ROWS
FROM information_schema.COLUMNS c
JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_NAME <> %(progress)s AND {scope}
ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION
"""
UNIQUE_INDEXES = """
SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, MAX(COLUMN_NAME), COUNT(*)
FROM information_schema.STATISTICS
WHERE NON_UNIQUE = 0 AND {scope}
GROUP BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME
"""


class MySQL:
    name = "aurora-mysql"
    default_port = 3306

    def __init__(self, schemas: Mapping[str, str] | None = None) -> None:
        # None: every user database, under its own name. Else logical name → the database
        # on the server that stands for it (only these are seen).
        self.schemas = dict(schemas) if schemas is not None else None

    # --- names --------------------------------------------------------------------------------

    def physical(self, schema: str) -> str:
        return self.schemas.get(schema, schema) if self.schemas is not None else schema

    def logical(self, schema: str) -> str:
        if self.schemas is None:
            return schema
        return next((k for k, v in self.schemas.items() if v == schema), schema)

    def quote(self, identifier: str) -> str:
        return myc.quote_ident(identifier)

    def table(self, schema: str, table: str) -> str:
        return f"{self.quote(self.physical(schema))}.{self.quote(table)}"

    def _named(self, name: str) -> str:
        """A configured table name (`table` or `schema.table`) as SQL."""
        schema, table = db.split_qualified(name)
        return self.quote(table) if schema is None else self.table(schema, table)

    def _scope(self, column: str) -> tuple[str, dict[str, Any]]:
        if self.schemas is None:
            return f"{column} NOT IN %(system)s", {"system": SYSTEM_SCHEMAS}
        return f"{column} IN %(scope)s", {"scope": tuple(self.schemas.values()) or ("",)}

    # --- plumbing -----------------------------------------------------------------------------

    def run(self, conn: Any, statement: Statement) -> list[Sequence[Any]]:
        # Statements the engine builds always go through the formatting (quote and literal
        # double `%`); a statement taken as written (a drill check) never does.
        args = None if statement.raw else dict(statement.params)
        with conn.cursor() as cursor:
            cursor.execute(statement.sql, args)
            rows = cursor.fetchall()
        return [list(row) for row in rows or ()]

    def _run(self, conn: Any, sql: str, **params: Any) -> list[Sequence[Any]]:
        return self.run(conn, Statement(sql, params))

    def begin(self, conn: Any, timeout_seconds: float | None) -> None:
        self._statement_timeout(conn, timeout_seconds)
        self._run(conn, "START TRANSACTION")

    def _statement_timeout(self, conn: Any, seconds: float | None) -> None:
        """MariaDB stops any statement after max_statement_time; MySQL's max_execution_time
        covers SELECT only, so there a write runs on (the masking batches stay small, and the
        SQL files' watchdog cancels from a second connection)."""
        if myc.is_mariadb(conn):
            value = 0 if seconds is None else max(0.001, seconds)
            self._run(conn, f"SET SESSION max_statement_time = {value:.3f}")
        else:
            value = 0 if seconds is None else max(1, int(seconds * 1000))
            self._run(conn, f"SET SESSION max_execution_time = {int(value)}")

    def commit(self, conn: Any) -> None:
        self._run(conn, "COMMIT")

    def rollback(self, conn: Any) -> None:
        self._run(conn, "ROLLBACK")

    def rowcount(self, conn: Any) -> int:
        return int(conn.affected_rows())

    def cancelled(self, exc: BaseException) -> bool:
        return myc.is_server_error(exc) and myc.error_fields(exc)[0] in CANCELLED

    def describe_error(self, exc: BaseException) -> str | None:
        error = self.server_error(exc)
        return None if error is None else f"{error.code} {error.message}"

    def server_error(self, exc: BaseException) -> ServerError | None:
        if not myc.is_server_error(exc):
            return None
        code, message = myc.error_fields(exc)
        return ServerError(str(code), message, None, code in CANCELLED)

    def connection_lost(self, exc: BaseException) -> bool:
        return myc.is_connection_lost(exc)

    # --- connections --------------------------------------------------------------------------

    def connect(self, target: Target, credentials: Credentials) -> Any:
        return myc.connect(target, credentials)

    def close(self, conn: Any) -> None:
        myc.close_quietly(conn)

    def for_target(self, target: Target) -> MySQL:
        if not target.shared:
            return MySQL()
        return MySQL({target.configured_database or target.database: target.database})

    def select_one(self, conn: Any) -> bool:
        return bool(self._run(conn, "SELECT 1") == [[1]])

    # --- users, verify, drill checks, SQL files ------------------------------------------------

    def check_user_name(self, name: str) -> None:
        if "\x00" in name or len(name) > myc.MAX_USER_CHARS:
            raise SettingsInvalid(
                f"user name {name!r}: MySQL user names have at most {myc.MAX_USER_CHARS} characters"
            )

    def default_schemas(self, database: str) -> list[str]:
        return [database]

    def reset_users(
        self, conn: Any, users: Sequence[AppUser], passwords: AppSecret, database: str,
        schemas: Sequence[str],
    ) -> dict[str, Any]:
        return mysql_users.reset_users(self, conn, users, passwords,
                                       [self.physical(s) for s in schemas])

    def check_table_name(self, name: str) -> None:
        for part in db.split_qualified(name):
            if part is not None and len(part) > myc.MAX_IDENTIFIER_CHARS:
                raise SettingsInvalid(f"{name}: MySQL names have at most 64 characters")

    def table_exists(self, conn: Any, name: str) -> bool:
        """Tried, not looked up: information_schema hides tables the user may not read, and
        MariaDB compares its names without regard to case."""
        try:
            self._run(conn, f"SELECT 1 FROM {self._named(name)} LIMIT 0")
        except Exception as exc:
            if myc.is_server_error(exc) and myc.error_fields(exc)[0] in NO_SUCH_TABLE:
                return False
            raise
        return True

    def rows_upto(self, conn: Any, name: str, limit: int) -> int:
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {self._named(name)} LIMIT %(n)s) AS sample"
        return int(self._run(conn, sql, n=limit)[0][0])

    def begin_read_only(self, conn: Any, timeout_seconds: float | None) -> None:
        self._statement_timeout(conn, timeout_seconds)
        self._run(conn, "START TRANSACTION READ ONLY")

    def truth(self, value: Any) -> bool | None:
        """MySQL has no boolean type: a comparison is 1 or 0."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TypeError(type(value).__name__)

    def session_id(self, conn: Any) -> int:
        return int(self._run(conn, "SELECT CONNECTION_ID()")[0][0])

    def cancel_session(self, conn: Any, session_id: int) -> None:
        self._run(conn, f"KILL QUERY {int(session_id)}")

    def run_script(
        self, conn: Any, sql: str, timeout_seconds: float | None,
        finish: Callable[[Any], None] | None,
    ) -> None:
        self.begin(conn, timeout_seconds)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)  # no parameters: the file as written, many statements
                while cursor.nextset():
                    pass
            if not myc.in_transaction(conn):
                raise ScriptEndedTransaction(
                    "COMMIT/ROLLBACK in the file, or a statement MySQL commits at once: DDL, "
                    "users and grants"
                )
            if finish is not None:
                finish(conn)
            self.commit(conn)
        except BaseException:
            _rollback_quietly(self, conn)
            raise

    def reset_session(self, conn: Any) -> None:
        myc.reset_connection(conn)

    # --- the catalog --------------------------------------------------------------------------

    def catalog(self, conn: Any) -> list[TableInfo]:
        where, params = self._scope("c.TABLE_SCHEMA")
        rows = self._run(conn, COLUMNS.format(scope=where), progress=PROGRESS_TABLE, **params)
        where, params = self._scope("TABLE_SCHEMA")
        unique: set[tuple[str, str, str]] = set()
        keys: dict[tuple[str, str], str] = {}
        for schema, table, index, column, count in self._run(
            conn, UNIQUE_INDEXES.format(scope=where), **params
        ):
            if int(count) == 1:
                unique.add((str(schema), str(table), str(column)))
                if index == "PRIMARY":
                    keys[(str(schema), str(table))] = str(column)
        tables: dict[tuple[str, str], dict[str, Any]] = {}
        for schema, table, column, type_sql, base, length, estimate in rows:
            where_ = (str(schema), str(table))
            entry = tables.setdefault(where_, {"columns": [], "key": None, "key_type": None,
                                               "rows": int(estimate or 0)})
            base = str(base).lower()
            bounded = int(length) if length and base in BOUNDED_TEXT else None
            entry["columns"].append(ColumnInfo(
                str(column), str(type_sql), _category(base), bounded,
                (*where_, str(column)) in unique,
            ))
            if keys.get(where_) == column and base in KEY_CASTS:
                entry["key"], entry["key_type"] = str(column), _key_cast(base, str(type_sql))
        return [
            TableInfo(self.logical(schema), table, tuple(e["columns"]), e["key"], e["key_type"],
                      e["rows"])
            for (schema, table), e in tables.items()
        ]

    # --- masking ------------------------------------------------------------------------------

    def hmac_sql(self, purpose: str, value_sql: str) -> str:
        """Hex HMAC-SHA256(key, '<purpose>:' || value) over UTF-8 (the pads are parameters)."""
        # all binary: CONCAT of a binary pad and a text would convert the pad to text
        text = f"CONVERT(CONCAT({myc.literal(purpose + ':')}, {value_sql}) USING utf8mb4)"
        message = f"CAST({text} AS BINARY)"
        inner = f"UNHEX(SHA2(CONCAT(%(ipad)s, {message}), 256))"
        return f"LOWER(SHA2(CONCAT(%(opad)s, {inner}), 256))"

    def hmac_hex(self, conn: Any, purpose: str, value: str, pads: Mapping[str, bytes]) -> str:
        sql = "SELECT " + self.hmac_sql(purpose, "CAST(%(value)s AS CHAR)")
        return str(self._run(conn, sql, value=value, **pads)[0][0])

    def _number(self, hex_sql: str) -> str:
        """A non-negative integer from the first 60 bits of a hex hash (as PostgreSQL's)."""
        return f"CAST(CONV(SUBSTRING({hex_sql}, 1, 15), 16, 10) AS UNSIGNED)"

    def _text(self, column: str) -> str:
        return f"CAST({column} AS CHAR)"

    def mask_expression(
        self, rule: Rule, column: ColumnInfo, unique_bytes: int, params: dict[str, Any]
    ) -> str:
        """SQL for the masked value of `column` (NULL stays NULL); ValueError when the
        transformer cannot work on this column (the same refusals as PostgreSQL's)."""
        c = self.quote(column.name)
        kind = rule.transformer
        if kind == "null":
            return "NULL"
        if kind == "fixed":
            name = f"fixed_{len(params)}"
            params[name] = None if rule.argument is None else _fixed(rule.argument)
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE %({name})s END"
        if kind == "date_shift":
            if column.category != DATETIME:
                raise ValueError(f"date_shift needs a date or timestamp column, not {column.type_sql}")
            days = masking_rules.shift_days(rule)
            n = self._number(self.hmac_sql("date_shift", self._text(c)))
            offset = f"(CAST(MOD({n}, {2 * days + 1}) AS SIGNED) - {days})"
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE DATE_ADD({c}, INTERVAL {offset} DAY) END"
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
            source = f"LOWER({self._text(c)})" if kind == "email" else self._text(c)
            digest = f"LEFT({self.hmac_sql(kind, source)}, {hex_chars})"
            value = digest if kind == "hash" else (
                f"CONCAT('u', {digest}, {myc.literal('@' + RESERVED_DOMAIN)})"
            )
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"
        if unique_bytes:
            raise ValueError(f"{kind} cannot keep a unique column unique: use hash or email")
        if kind == "redact_keep_last":
            keep = int(rule.argument)
            kept = f"RIGHT({self._text(c)}, {keep})" if keep else "''"
            stars = f"REPEAT('*', GREATEST(CAST(CHAR_LENGTH({c}) AS SIGNED) - {keep}, 0))"
            value = f"CONCAT({stars}, {kept})"
        else:
            n = self._number(self.hmac_sql(kind, self._text(c)))
            value = self._fake(kind, n)
        if limit:
            value = f"LEFT({value}, {limit})"
        return f"CASE WHEN {c} IS NULL THEN NULL ELSE {value} END"

    def _fake(self, kind: str, n: str) -> str:
        def pick(values: Sequence[str], number: str) -> str:
            listed = ", ".join(myc.literal(v) for v in values)
            return f"ELT(1 + MOD({number}, {len(values)}), {listed})"

        if kind == "first_name":
            return pick(FIRST_NAMES, n)
        if kind == "last_name":
            return pick(LAST_NAMES, n)
        if kind == "name":
            return f"CONCAT({pick(FIRST_NAMES, n)}, ' ', {pick(LAST_NAMES, f'{n} DIV {len(FIRST_NAMES)}')})"
        if kind == "phone":
            return f"CONCAT('+1-202-555-01', LPAD(MOD({n}, 100), 2, '0'))"
        if kind == "address":
            return f"CONCAT(100 + MOD({n}, 9900), ' ', {pick(STREETS, f'{n} DIV 9900')})"
        raise ValueError(f"unknown transformer {kind!r}")

    # --- progress, in the database being masked (committed with each batch) ------------------

    def progress_setup(self) -> list[Statement]:
        return [Statement(
            f"CREATE TABLE IF NOT EXISTS {self.quote(PROGRESS_TABLE)} (item VARCHAR(400) NOT NULL "
            "PRIMARY KEY, last_key TEXT, `rows` BIGINT NOT NULL DEFAULT 0, done BOOLEAN NOT NULL "
            "DEFAULT FALSE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            {},
        )]

    def progress_read(self) -> Statement:
        return Statement(f"SELECT item, last_key, `rows`, done FROM {self.quote(PROGRESS_TABLE)}", {})

    def progress_write(self, item: str, last_key: str | None, rows: int, done: bool) -> Statement:
        # VALUES() in ON DUPLICATE KEY UPDATE: MySQL 8 deprecates it (a warning) for an alias
        # MariaDB does not know; both run it.
        return Statement(
            f"INSERT INTO {self.quote(PROGRESS_TABLE)} (item, last_key, `rows`, done) "
            "VALUES (%(item)s, %(last_key)s, %(rows)s, %(done)s) ON DUPLICATE KEY UPDATE "
            "last_key = VALUES(last_key), `rows` = VALUES(`rows`), done = VALUES(done)",
            {"item": item, "last_key": last_key, "rows": rows, "done": done},
        )

    def progress_drop(self) -> Statement:
        return Statement(f"DROP TABLE IF EXISTS {self.quote(PROGRESS_TABLE)}", {})

    def _key(self, table: TableInfo, parameter: str) -> str:
        cast = table.key_type
        return f"%({parameter})s" if not cast else f"CAST(%({parameter})s AS {cast})"

    def next_bound(self, table: TableInfo, last_key: str | None, batch_rows: int) -> Statement:
        assert table.key is not None
        key, name = self.quote(table.key), self.table(table.schema, table.name)
        where = "" if last_key is None else f" WHERE {key} > {self._key(table, 'last')}"
        sql = (
            f"SELECT CAST(MAX(k) AS CHAR) FROM (SELECT {key} AS k FROM {name}{where} "
            f"ORDER BY {key} LIMIT %(n)s) AS batch"
        )
        return Statement(sql, {"n": batch_rows, **({} if last_key is None else {"last": last_key})})

    def masking_update(
        self, table: TableInfo, assignments: Sequence[str], params: Mapping[str, Any],
        last_key: str | None, upto: str | None,
    ) -> Statement:
        # Each assignment reads only its own column, so MySQL's left-to-right evaluation of
        # SET (a later assignment sees an earlier one's new value) changes nothing.
        name = self.table(table.schema, table.name)
        sql = f"UPDATE {name} SET\n    " + ",\n    ".join(assignments)
        bounds: dict[str, Any] = {}
        if upto is not None:
            key = self.quote(str(table.key))
            conditions = [f"{key} <= {self._key(table, 'upto')}"]
            bounds["upto"] = upto
            if last_key is not None:
                conditions.insert(0, f"{key} > {self._key(table, 'last')}")
                bounds["last"] = last_key
            sql += "\nWHERE " + " AND ".join(conditions)
        return Statement(sql, {**params, **bounds})

    # --- the PII scan -------------------------------------------------------------------------

    def sample(self, table: TableInfo, columns: Sequence[str], rows: int | None) -> Statement:
        """Up to `rows` rows of `columns` as text, spread over the table (all rows: None)."""
        listed = ", ".join(self._text(self.quote(c)) for c in columns)
        name = self.table(table.schema, table.name)
        if rows is None:
            return Statement(f"SELECT {listed} FROM {name}", {})
        if table.rows_estimate > rows * 2:
            fraction = min(1.0, rows * 2 / table.rows_estimate)
            sampled = f"{name} WHERE RAND(42) < {fraction:.6f}"
            return Statement(f"SELECT {listed} FROM {sampled} LIMIT %(n)s", {"n": rows})
        return Statement(f"SELECT {listed} FROM {name} LIMIT %(n)s", {"n": rows})

    def non_empty(self, table: TableInfo, columns: Sequence[str]) -> Statement:
        """One row: for each column, whether it holds a value that is not NULL or blank."""
        name = self.table(table.schema, table.name)
        checks = ", ".join(
            f"EXISTS (SELECT 1 FROM {name} WHERE {self.quote(c)} IS NOT NULL "
            f"AND {self._text(self.quote(c))} <> '')"
            for c in columns
        )
        return Statement(f"SELECT {checks}", {})

    # --- the quarantine (mysql_quarantine.py) ---------------------------------------------------

    def quarantine_checks(self) -> tuple[BuiltinCheck, ...]:
        return mysql_quarantine.QUARANTINE_CHECKS

    def quarantine_builtin(
        self, conn: Any, name: str, hosts: HostPolicy, timeout_seconds: float | None
    ) -> BuiltinResult:
        """One built-in check, its statements under the session's statement timeout (where
        the server has one: MariaDB's covers writes, MySQL's only reads)."""
        self._statement_timeout(conn, timeout_seconds)
        try:
            return mysql_quarantine.MySQLQuarantine(self, conn, hosts, self._scope).run(name)
        finally:
            with contextlib.suppress(Exception):  # a lost connection: the error above matters
                self._statement_timeout(conn, None)


def _category(base: str) -> str:
    if base in TEXT_TYPES:
        return TEXT
    if base in DATETIME_TYPES:
        return DATETIME
    if base in JSON_TYPES:
        return JSON
    return OTHER


def _key_cast(base: str, type_sql: str) -> str | None:
    cast = KEY_CASTS[base]
    if cast == "SIGNED" and "unsigned" in type_sql.lower():
        return "UNSIGNED"
    return cast


def _fixed(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def _rollback_quietly(engine: MySQL, conn: Any) -> None:
    try:
        engine.rollback(conn)
    except Exception:  # a lost connection is rolled back by the server
        return


ENGINE = MySQL()
