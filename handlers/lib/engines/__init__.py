"""The database engines behind one interface (`Engine`): what the masking rules compile to,
the catalog the PII scan and the rules read, the samples the scan takes, and the quarantine's
built-in checks (production's side effects the engine knows: scheduled jobs, replication,
foreign servers). One module per engine;
a step picks its engine by the target's `engine` setting (`engine_for`), never by testing
engine names inline.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers.lib.errors import SettingsInvalid
from handlers.lib.masking_rules import Rule
from handlers.lib.quarantine_rules import HostPolicy

MODULES = {"aurora-postgresql": "postgresql"}

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
    """What the masking, PII-scan and quarantine steps need of a database engine."""

    name: str

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

    def begin_read_only(self, conn: Any, timeout_seconds: float | None) -> None: ...

    def quarantine_checks(self) -> tuple[BuiltinCheck, ...]: ...

    def quarantine_builtin(
        self, conn: Any, name: str, hosts: HostPolicy, timeout_seconds: float | None
    ) -> BuiltinResult: ...


def engine_for(name: str) -> Engine:
    module = MODULES.get(name)
    if module is None:
        raise SettingsInvalid(f"no database engine module for {name!r}")
    found: Engine = importlib.import_module(f"handlers.lib.engines.{module}").ENGINE
    return found
