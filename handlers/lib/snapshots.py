"""Decisions about the chosen snapshot that several steps share (FindSnapshot decides early,
CopySnapshot and RestoreCluster act on them): must it be copied, with which key, and which
engine version the restore asks for.

AWS rules encoded here (RDS API reference, CopyDBClusterSnapshot / RestoreDBClusterFromSnapshot):
- `KmsKeyId` on a copy of an *unencrypted* snapshot is an error; for an encrypted snapshot
  copied across regions or shared from another account it is required.
- A snapshot cannot be restored to a lower engine version than its own; the major version
  changes only when asked for.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import document as doc
from handlers.lib import engine_versions
from handlers.lib.errors import SnapshotIncompatible

Document = dict[str, Any]


def arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(region, account, resource) of an ARN; None for anything else."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[3], parts[4], parts[5]


def key_id(key: str) -> str:
    """The key id of a key ARN or bare id (aliases are returned unchanged)."""
    return key.rsplit("key/", 1)[-1]


def same_key(a: str, b: str) -> bool:
    """Key ARN vs bare key id of the same key count as equal; aliases never do (copy to be safe)."""
    return key_id(a) == key_id(b) and "alias/" not in a + b


def copy_reasons(document: Document) -> list[str]:
    """Why the snapshot must be copied into the target region/account ([] = restore in place)."""
    snapshot = document["snapshot"]
    reasons = []
    if snapshot["region"] != doc.region(document):
        reasons.append("another region")
    if doc.account_id(document) and snapshot["account_id"] != doc.account_id(document):
        reasons.append("another account")
    kms = doc.target(document).get("kms_key_id")
    if snapshot.get("encrypted") and kms and not same_key(str(snapshot.get("kms_key_id")), kms):
        reasons.append("re-encryption with the target key")
    return reasons


def crosses_boundary(document: Document) -> bool:
    """A copy across regions or accounts (where an encrypted copy needs KmsKeyId)."""
    snapshot = document["snapshot"]
    return snapshot["region"] != doc.region(document) or (
        bool(doc.account_id(document)) and snapshot["account_id"] != doc.account_id(document)
    )


def version(text: str, engine: str | None = None) -> tuple[int, ...]:
    try:
        return engine_versions.parse(engine, text)
    except engine_versions.VersionError:
        raise SnapshotIncompatible(f"cannot compare engine version {text!r}") from None


def major(text: str, engine: str | None = None) -> tuple[int, ...]:
    """PostgreSQL ≥ 10: the first number; MySQL: the MySQL version (8.0) before the release."""
    version(text, engine)
    return engine_versions.major_key(engine, text)


def restore_engine_version(snapshot_id: str, snapshot_version: str, target: dict[str, Any]) -> str:
    """The EngineVersion to restore with: never below the snapshot's own (production gets minor
    upgrades automatically, so a newer minor than the config's is kept), the config's when it
    is newer; the major version changes only with `allow_major_version_upgrade`. Compared as
    versions of the target's engine (handlers/lib/engine_versions.py), never as strings."""
    engine = str(target.get("engine") or engine_versions.POSTGRESQL)
    wanted = str(target.get("engine_version") or snapshot_version)
    have, want = version(snapshot_version, engine), version(wanted, engine)
    have_major, want_major = major(snapshot_version, engine), major(wanted, engine)
    if have_major > want_major:
        raise SnapshotIncompatible(
            f"snapshot {snapshot_id} is engine version {snapshot_version}, a newer major than "
            f"target.engine_version {wanted}; RDS cannot restore to a lower version: set "
            f"target.engine_version to {snapshot_version}"
        )
    if have_major < want_major and not target.get("allow_major_version_upgrade"):
        raise SnapshotIncompatible(
            f"snapshot {snapshot_id} is engine version {snapshot_version}, target.engine_version "
            f"is {wanted}: the major versions differ. Set target.engine_version to "
            f"{snapshot_version}, or target.allow_major_version_upgrade: true to upgrade at restore"
        )
    return snapshot_version if have >= want else wanted
