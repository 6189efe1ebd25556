"""The database engines behind one interface (`Engine`): how a step connects (each engine's own
connection layer and driver), what the masking rules compile to, the catalog the PII scan and
the rules read, the samples the scan takes, how application users are reset, what the verify
step and the drill checks ask, how the hand-written SQL files run, and the quarantine's
built-in checks (production's side effects the engine knows: scheduled jobs, replication,
foreign servers). One module per engine (`postgresql.py`, `mysql.py`, with their connection
and users helpers beside them); a step picks its engine by the target's `engine` setting
(`engine_for`), never by testing engine names inline: a third engine is one more module and
one more line in MODULES.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers.lib.app_users import AppUser
from handlers.lib.db import AppSecret, Credentials, Target
from handlers.lib.errors import SettingsInvalid
from handlers.lib.masking_rules import Rule
from handlers.lib.quarantine_rules import HostPolicy

MODULES = {"aurora-postgresql": "postgresql", "aurora-mysql": "mysql"}

TEXT, DATETIME, JSON, OTHER = "text", "datetime", "json", "other"


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type_sql: str  # as the catalog spells it, e.g. "character varying(40)"
    category: str  # TEXT, DATETIME, JSON or OTHER
    max_length: int | None  # characters, for bounded text types
    unique: bool  # the primary key or a single-column unique index


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    columns: tuple[ColumnInfo, ...]
    key: str | None  # a single-column primary key (batches follow it), else None
    key_type: str | None
    rows_estimate: int

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Mapping[str, Any]
    raw: bool = False  # SQL taken as written (a drill check): never formatted with parameters


@dataclass(frozen=True)
class ServerError:
    """A server's error, as the steps report it: its code (SQLSTATE, or MySQL's error number),
    its primary message (never DETAIL: it can hold row data), where in the SQL, and whether a
    timeout or a cancel stopped the statement."""

    code: str
    message: str
    position: int | None = None  # 1-based character offset in the SQL, when the server says
    cancelled: bool = False


class ScriptEndedTransaction(Exception):
    """A hand-written SQL file ended the transaction the pipeline runs it in."""


@dataclass(frozen=True)
class BuiltinCheck:
    """One built-in quarantine check of an engine: what it does and how a human fixes what
    it could not. `report_only`: it lists what it finds and never fails the run."""

    name: str
    does: str
    fix: str
    report_only: bool = False


@dataclass
class BuiltinResult:
    """What one built-in check did (`done`), what still fails it (`failing`, which fails the
    run before the swap), what it only reports (`listed`). Names only, never data or secrets.
    `elsewhere`: the check must run in that database instead (e.g. pg_cron's own)."""

    name: str
    done: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    note: str = ""
    elsewhere: str | None = None
    database: str | None = None  # where it ran, when not the restored database itself

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {k: v for k, v in (("done", self.done), ("failing", self.failing),
                                                    ("listed", self.listed)) if v}
        if self.note:
            found["note"] = self.note
        if self.database:
            found["database"] = self.database
        return found


class Engine(Protocol):
    """What the database steps need of a database engine."""

    name: str
    default_port: int

    # --- connections (the engine's own connection layer) ------------------------------------

    def connect(self, target: Target, credentials: Credentials) -> Any:
        """Over verified TLS (unless the target switches TLS off); DatabaseUnreachable, or
        DatabaseLoginFailed for a refused login (no password in the message)."""
        ...

    def close(self, conn: Any) -> None: ...

    def for_target(self, target: Target) -> Engine:
        """This engine for one target: names in the settings mapped to what the server holds
        (the sandbox keeps several clusters' databases on one server)."""
        ...

    def select_one(self, conn: Any) -> bool: ...

    def server_error(self, exc: BaseException) -> ServerError | None:
        """The server's error behind `exc`; None for anything else."""
        ...

    def connection_lost(self, exc: BaseException) -> bool: ...

    # --- names and users ----------------------------------------------------------------------

    def check_user_name(self, name: str) -> None:
        """SettingsInvalid for a user name the engine would truncate or cannot store."""
        ...

    def default_schemas(self, database: str) -> list[str]: ...

    def reset_users(
        self, conn: Any, users: Sequence[AppUser], passwords: AppSecret, database: str,
        schemas: Sequence[str],
    ) -> dict[str, Any]:
        """Create or alter every user (password from the app secret), give it exactly its
        privileges on `schemas`, check what it can really do; all or nothing. UserResetFailed
        names the user and the reason."""
        ...

    # --- verify and the drill checks --------------------------------------------------------------

    def check_table_name(self, name: str) -> None: ...

    def table_exists(self, conn: Any, name: str) -> bool: ...

    def rows_upto(self, conn: Any, name: str, limit: int) -> int:
        """min(rows of table `name`, limit), cheaply."""
        ...

    def begin_read_only(self, conn: Any, timeout_seconds: float | None) -> None:
        """A READ ONLY transaction whose statements the server stops after `timeout_seconds`
        (drill checks, the quarantine's checks)."""
        ...

    def truth(self, value: Any) -> bool | None:
        """A check's value as a boolean (None: NULL); TypeError for anything else."""
        ...

    # --- hand-written SQL files -----------------------------------------------------------------

    def session_id(self, conn: Any) -> int: ...

    def cancel_session(self, conn: Any, session_id: int) -> None:
        """From a second connection: stop what session `session_id` is running."""
        ...

    def run_script(
        self, conn: Any, sql: str, timeout_seconds: float | None,
        finish: Callable[[Any], None] | None,
    ) -> None:
        """The whole file (many statements) and `finish(conn)` in one transaction, each
        statement stopped by the server after `timeout_seconds` where the engine can; raises
        ScriptEndedTransaction when the file ended the transaction itself."""
        ...

    def reset_session(self, conn: Any) -> None:
        """Forget whatever a script SET or created as temporary."""
        ...

    # --- masking and the PII scan ---------------------------------------------------------------

    def quote(self, identifier: str) -> str: ...

    def table(self, schema: str, table: str) -> str: ...

    def run(self, conn: Any, statement: Statement) -> list[Sequence[Any]]: ...

    def begin(self, conn: Any, timeout_seconds: float | None) -> None: ...

    def commit(self, conn: Any) -> None: ...

    def rollback(self, conn: Any) -> None: ...

    def catalog(self, conn: Any) -> list[TableInfo]: ...

    def mask_expression(
        self, rule: Rule, column: ColumnInfo, unique_bytes: int, params: dict[str, Any]
    ) -> str: ...

    def hmac_hex(self, conn: Any, purpose: str, value: str, pads: Mapping[str, bytes]) -> str: ...

    def progress_setup(self) -> list[Statement]: ...

    def progress_read(self) -> Statement: ...

    def progress_write(self, item: str, last_key: str | None, rows: int, done: bool) -> Statement: ...

    def progress_drop(self) -> Statement: ...

    def next_bound(self, table: TableInfo, last_key: str | None, batch_rows: int) -> Statement: ...

    def masking_update(
        self, table: TableInfo, assignments: Sequence[str], params: Mapping[str, Any],
        last_key: str | None, upto: str | None,
    ) -> Statement: ...

    def rowcount(self, conn: Any) -> int: ...

    def cancelled(self, exc: BaseException) -> bool: ...

    def describe_error(self, exc: BaseException) -> str | None: ...

    def sample(self, table: TableInfo, columns: Sequence[str], rows: int | None) -> Statement: ...

    def non_empty(self, table: TableInfo, columns: Sequence[str]) -> Statement: ...

    # --- the quarantine (lib/quarantine.py) ---

    def quarantine_checks(self) -> tuple[BuiltinCheck, ...]: ...

    def quarantine_builtin(
        self, conn: Any, name: str, hosts: HostPolicy, timeout_seconds: float | None
    ) -> BuiltinResult: ...


def commit_statements(engine: Engine, conn: Any, statements: Sequence[Statement]) -> None:
    """Run `statements` in one transaction and commit it; on any error, roll back and raise."""
    engine.begin(conn, None)
    try:
        for statement in statements:
            engine.run(conn, statement)
        engine.commit(conn)
    except Exception:
        rollback_quietly(engine, conn)
        raise


def rollback_quietly(engine: Engine, conn: Any) -> None:
    """Roll back, keeping the error that led here: a lost connection is rolled back by the
    server anyway."""
    with contextlib.suppress(Exception):
        engine.rollback(conn)


def engine_for(name: str) -> Engine:
    """The engine module's ENGINE for `target.engine` (not yet bound to a target)."""
    module = MODULES.get(name)
    if module is None:
        raise SettingsInvalid(f"no database engine module for {name!r}")
    found: Engine = importlib.import_module(f"handlers.lib.engines.{module}").ENGINE
    return found
