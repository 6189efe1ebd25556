"""Masking in the restored database: the hand-written SQL files and the declared rules, set-based,
in batches by key range, resumable across invocations and retries.

One invocation of the masking step does what fits in its time: the `before` files, then each
table's rules (`masking_rules.py`) compiled to one UPDATE per batch of `batch_rows` rows along
the table's primary key, then the `after` files. Every unit of work commits together with its
progress record, kept in the database being masked (`aurora_restore_masking.progress`), so a
retry — of an invocation that died after a commit — resumes after the last committed batch and
never masks a row twice (masking twice would not give the same values: the fakes are keyed
hashes of the original). When everything is done, the progress schema is dropped.

A table without a single-column primary key, or whose rules rewrite that key, is masked in one
statement. Rules are checked against the catalog before anything is written: a missing table or
column, a transformer the column's type cannot take, or one that cannot keep a unique column
unique fails the step with the rule named and the database untouched.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.lib import masking_rules, sql_files
from handlers.lib.engines import Engine, TableInfo, commit_statements, rollback_quietly
from handlers.lib.errors import MaskingIncomplete, MaskingRuleInvalid
from handlers.lib.masking_rules import Rule

DEFAULT_BATCH_ROWS = 50_000
UNIQUE_HASH_BYTES = 12  # 96 bits: no collision in any real table (the unique index would say so)
BLOCK = 64  # SHA-256's block size, for HMAC's pads


@dataclass(frozen=True)
class Plan:
    rules: tuple[Rule, ...]
    before: tuple[str, ...] = ()  # hand-written SQL files run before the rules
    after: tuple[str, ...] = ()  # … and after them
    batch_rows: int = DEFAULT_BATCH_ROWS

    @property
    def empty(self) -> bool:
        return not (self.before or self.after or any(r.writes for r in self.rules))


@dataclass(frozen=True)
class TableJob:
    table: TableInfo
    assignments: tuple[str, ...]
    params: Mapping[str, Any]
    batched: bool

    @property
    def item(self) -> str:
        return f"table {self.table.schema}.{self.table.name}"


@dataclass
class Outcome:
    done: bool = False
    batches: int = 0
    files: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        return {"done": self.done, "batches": self.batches, "files": self.files,
                "tables": self.tables}


def plan_from_settings(settings: Mapping[str, Any]) -> Plan:
    masking = settings.get("masking") or {}
    files = sql_files.configured_scripts(settings)
    before = masking.get("sql_files") == "before"
    try:
        rules = tuple(masking_rules.rule_from_json(r) for r in masking.get("rules") or [])
    except (KeyError, ValueError) as exc:
        raise MaskingRuleInvalid(f"settings.masking.rules: {exc}") from None
    return Plan(
        rules=rules,
        before=tuple(files) if before else (),
        after=() if before else tuple(files),
        batch_rows=int(masking.get("batch_rows") or DEFAULT_BATCH_ROWS),
    )


def pads(key: bytes) -> dict[str, bytes]:
    """HMAC-SHA256's inner and outer pads of `key` (RFC 2104), as the engines' SQL takes them."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in key), "opad": bytes(b ^ 0x5C for b in key)}


def key_from_secret(value: str) -> bytes:
    """The masking key from its secret (`{"key": "<hex>"}`); never logged."""
    try:
        key = bytes.fromhex(str(json.loads(value)["key"]))
    except (ValueError, KeyError, TypeError):
        raise MaskingRuleInvalid(
            "the masking secret must be {\"key\": \"<hex>\"} (setup creates it)"
        ) from None
    if len(key) < 16:
        raise MaskingRuleInvalid("the masking key is shorter than 16 bytes")
    return key


def compile_jobs(engine: Engine, rules: Sequence[Rule], catalog: Sequence[TableInfo],
                 key: Mapping[str, bytes]) -> list[TableJob]:
    """One job per table with rules that write; MaskingRuleInvalid names the first bad rule."""
    tables = {(t.schema, t.name): t for t in catalog}
    by_table: dict[tuple[str, str], list[Rule]] = {}
    for rule in rules:
        if rule.writes:
            by_table.setdefault((rule.column.schema, rule.column.table), []).append(rule)
    jobs = []
    for where, table_rules in sorted(by_table.items()):
        table = tables.get(where)
        if table is None:
            raise MaskingRuleInvalid(
                f"rule {table_rules[0].column}: no table {table_rules[0].column.table_name} in "
                "the restored database"
            )
        params: dict[str, Any] = dict(key)
        assignments = []
        for rule in table_rules:
            column = table.column(rule.column.column)
            if column is None:
                raise MaskingRuleInvalid(
                    f"rule {rule.column}: the table has no column {rule.column.column!r}"
                )
            unique = UNIQUE_HASH_BYTES if column.unique else 0
            try:
                value = engine.mask_expression(rule, column, unique, params)
            except ValueError as exc:
                raise MaskingRuleInvalid(f"rule {rule.column} ({rule.describe()}): {exc}") from None
            assignments.append(f"{engine.quote(column.name)} = {value}")
        writes_key = any(r.column.column == table.key for r in table_rules)
        jobs.append(TableJob(table, tuple(assignments), params, table.key is not None
                             and not writes_key))
    return jobs


