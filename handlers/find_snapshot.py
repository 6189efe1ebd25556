"""Step: choose the snapshot to restore and record which and why.

Either the id/ARN from the execution input, or the newest available snapshot of the source
cluster (automated/manual per `source.snapshot_type`; shared ones when the source account is
another). Before anything is copied it refuses a snapshot that is:

- missing (SnapshotNotFound) or not available (SnapshotNotAvailable);
- not of the configured source — another cluster, or a same-named cluster in another region
  or account (SnapshotIncompatible): masking SQL written for one source must never meet
  another's data. A plain id names a snapshot of this account in the source region; a
  snapshot shared from another account is given by its ARN;
- of another engine, or of an engine version the target cannot be restored to (RDS never
  restores to a lower version; majors change only with `allow_major_version_upgrade`);
  the version the restore will use is recorded as `snapshot.restore_engine_version`;
- encrypted in a way the copy cannot carry over (SnapshotKeyUnusable): not with the
  configured `source.kms_key_id`, or without a `target.kms_key_id` for a copy across regions
  or accounts;
- older than `source.max_age_hours` (SnapshotTooOld).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from handlers.lib import aws, rds, snapshots
from handlers.lib import document as doc
from handlers.lib.errors import (
    SnapshotIncompatible,
    SnapshotKeyUnusable,
    SnapshotNotAvailable,
    SnapshotNotFound,
    SnapshotTooOld,
)
from handlers.lib.step import Document, StepResult, pipeline_step

SHARING_RULES = (
    "only manual snapshots can be shared with another account, and not those encrypted with "
    "the source account's default aws/rds key: copy the snapshot in the source account "
    "re-encrypted with a customer managed key, share the key and the copy with this account"
)


RdsFor = Callable[[str], Any]  # region → RDS client


@pipeline_step("find-snapshot")
def handler(document: Document, context: Any) -> StepResult:
    described = select(document, lambda region: aws.client("rds", region))
    document["snapshot"] = described
    summary = {
        k: described[k]
        for k in ("id", "region", "created", "reason", "engine_version", "restore_engine_version")
    }
    return document, summary


def select(document: Document, rds_for: RdsFor) -> dict[str, Any]:
    """The snapshot the run restores (the document's `snapshot` part), after every check;
    raises the named error otherwise. Also used by `aurora-restore preflight` (read-only)."""
    source = doc.source(document)
    requested = (document.get("request") or {}).get("snapshot_id")
    if requested:
        snapshot = _requested(document, str(requested), rds_for)
        reason = "given in the execution input"
    else:
        snapshot = _newest(document, source, rds_for)
        reason = f"newest available {_kind_words(source)}snapshot of {source['cluster_id']}"
    _check(document, snapshot)
    described = _describe(snapshot, reason)
    described["restore_engine_version"] = snapshots.restore_engine_version(
        described["id"], str(described["engine_version"]), doc.target(document)
    )
    _check_encryption({**document, "snapshot": described})
    return described


def _kind_words(source: dict[str, Any]) -> str:
    """`automated ` / `manual ` for a restricted snapshot_type, nothing for `any`."""
    kind = str(source.get("snapshot_type") or "any")
    return "" if kind == "any" else f"{kind} "


def _requested(document: Document, snapshot: str, rds_for: RdsFor) -> dict[str, Any]:
    source = doc.source(document)
    region, account = str(source["region"]), str(source.get("account_id") or "")
    parts = snapshots.arn_parts(snapshot)
    if parts is not None:
        _check_place(snapshot, parts[0], parts[1], region, account)
        lookup_region = parts[0]
    else:
        own = doc.account_id(document)
        if account and own and account != own:
            raise SnapshotIncompatible(
                f"snapshot {snapshot} is a plain id, which names a snapshot of this account "
                f"({own}); the source is in account {account}: give the ARN of the snapshot "
                "it shared with this account"
            )
        lookup_region = region
    found = rds.describe_cluster_snapshot(rds_for(lookup_region), snapshot)
    if found is None:
        hint = f"; {SHARING_RULES}" if account and account != doc.account_id(document) else ""
        raise SnapshotNotFound(f"snapshot {snapshot} not found in {lookup_region}{hint}")
    return found


def _check_place(what: str, region: str, account: str, want_region: str, want_account: str) -> None:
    if region != want_region or (want_account and account != want_account):
        raise SnapshotIncompatible(
            f"snapshot {what} is in {region}/{account}, but the configured source is in "
            f"{want_region}/{want_account}; refusing a snapshot of another cluster"
        )


def _newest(document: Document, source: dict[str, Any], rds_for: RdsFor) -> dict[str, Any]:
    client = rds_for(str(source["region"]))
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
        where = f"{source['region']}"
        if cross_account:
            where += f" shared with this account by {source['account_id']} ({SHARING_RULES})"
        raise SnapshotNotFound(f"no {_kind_words(source)}snapshot of {cluster_id} in {where}")
    available = [s for s in candidates if s.get("Status") == "available"]
    if not available:
        states = sorted({str(s.get("Status")) for s in candidates})
        raise SnapshotNotAvailable(
            f"{len(candidates)} snapshot(s) of {cluster_id}, none available ({', '.join(states)})"
        )
    return dict(max(available, key=lambda s: s["SnapshotCreateTime"]))


def _check(document: Document, snapshot: dict[str, Any]) -> None:
    sid = snapshot.get("DBClusterSnapshotIdentifier")
    source = doc.source(document)
    parts = snapshots.arn_parts(str(snapshot.get("DBClusterSnapshotArn", "")))
    if parts is None:
        raise SnapshotIncompatible(f"snapshot {sid} has no ARN; cannot tell where it is from")
    _check_place(
        str(sid), parts[0], parts[1], str(source["region"]), str(source.get("account_id") or "")
    )
    source_id = str(source["cluster_id"]).lower()
    if str(snapshot.get("DBClusterIdentifier", "")).lower() != source_id:
        raise SnapshotIncompatible(
            f"snapshot {sid} is of cluster {snapshot.get('DBClusterIdentifier')}, "
            f"not of the source {source_id}"
        )
    if snapshot.get("Status") != "available":
        raise SnapshotNotAvailable(f"snapshot {sid} is {snapshot.get('Status')}, not available")
    engine = doc.target(document).get("engine") or "aurora-postgresql"
    if snapshot.get("Engine") != engine:
        raise SnapshotIncompatible(f"snapshot {sid} is {snapshot.get('Engine')}, not {engine}")
    max_hours = float(source.get("max_age_hours") or 0)
    age_hours = (_now() - _created(snapshot)).total_seconds() / 3600
    if max_hours and age_hours > max_hours:
        raise SnapshotTooOld(
            f"snapshot {sid} is {age_hours:.1f} h old; the limit is {max_hours:g} h"
        )


def _check_encryption(document: Document) -> None:
    """An encrypted snapshot that must be copied: its key is the configured source key (the
    Lambda role is granted only that one), and a copy across regions/accounts has a target key."""
    snapshot = document["snapshot"]
    if not snapshot["encrypted"] or not snapshots.copy_reasons(document):
        return
    sid, key = snapshot["id"], str(snapshot.get("kms_key_id") or "")
    configured = doc.source(document).get("kms_key_id")
    cross_account = snapshot["account_id"] != doc.account_id(document)
    if not configured:
        raise SnapshotKeyUnusable(
            f"snapshot {sid} is encrypted with {key} and must be copied, but "
            f"source.kms_key_id is not set: set it to {key} (the Lambda role is granted only "
            "the configured key)" + (f"; note that {SHARING_RULES}" if cross_account else "")
        )
    if not snapshots.same_key(key, str(configured)):
        raise SnapshotKeyUnusable(
            f"snapshot {sid} is encrypted with {key}, not with source.kms_key_id {configured}"
            + (
                f". If {key} is the source account's aws/rds key: {SHARING_RULES}"
                if cross_account
                else ""
            )
        )
    if snapshots.crosses_boundary(document) and not doc.target(document).get("kms_key_id"):
        raise SnapshotKeyUnusable(
            f"snapshot {sid} is encrypted and is copied across regions/accounts: AWS needs a "
            "key of this account in the target region for the copy; set target.kms_key_id"
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
