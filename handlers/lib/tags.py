"""Our tags (contract): every cluster, copy, instance and final snapshot we create carries them.

- `aurora-restore:managed-by=aurora-restore` and `aurora-restore:env=<env>`: ours, for this env.
- `aurora-restore:operation=<operation id>`: the run that restored or made it.
- `aurora-restore:swapped-out-by=<operation id>`: the target a run renamed to its
  `<target>-old-<token>` id (set just before the rename): that run's id on the old cluster,
  which the guard (lib/guards) requires before the run — or, once expired, the sweep — writes
  to it. Removed when it serves under the target id again.
- `aurora-restore:expires-at=<UTC, YYYY-MM-DDTHH:MM:SSZ>`: kept on purpose after a failed run
  (for inspection); later runs and `recover` delete it once the moment has passed.
- `aurora-restore:kind=final-snapshot`: a final snapshot of a deleted cluster (kept per the
  configured retention, not by expiry).
- `aurora-restore:restored-from=<final snapshot id>`: a target the failure path brought back
  from its final snapshot (strategy `replace`).
- `aurora-restore:master-password=<operation id>`: a cluster the failure path kept for
  inspection and gave that operation's master password, because it still had the one it was
  restored with (production's: a clone, a point-in-time restore, a snapshot's cluster).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

MANAGED_BY_KEY = "aurora-restore:managed-by"
MANAGED_BY_VALUE = "aurora-restore"
ENV_KEY = "aurora-restore:env"
OPERATION_KEY = "aurora-restore:operation"
SWAPPED_OUT_KEY = "aurora-restore:swapped-out-by"
EXPIRES_KEY = "aurora-restore:expires-at"
KIND_KEY = "aurora-restore:kind"
FINAL_SNAPSHOT_KIND = "final-snapshot"
RESTORED_FROM_KEY = "aurora-restore:restored-from"
PASSWORD_KEY = "aurora-restore:master-password"
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def managed(env: str, operation_id: str | None = None) -> dict[str, str]:
    tags = {MANAGED_BY_KEY: MANAGED_BY_VALUE, ENV_KEY: env}
    if operation_id:
        tags[OPERATION_KEY] = operation_id
    return tags


def to_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def from_list(tag_list: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in tag_list or []}


def is_managed(tags: Mapping[str, str], env: str) -> bool:
    return tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and tags.get(ENV_KEY) == env


def expiry(now: datetime, hours: int) -> str:
    return (now + timedelta(hours=hours)).astimezone(timezone.utc).strftime(EXPIRY_FORMAT)


def expired(tags: Mapping[str, str], now: datetime) -> bool:
    """True when the expiry tag is present, readable and in the past (unreadable: never)."""
    value = tags.get(EXPIRES_KEY)
    if not value:
        return False
    try:
        moment = datetime.strptime(value, EXPIRY_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    return moment <= now
