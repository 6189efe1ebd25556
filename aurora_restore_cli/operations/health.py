"""`aurora-restore test-functions`: every deployed function answers a health check from inside
its own runtime (handlers/lib/health.py), with its own role, network and environment — what
preflight's policy simulator cannot show. Changes nothing.

Each function is invoked with `{"health_check": true, "settings": <the settings document the
state machine places>}` and reports its packaged code hash, its environment, its step's first
read call made with its role and, for the database steps, `SELECT 1` on the target over
verified TLS. Here the code hash is compared with what `setup` would package now. One
`FunctionHealth` per function; no printing here.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..bundled import database_steps, deployed_functions
from ..contract.pipeline_settings import pipeline_settings
from ..resources.base.resource import Context
from ..resources.lambdas import package_for

WORKERS = 8
PASS, FAIL, SKIP = "pass", "fail", "-"


@dataclass
class FunctionHealth:
    step: str
    function: str
    code: str = FAIL
    environment: str = FAIL
    role: str = FAIL
    database: str = SKIP  # only the database steps connect
    action: str | None = None  # the role's probe: the IAM action it made
    problems: list[str] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "step": self.step,
            "ok": self.ok,
            "code": self.code,
            "environment": self.environment,
            "role": self.role,
            "action": self.action,
            "database": self.database,
            "problems": self.problems,
            "report": self.answer,
        }


def check_functions(ctx: Context) -> list[FunctionHealth]:
    """Every deployed function's health, in `deployed_functions()` order."""
    event = json.dumps(
        {"health_check": True, "settings": pipeline_settings(ctx.settings, ctx.names)}
    ).encode()
    steps = list(deployed_functions())
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="health") as pool:
        return list(pool.map(lambda step: _check(ctx, step, event), steps))


def _check(ctx: Context, step: str, event: bytes) -> FunctionHealth:
    name = ctx.names.function(step)
    health = FunctionHealth(step, name)
    lam = ctx.clients.get("lambda")
    try:
        response = lam.invoke(FunctionName=name, Payload=event)
    except lam.exceptions.ResourceNotFoundException:
        health.problems.append("not deployed: run `aurora-restore setup`")
        return health
    answer = _json(response["Payload"].read())
    if response.get("FunctionError"):
        health.problems.append(_failed(answer))
        return health
    if not isinstance(answer, dict) or answer.get("health_check") is not True:
        health.problems.append(
            "did not answer the health check: its code predates it; run "
            "`aurora-restore deploy-lambdas`"
        )
        return health
    health.answer = answer
    _judge(ctx, health, answer)
    return health


def _failed(answer: Any) -> str:
    if not isinstance(answer, dict):
        return "the invocation failed"
    error, message = answer.get("errorType"), str(answer.get("errorMessage") or "")
    if error == "SettingsInvalid" and "not a state document" in message:
        return "its code predates the health check: run `aurora-restore deploy-lambdas`"
    return f"the invocation failed: {error}: {message}"[:500]


def _judge(ctx: Context, health: FunctionHealth, answer: dict[str, Any]) -> None:
    package = answer.get("package") or {}
    expected = package_for(ctx, health.step).code_hash
    if not package.get("ok"):
        health.problems.append(f"code: {package.get('detail') or 'no package manifest'}")
    elif package.get("code_hash") != expected:
        health.code = "stale"
        health.problems.append(
            "code: not what setup packages now (run `aurora-restore deploy-lambdas`)"
        )
    else:
        health.code = PASS
    environment = answer.get("environment") or {}
    health.environment = PASS if environment.get("ok") else FAIL
    if not environment.get("ok"):
        health.problems.append(f"environment: {environment.get('detail')}")
    role = answer.get("role") or {}
    health.action = role.get("action")
    health.role = PASS if role.get("ok") else FAIL
    if not role.get("ok"):
        health.problems.append(f"role: {role.get('detail')}")
    if health.step in database_steps():
        database = answer.get("database") or {}
        if database.get("skipped"):
            health.database = "skipped"
        elif database.get("ok"):
            health.database = PASS
        else:
            health.database = FAIL
            health.problems.append(f"database: {database.get('detail')}")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data or b"null")
    except ValueError:
        return None
