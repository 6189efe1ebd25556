"""The database engines behind one interface (`Engine`): what the masking rules compile to,
the catalog the PII scan and the rules read, the samples the scan takes. One module per engine;
a step picks its engine by the target's `engine` setting (`engine_for`), never by testing
engine names inline.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from handlers.lib.errors import SettingsInvalid
from handlers.lib.masking_rules import Rule

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


class Engine(Protocol):
    """What the masking and PII-scan steps need of a database engine."""

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


def engine_for(name: str) -> Engine:
    module = MODULES.get(name)
    if module is None:
        raise SettingsInvalid(f"no database engine module for {name!r}")
    found: Engine = importlib.import_module(f"handlers.lib.engines.{module}").ENGINE
    return found
