"""Identifiers derived from the target and the operation (deterministic, so retries reuse them).

RDS identifiers: 1–63 letters, digits and hyphens, starting with a letter, no trailing or
doubled hyphen. The operation contributes a short hash, so any execution name is safe.
"""

from __future__ import annotations

import hashlib
import re

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
