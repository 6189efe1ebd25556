"""Identifiers derived from the target and the operation (deterministic, so retries reuse them,
and the failure path and `recover` find what a run made even when its document lost track).

RDS identifiers: 1–63 letters, digits and hyphens, starting with a letter, no trailing or
doubled hyphen. The operation contributes a short hash (`token`), so any execution name is safe.
"""

from __future__ import annotations

import hashlib
import re

MAX_ID = 63
TOKEN = r"[0-9a-f]{8}"


def token(operation_id: str) -> str:
    return hashlib.sha256(operation_id.encode("utf-8")).hexdigest()[:8]


def _join(base: str, *parts: str) -> str:
    suffix = "-" + "-".join(parts)
    head = re.sub(r"-+", "-", base.lower())[: MAX_ID - len(suffix)].rstrip("-")
    return head + suffix


def staging_cluster_id(target_cluster_id: str, operation_id: str) -> str:
    """Swap: where the restore lands. Replace: where the failure path parks an unverified
    cluster (quarantine) so it does not serve under the target id."""
    return _join(target_cluster_id, "stg", token(operation_id))


def old_cluster_id(target_cluster_id: str, operation_id: str) -> str:
    return _join(target_cluster_id, "old", token(operation_id))


def copy_snapshot_id(target_cluster_id: str, operation_id: str) -> str:
    return _join(target_cluster_id, "src", token(operation_id))


def instance_id(target_cluster_id: str, operation_id: str, number: int) -> str:
    return _join(target_cluster_id, token(operation_id), str(number))


def recovery_instance_id(target_cluster_id: str, operation_id: str, number: int) -> str:
    """Instances of a target brought back from its final snapshot (replace, failure path)."""
    return _join(target_cluster_id, token(operation_id), f"r{number}")


def final_snapshot_id(target_cluster_id: str, operation_id: str) -> str:
    """The final snapshot of the cluster an operation deletes (the old target), named after
    the target and the operation."""
    return _join(target_cluster_id, "final", token(operation_id))


def final_snapshot_for(target_cluster_id: str, cluster_id: str) -> str:
    """Final snapshot id for one of our derived clusters (`<target>-old-<token>`), deleted
    later by an expiry sweep: the same name its operation would have used."""
    return _join(target_cluster_id, "final", cluster_id.rsplit("-", 1)[-1])


def derived_pattern(target_cluster_id: str, kind: str) -> re.Pattern[str]:
    """`<target>-<kind>-<token>` as `_join` builds it (kind: stg, old, src, final)."""
    example = _join(target_cluster_id, kind, "0" * 8)
    return re.compile(re.escape(example[:-8]) + TOKEN)
