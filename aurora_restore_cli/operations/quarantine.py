"""`aurora-restore quarantine plan`: the declared quarantine rules and the engine's built-in
checks, as the quarantine step will run them before the swap. No AWS call: the built-ins come
from the pipeline's own engine module (handlers/lib/engines/<engine>.py, imported as Lambda
imports it), so the plan lists exactly what the step runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..config.settings import Settings
from .preflight_checks import pipeline

OWN_HOSTS = "the cluster's own endpoints (staging and target names), localhost"


@dataclass(frozen=True)
class RulePlan:
    name: str
    sql: list[str]
    check: str
    runs: str  # how it is run (one transaction, or again until it changes no row)


@dataclass(frozen=True)
class BuiltinPlan:
    name: str
    does: str
    fix: str
    fails_the_run: bool


@dataclass(frozen=True)
class QuarantinePlan:
    engine: str
    rules: list[RulePlan]
    builtins: list[BuiltinPlan]
    allowed_hosts: list[str]
    max_minutes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(settings: Settings) -> QuarantinePlan:
    engine = pipeline("lib.engines").engine_for(settings.target.engine)
    rules = [
        RulePlan(
            r.name, list(r.statements), r.check,
            "again, one transaction each, until it changes no row (resumable across "
            "invocations)" if r.repeat else "once, in one transaction with its progress row",
        )
        for r in settings.quarantine.rules
    ]
    builtins = [BuiltinPlan(c.name, c.does, c.fix, not c.report_only)
                for c in engine.quarantine_checks()]
    return QuarantinePlan(settings.target.engine, rules, builtins,
                          [OWN_HOSTS, *settings.quarantine.allowed_hosts],
                          settings.quarantine.max_minutes)
