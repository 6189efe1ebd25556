"""The quarantine in the restored database: production's side effects made harmless before the
swap — the declared rules (`quarantine.rules`, lib/quarantine_rules.py), the engine's built-in
checks (`Engine.quarantine_checks`: scheduled jobs, replication, foreign servers), and every
rule's check. Fail-closed: anything that does not pass fails the run, the target untouched.

One invocation of the quarantine step does what fits in its time, like masking (lib/masking.py):

1. each rule not yet done, in order: its statements in one transaction, committed together with
   its row in the progress table (the masking's, `aurora_restore_masking.progress`, item
   `quarantine <name>`), so a retried invocation never runs a rule twice; a `repeat` rule runs
   its one statement again, one transaction (and one progress row) each, until it changes no
   row. Every transaction runs under `statement_timeout` = the time left: a statement that
   would outlive the invocation is stopped by the server and fails the run, naming the rule;
2. when every rule is done: the built-in checks (idempotent: each acts, then checks itself),
   then every rule's check in a read-only transaction; any failure raises QuarantineFailed
   naming each failing rule or check with its fix; then the progress schema is dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.lib import quarantine_rules
from handlers.lib.engines import (
    BuiltinResult,
    Engine,
    Statement,
    commit_statements,
    rollback_quietly,
)
from handlers.lib.errors import QuarantineFailed, QuarantineRuleInvalid
from handlers.lib.masking import Deadline
from handlers.lib.quarantine_rules import HostPolicy, Rule

PROGRESS_PREFIX = "quarantine "
MAX_LISTED = 20

OpenDatabase = Callable[[str], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class Plan:
    rules: tuple[Rule, ...]
    hosts: HostPolicy


@dataclass
class Outcome:
    done: bool = False
    transactions: int = 0
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    builtins: list[BuiltinResult] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "transactions": self.transactions,
            "rules": self.rules,
            "builtins": {b.name: b.to_json() for b in self.builtins},
            "checks_passed": self.checks_passed,
        }

    def summary(self) -> dict[str, Any]:
        """Counts for the document (history, the success notification)."""
        return {
            "rules": len(self.rules),
            "rows": sum(int(r.get("rows") or 0) for r in self.rules.values()),
            "checks_passed": len(self.checks_passed),
            "neutralised": sum(len(b.done) for b in self.builtins),
            "listed": [item for b in self.builtins for item in b.listed][:MAX_LISTED],
        }


def plan_from_settings(settings: Mapping[str, Any], own: Sequence[str]) -> Plan:
    section = settings.get("quarantine") or {}
    try:
        rules = tuple(quarantine_rules.rule_from_json(r) for r in section.get("rules") or [])
        allowed = tuple(quarantine_rules.check_host_pattern(h)
                        for h in section.get("allowed_hosts") or [])
    except ValueError as exc:
        raise QuarantineRuleInvalid(f"settings.quarantine: {exc}") from None
    return Plan(rules, HostPolicy(tuple(own), allowed))


def run(conn: Any, engine: Engine, plan: Plan, deadline: Deadline,
        open_database: OpenDatabase | None = None) -> Outcome:
    """Quarantine as much as fits before the deadline; Outcome.done when all of it passed.
    `open_database(name)`: a connection to another database of the cluster (pg_cron's)."""
    commit_statements(engine, conn, engine.progress_setup())
    progress = {str(r[0]): (int(r[2]), bool(r[3]))
                for r in engine.run(conn, engine.progress_read())
                if str(r[0]).startswith(PROGRESS_PREFIX)}
    outcome = Outcome()
    first = True
    for rule in plan.rules:
        rows, done = progress.get(PROGRESS_PREFIX + rule.name, (0, False))
        while not done:
            if not deadline.room_for_a_batch(first):
                outcome.rules[rule.name] = {"rows": rows, "done": False}
                return outcome
            first = False
            rows, done = _unit(conn, engine, rule, rows, deadline)
            outcome.transactions += 1
        outcome.rules[rule.name] = {"rows": rows, "done": True}
    if not deadline.room_for_a_batch(first):
        return outcome
    failures = _builtins(conn, engine, plan.hosts, deadline, outcome, open_database)
    failures += _checks(conn, engine, plan.rules, deadline, outcome)
    if failures:
        raise QuarantineFailed(
            f"{len(failures)} quarantine check(s) failed, so the run stops before the swap "
            "(the target is untouched): " + "; ".join(failures)
        )
    commit_statements(engine, conn, [engine.progress_drop()])
    outcome.done = True
    return outcome


def _unit(conn: Any, engine: Engine, rule: Rule, rows: int,
          deadline: Deadline) -> tuple[int, bool]:
    """The rule's statements in one transaction with its progress row: (rows so far, done)."""
    started = deadline.clock()
    engine.begin(conn, deadline.left())
    changed = 0
    number = 0
    try:
        for sql in rule.statements:
            number += 1
            engine.run(conn, _statement(sql))
            changed += max(0, engine.rowcount(conn))
        done = not rule.repeat or changed == 0
        engine.run(conn, engine.progress_write(PROGRESS_PREFIX + rule.name, None, rows + changed,
                                               done))
        engine.commit(conn)
    except Exception as exc:
        rollback_quietly(engine, conn)
        raise _named(engine, exc, rule, number) from None
    deadline.last_batch = deadline.clock() - started
    return rows + changed, done


def _builtins(conn: Any, engine: Engine, hosts: HostPolicy, deadline: Deadline,
              outcome: Outcome, open_database: OpenDatabase | None) -> list[str]:
    failures = []
    for check in engine.quarantine_checks():
        try:
            result = engine.quarantine_builtin(conn, check.name, hosts, deadline.left())
            if result.elsewhere:
                result = _elsewhere(engine, check.name, hosts, deadline, result, open_database)
        except Exception as exc:
            if engine.cancelled(exc):
                raise QuarantineFailed(
                    f"built-in check {check.name} did not finish in this invocation's time: "
                    "raise lambda.timeout_seconds"
                ) from None
            described = engine.describe_error(exc)
            if described is None:
                raise
            result = BuiltinResult(check.name, failing=[f"could not be read: {described}"])
        outcome.builtins.append(result)
        if result.failing:
            failures.append(
                f"built-in check {check.name}: {'; '.join(result.failing[:MAX_LISTED])} "
                f"(fix: {check.fix})"
            )
        elif not check.report_only:
            outcome.checks_passed.append(f"builtin {check.name}")
    return failures


def _elsewhere(engine: Engine, name: str, hosts: HostPolicy, deadline: Deadline,
               found: BuiltinResult, open_database: OpenDatabase | None) -> BuiltinResult:
    database = str(found.elsewhere)
    if open_database is None:
        return BuiltinResult(name, failing=[f"it runs in database {database}, which this step "
                                            "cannot open"])
    with open_database(database) as other:
        result = engine.quarantine_builtin(other, name, hosts, deadline.left())
    result.database = database
    result.elsewhere = None
    return result


def _checks(conn: Any, engine: Engine, rules: Sequence[Rule], deadline: Deadline,
            outcome: Outcome) -> list[str]:
    failures = []
    for rule in rules:
        engine.begin_read_only(conn, deadline.left())
        try:
            rows = engine.run(conn, _statement(rule.check))
        except Exception as exc:
            rollback_quietly(engine, conn)
            if engine.cancelled(exc):
                failures.append(f"rule {rule.name}: its check did not finish in time")
                continue
            described = engine.describe_error(exc)
            if described is None:
                raise
            failures.append(f"rule {rule.name}: its check failed: {described}")
            continue
        engine.rollback(conn)  # read only: nothing to keep
        # MySQL's true is 1, like any count: there only "no row" passes (fail-closed)
        passed, shown = quarantine_rules.check_verdict(rows)
        if passed:
            outcome.checks_passed.append(f"rule {rule.name}")
        else:
            failures.append(
                f"rule {rule.name}: its check returned {shown} (it must return no row, or one "
                "row holding true): fix the rule's sql, or the data it cannot handle"
            )
    return failures


def _statement(sql: str) -> Statement:
    return Statement(sql, {}, raw=True)  # as written: no parameters (a `%` is a `%`)


def _named(engine: Engine, exc: Exception, rule: Rule, number: int) -> Exception:
    where = f"rule {rule.name}" + (f", statement {number}" if len(rule.statements) > 1 else "")
    if engine.cancelled(exc):
        return QuarantineFailed(
            f"{where} did not finish in this invocation's time and was rolled back: make it "
            "a bounded statement with repeat: true, or raise lambda.timeout_seconds"
        )
    described = engine.describe_error(exc)
    if described is None:
        return exc
    return QuarantineFailed(f"{where} failed and was rolled back: {described}")
