"""Step: choose the snapshot to restore and record which and why.

Either the id/ARN from the execution input, or the newest available snapshot of the source
cluster (automated/manual per `source.snapshot_type`; shared ones when the source account is
another). Refuses one that is missing (SnapshotNotFound), not available
(SnapshotNotAvailable), of another engine or cluster (SnapshotIncompatible), or older than
`source.max_age_hours` (SnapshotTooOld).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from handlers.lib import aws, rds
from handlers.lib import document as doc
from handlers.lib.errors import (
    SnapshotIncompatible,
    SnapshotNotAvailable,
    SnapshotNotFound,
    SnapshotTooOld,
)
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("find-snapshot")
def handler(document: Document, context: Any) -> StepResult:
    source = doc.source(document)
    requested = (document.get("request") or {}).get("snapshot_id")
    if requested:
        snapshot = _requested(str(requested), str(source["region"]))
        reason = "given in the execution input"
    else:
        snapshot = _newest(document, source)
        reason = f"newest available {_kind_words(source)}snapshot of {source['cluster_id']}"
    _check(document, snapshot)
    document["snapshot"] = _describe(snapshot, reason)
    summary = {k: document["snapshot"][k] for k in ("id", "region", "created", "reason")}
    return document, summary


def _kind_words(source: dict[str, Any]) -> str:
    """`automated ` / `manual ` for a restricted snapshot_type, nothing for `any`."""
    kind = str(source.get("snapshot_type") or "any")
    return "" if kind == "any" else f"{kind} "


def _requested(snapshot: str, source_region: str) -> dict[str, Any]:
    region = snapshot.split(":")[3] if snapshot.startswith("arn:") else source_region
    found = rds.describe_cluster_snapshot(aws.client("rds", region), snapshot)
    if found is None:
        raise SnapshotNotFound(f"snapshot {snapshot} not found in {region}")
    return found


def _newest(document: Document, source: dict[str, Any]) -> dict[str, Any]:
    client = aws.client("rds", str(source["region"]))
    cluster_id = str(source["cluster_id"])
    kind = str(source.get("snapshot_type") or "any")
    cross_account = str(source.get("account_id") or "") not in ("", doc.account_id(document))
    if cross_account:
        kwargs: dict[str, Any] = {"SnapshotType": "shared", "IncludeShared": True}
    else:
        kwargs = {"DBClusterIdentifier": cluster_id}
        if kind in ("automated", "manual"):
            kwargs["SnapshotType"] = kind
    candidates = []
    for page in client.get_paginator("describe_db_cluster_snapshots").paginate(**kwargs):
        for snapshot in page.get("DBClusterSnapshots", []):
            if str(snapshot.get("DBClusterIdentifier", "")).lower() != cluster_id.lower():
                continue
            if cross_account and _arn_account(snapshot) != str(source["account_id"]):
                continue
            candidates.append(snapshot)
    if not candidates:
        raise SnapshotNotFound(
            f"no {_kind_words(source)}snapshot of {cluster_id} in {source['region']}"
            + (" shared with this account" if cross_account else "")
        )
    available = [s for s in candidates if s.get("Status") == "available"]
    if not available:
        states = sorted({str(s.get("Status")) for s in candidates})
        raise SnapshotNotAvailable(
            f"{len(candidates)} snapshot(s) of {cluster_id}, none available ({', '.join(states)})"
        )
    return dict(max(available, key=lambda s: s["SnapshotCreateTime"]))


def _check(document: Document, snapshot: dict[str, Any]) -> None:
    sid = snapshot.get("DBClusterSnapshotIdentifier")
    if snapshot.get("Status") != "available":
        raise SnapshotNotAvailable(f"snapshot {sid} is {snapshot.get('Status')}, not available")
    engine = doc.target(document).get("engine") or "aurora-postgresql"
    if snapshot.get("Engine") != engine:
        raise SnapshotIncompatible(f"snapshot {sid} is {snapshot.get('Engine')}, not {engine}")
    source_id = str(doc.source(document)["cluster_id"]).lower()
    if str(snapshot.get("DBClusterIdentifier", "")).lower() != source_id:
        raise SnapshotIncompatible(
            f"snapshot {sid} is of cluster {snapshot.get('DBClusterIdentifier')}, "
            f"not of the source {source_id}"
        )
    max_hours = float(doc.source(document).get("max_age_hours") or 0)
    age_hours = (_now() - _created(snapshot)).total_seconds() / 3600
    if max_hours and age_hours > max_hours:
        raise SnapshotTooOld(
            f"snapshot {sid} is {age_hours:.1f} h old; the limit is {max_hours:g} h"
        )


def _describe(snapshot: dict[str, Any], reason: str) -> dict[str, Any]:
    arn = str(snapshot["DBClusterSnapshotArn"])
    return {
        "arn": arn,
        "id": str(snapshot["DBClusterSnapshotIdentifier"]),
        "region": arn.split(":")[3],
        "account_id": _arn_account(snapshot),
        "created": _created(snapshot).isoformat(),
        "type": snapshot.get("SnapshotType"),
        "engine": snapshot.get("Engine"),
        "engine_version": snapshot.get("EngineVersion"),
        "encrypted": bool(snapshot.get("StorageEncrypted")),
        "kms_key_id": snapshot.get("KmsKeyId"),
        "reason": reason,
    }


def _arn_account(snapshot: dict[str, Any]) -> str:
    parts = str(snapshot.get("DBClusterSnapshotArn", "")).split(":")
    return parts[4] if len(parts) > 4 else ""


def _created(snapshot: dict[str, Any]) -> datetime:
    created = snapshot["SnapshotCreateTime"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return created if created.tzinfo else created.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)
