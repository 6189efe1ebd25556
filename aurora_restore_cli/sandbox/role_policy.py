"""What AWS would answer a function's role, where moto answers everything: the sandbox's
stand-in for IAM, used by the health check (`aurora-restore test-functions`).

moto does not enforce IAM (its optional enforcement checks every action against resource
`*`, which our resource-scoped policies never match), so in the sandbox a role stripped of
an action still makes the call. The health check names the one call it probes (action and
resource ARN); the Lambda router asks `decide()` about it with the role's identity policies
(inline and attached, read from moto's IAM backend in this process) and reports a denial as
AWS would. Rules, as IAM evaluates identity policies within one account: an explicit Deny
wins; else an Allow whose Action and Resource patterns match (`*` and `?` wildcards; actions
case-insensitive); else denied by default. A statement with a Condition or with
NotAction/NotResource is not decided here: an Allow of that kind is not counted (the answer
errs towards "denied"), a Deny of that kind is ignored. The project's documents put no
conditions on the statements the probes need (tests/sandbox check this).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..documents.policies.compare import parse_document


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # which statement decided, or why nothing did


def decide(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> Decision:
    allowed_by: str | None = None
    for document in documents:
        for statement in _statements(document):
            if not _decidable(statement) or not _matches(statement, action, resource):
                continue
            sid = str(statement.get("Sid") or "a statement without Sid")
            if statement.get("Effect") == "Deny":
                return Decision(False, f"explicitly denied by {sid}")
            if statement.get("Effect") == "Allow" and allowed_by is None:
                allowed_by = sid
    if allowed_by is not None:
        return Decision(True, f"allowed by {allowed_by}")
    return Decision(False, f"no statement of the role's policies allows {action} on {resource}")


def role_documents(account_id: str, role_arn: str) -> list[dict[str, Any]]:
    """The identity policies of a role in moto's IAM backend (this process): inline and
    attached managed policies (their default versions)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["global"]
    role = backend.get_role(role_arn.rsplit("/", 1)[-1])
    documents = [_document(text) for text in role.policies.values()]
    for policy in role.managed_policies.values():
        default = next((v for v in policy.versions if v.is_default_version), None)
        if default is not None and default.document:
            documents.append(_document(default.document))
    return documents


def _document(text: Any) -> dict[str, Any]:
    try:
        return parse_document(text)
    except ValueError:  # not an object: no statement in it
        return {}


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document.get("Statement") or []
    return [found] if isinstance(found, dict) else [s for s in found if isinstance(s, dict)]


def _decidable(statement: Mapping[str, Any]) -> bool:
    return not any(key in statement for key in ("Condition", "NotAction", "NotResource"))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _matches(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    actions = _as_list(statement.get("Action"))
    resources = _as_list(statement.get("Resource"))
    return any(_pattern(a, True).fullmatch(action) for a in actions) and any(
        _pattern(r, False).fullmatch(resource) for r in resources
    )


@lru_cache(maxsize=1024)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(text, re.IGNORECASE if ignore_case else 0)