class Deadline:
    """The invocation's time for masking (None: no limit), and what the last batch took."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.end = None if seconds is None else clock() + seconds
        self.last_batch = 0.0

    def left(self) -> float | None:
        return None if self.end is None else self.end - self.clock()

    def room_for_a_batch(self, first: bool) -> bool:
        left = self.left()
        # The first unit always starts (else nothing would ever progress); later ones only if
        # one more like the last fits, with room to spare.
        return left is None or (left > 0 and (first or left > 1.5 * self.last_batch))


def run(conn: Any, engine: Engine, plan: Plan, key: Mapping[str, bytes], deadline: Deadline,
        sql_dir: Path, cancel: Callable[[int], None] = lambda pid: None) -> Outcome:
    """Mask as much as fits before the deadline; Outcome.done when all of it is done.
    `cancel(pid)` stops a hand-written file's statement from a second connection."""
    jobs = compile_jobs(engine, plan.rules, engine.catalog(conn), key)  # all checked first
    commit_statements(engine, conn, engine.progress_setup())
    progress = {str(r[0]): (r[1], int(r[2]), bool(r[3]))
                for r in engine.run(conn, engine.progress_read())}
    outcome = Outcome()
    first = True
    if not _files(conn, engine, "before", plan.before, progress, sql_dir, deadline, cancel,
                  outcome):
        return outcome
    for job in jobs:
        last_key, rows, done = progress.get(job.item, (None, 0, False))
        while not done:
            if not deadline.room_for_a_batch(first):
                outcome.tables[job.item] = {"rows": rows, "done": False}
                return outcome
            first = False
            last_key, rows, done = _batch(conn, engine, job, last_key, rows, plan.batch_rows,
                                          deadline)
            outcome.batches += 1
        outcome.tables[job.item] = {"rows": rows, "done": True}
    if not _files(conn, engine, "after", plan.after, progress, sql_dir, deadline, cancel, outcome):
        return outcome
    commit_statements(engine, conn, [engine.progress_drop()])
    outcome.done = True
    return outcome


def _batch(conn: Any, engine: Engine, job: TableJob, last_key: str | None, rows: int,
           batch_rows: int, deadline: Deadline) -> tuple[str | None, int, bool]:
    """One batch in one transaction with its progress record: (last key, rows, done)."""
    started = deadline.clock()
    engine.begin(conn, deadline.left())
    try:
        upto = None
        if job.batched:
            found = engine.run(conn, engine.next_bound(job.table, last_key, batch_rows))
            upto = found[0][0] if found else None
            if upto is None:  # nothing after the last batch: the table is done
                engine.run(conn, engine.progress_write(job.item, last_key, rows, True))
                engine.commit(conn)
                return last_key, rows, True
        engine.run(conn, engine.masking_update(job.table, job.assignments, job.params, last_key,
                                               upto))
        rows += engine.rowcount(conn)
        done = not job.batched
        engine.run(conn, engine.progress_write(job.item, upto, rows, done))
        engine.commit(conn)
    except Exception as exc:
        rollback_quietly(engine, conn)
        raise _named(engine, exc, job) from None
    deadline.last_batch = deadline.clock() - started
    return upto, rows, done


def _files(conn: Any, engine: Engine, phase: str, names: Sequence[str],
           progress: Mapping[str, tuple[Any, int, bool]], sql_dir: Path, deadline: Deadline,
           cancel: Callable[[int], None], outcome: Outcome) -> bool:
    """Run the phase's files not yet done; False when time ran out before one of them."""
    todo = [n for n in names if not progress.get(f"sql {phase} {n}", (None, 0, False))[2]]
    if not todo:
        return True
    left = deadline.left()
    if left is not None and left <= 0:
        return False

    def finish(c: Any, path: Path) -> None:
        engine.run(c, engine.progress_write(f"sql {phase} {path.name}", None, 0, True))

    scripts = sql_files.locate_scripts(todo, sql_dir)
    limit = None if left is None else sql_files.TimeLimit(left, cancel)
    ran = sql_files.run_scripts(engine, conn, scripts, limit, finish)
    outcome.files += [f"{phase}: {r['file']}" for r in ran]
    return True


def _named(engine: Engine, exc: Exception, job: TableJob) -> Exception:
    if engine.cancelled(exc):
        return MaskingIncomplete(
            f"{job.item}: a batch did not finish in this invocation's time and was rolled "
            "back: lower masking.batch_rows or raise lambda.timeout_seconds"
        )
    described = engine.describe_error(exc)
    if described is None:
        return exc
    return MaskingRuleInvalid(f"{job.item}: {described}")
