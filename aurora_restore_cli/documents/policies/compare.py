"""IAM policy documents compared as IAM means them: parsed (IAM returns them URL-encoded),
single strings and one-element lists alike, order of statements and of list values ignored."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote


def parse_document(value: Any) -> dict[str, Any]:
    """A policy document as IAM returns it (URL-encoded JSON, or already decoded by botocore)."""
    if isinstance(value, dict):
        return value
    text = str(value)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = json.loads(unquote(text))
    if not isinstance(parsed, dict):
        raise ValueError("a policy document is a JSON object")
    return parsed


def _values(value: Any) -> Any:
    """One string or a list of them → a sorted list of strings; booleans as IAM writes them."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return sorted({str(v).lower() if isinstance(v, bool) else str(v) for v in items})


def _statement(statement: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in statement.items():
        if key in ("Action", "NotAction", "Resource", "NotResource"):
            out[key] = _values(value)
        elif key in ("Principal", "NotPrincipal"):
            out[key] = value if value == "*" else {k: _values(v) for k, v in value.items()}
        elif key == "Condition":
            out[key] = {
                op: {k: _values(v) for k, v in checks.items()} for op, checks in value.items()
            }
        else:
            out[key] = value
    return out


def normalise(document: dict[str, Any]) -> dict[str, Any]:
    """A canonical form for comparing policy documents."""
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    return {
        "Version": document.get("Version"),
        "Statement": sorted(
            (_statement(s) for s in statements), key=lambda s: json.dumps(s, sort_keys=True)
        ),
    }


def same_document(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return normalise(a) == normalise(b)
