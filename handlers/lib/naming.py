"""Identifiers derived from the target and the operation (deterministic, so retries reuse them).

RDS identifiers: 1–63 letters, digits and hyphens, starting with a letter, no trailing or
doubled hyphen. The operation contributes a short hash, so any execution name is safe.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from handlers.lib import document as doc

MAX_ID = 63


def token(operation_id: str) -> str:
    return hashlib.sha256(operation_id.encode("utf-8")).hexdigest()[:8]


def _join(base: str, *parts: str) -> str:
    suffix = "-" + "-".join(parts)
    head = re.sub(r"-+", "-", base.lower())[: MAX_ID - len(suffix)].rstrip("-")
    return head + suffix


def staging_cluster_id(target_cluster_id: str, operation_id: str) -> str:
    return _join(target_cluster_id, "stg", token(operation_id))


def old_cluster_id(target_cluster_id: str, operation_id: str) -> str:
    return _join(target_cluster_id, "old", token(operation_id))


def copy_snapshot_id(target_cluster_id: str, operation_id: str) -> str:
    return _join(target_cluster_id, "src", token(operation_id))


def instance_id(target_cluster_id: str, operation_id: str, number: int) -> str:
    return _join(target_cluster_id, token(operation_id), str(number))


def final_snapshot_id(cluster_id: str, operation_id: str) -> str:
    return _join(cluster_id, "final", token(operation_id))


def drill_cluster_id(target_cluster_id: str, operation_id: str) -> str:
    """The temporary cluster a restore drill restores into (never the target's id)."""
    return _join(target_cluster_id, "drill", token(operation_id))


def work_cluster_id(document: dict[str, Any]) -> str:
    """The cluster this operation restores into: the drill cluster in a drill, the target
    itself with strategy `replace`, else the staging cluster."""
    target_id = doc.target_cluster_id(document)
    operation_id = doc.operation_id(document)
    if doc.is_drill(document):
        return drill_cluster_id(target_id, operation_id)
    if doc.strategy(document) == "replace":
        return target_id
    return staging_cluster_id(target_id, operation_id)


def lock_subject(document: dict[str, Any]) -> str:
    """What the lock is taken on: the target for a refresh, the drill cluster for a drill (so a
    drill runs beside a refresh of the same target)."""
    if doc.is_drill(document):
        return work_cluster_id(document)
    return doc.target_cluster_id(document)
