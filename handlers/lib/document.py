"""Typed-enough access to the state document that travels through the state machine.

See handlers/CONTRACT.md for its shape. Missing required parts raise SettingsInvalid (a named
failure) instead of a KeyError deep inside a step.
"""

from __future__ import annotations

from typing import Any

from handlers.lib.errors import SettingsInvalid

Document = dict[str, Any]


def _section(mapping: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = mapping.get(key)
    if not isinstance(value, dict):
        raise SettingsInvalid(f"the state document has no {where}")
    return value


def settings(document: Document) -> dict[str, Any]:
    return _section(document, "settings", "settings")


def target(document: Document) -> dict[str, Any]:
    return _section(settings(document), "target", "settings.target")


def source(document: Document) -> dict[str, Any]:
    return _section(settings(document), "source", "settings.source")


def operation_id(document: Document) -> str:
    value = document.get("operation_id")
    if not value:
        raise SettingsInvalid("the state document has no operation_id")
    return str(value)


def region(document: Document) -> str:
    """The pipeline's (and the target's) region."""
    value = settings(document).get("region")
    if not value:
        raise SettingsInvalid("the state document has no settings.region")
    return str(value)


def account_id(document: Document) -> str:
    return str(settings(document).get("account_id") or "")


def env(document: Document) -> str:
    value = settings(document).get("env")
    if not value:
        raise SettingsInvalid("the state document has no settings.env")
    return str(value)


def target_cluster_id(document: Document) -> str:
    value = target(document).get("cluster_id")
    if not value:
        raise SettingsInvalid("the state document has no settings.target.cluster_id")
    return str(value)


def strategy(document: Document) -> str:
    return str(target(document).get("strategy") or "swap")


def timeout_seconds(document: Document, default: int = 6 * 3600) -> int:
    pipeline = document.get("pipeline") or {}
    return int(pipeline.get("timeout_seconds") or default)


def progress(document: Document) -> list[str]:
    """The steps that have succeeded (or were skipped) so far, in order (lib/step.py)."""
    return [str(step) for step in document.get("progress") or []]


def verified(document: Document) -> bool:
    """Did the restored database pass the verify step (masking SQL ran before it)?"""
    return "verify" in progress(document)


def failed_run_expiry_hours(document: Document, default: int = 24) -> int:
    """How long what a failed run keeps for inspection lives (settings.target)."""
    return int(target(document).get("failed_run_expiry_hours") or default)


def final_snapshot_retention_days(document: Document, default: int = 7) -> int:
    return int(target(document).get("final_snapshot_retention_days") or default)
