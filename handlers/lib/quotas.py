"""The account's RDS quotas, before anything is copied or created: will this run fit?

A refresh adds, for a while, a cluster (the staging cluster beside the old target; a drill its
drill cluster), manual cluster snapshots (the copy of a snapshot from another region or
account, the final snapshot of the old target), a cross-region snapshot copy in flight, and —
on the clone path — a copy-on-write clone of the source. RDS refuses each beyond its quota,
but only hours into the run (after the copy). `check` reads `DescribeAccountAttributes` (the
account's quotas and usage in this region) and counts what that call does not report: copies
in flight into this region (at most 5 at once) and the clones in the source's clone group (at
most 15: the Aurora User Guide's copy-on-write limit per source, past which Aurora made a
full copy, losing what a clone is for; newer guides bound clones by the region's cluster quota
only — we keep the stricter figure). `refuse` raises QuotaExceeded naming each quota with its
usage.

CheckTarget runs `check` (before the copy; a config that only clones or restores to a point in
time copies no snapshot), ChooseSource runs `clones` once it has chosen a clone (`auto` then
restores a snapshot instead, and says why), and `aurora-restore preflight` runs both (same
code).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.lib.errors import QuotaExceeded

CLUSTERS = "DBClusters"
SNAPSHOTS = "ManualClusterSnapshots"
COPIES = "ConcurrentCrossRegionSnapshotCopies"  # not in DescribeAccountAttributes: counted
CLONES = "ClonesPerSource"  # not in DescribeAccountAttributes: counted
COPIES_LIMIT = 5  # snapshot copies in progress into one destination region
CLONES_LIMIT = 15  # copy-on-write clones of one source cluster
LABELS = {
    CLUSTERS: "DB clusters in this region",
    SNAPSHOTS: "manual cluster snapshots in this region",
    COPIES: "cross-region snapshot copies in progress into this region",
    CLONES: "copy-on-write clones of the source",
}
IN_FLIGHT = ("creating", "copying", "pending")


@dataclass(frozen=True)
class Usage:
    quota: str
    used: int
    limit: int
    needed: int

    @property
    def room(self) -> bool:
        return self.used + self.needed <= self.limit

    def describe(self) -> str:
        return (f"{LABELS.get(self.quota, self.quota)} ({self.quota}): {self.used} of "
                f"{self.limit} used, the run needs {self.needed} more")

    def to_json(self) -> dict[str, Any]:
        return {"quota": self.quota, "used": self.used, "limit": self.limit,
                "needed": self.needed, "room": self.room}


def account_quotas(client: Any) -> dict[str, tuple[int, int]]:
    """Quota name → (used, max), as RDS reports them for this account and region."""
    found = client.describe_account_attributes().get("AccountQuotas") or []
    return {str(q["AccountQuotaName"]): (int(q.get("Used") or 0), int(q.get("Max") or 0))
            for q in found}


def needs(settings: Mapping[str, Any], target_exists: bool, copy_required: bool,
          clone: bool = False) -> dict[str, int]:
    """What a run adds at its peak, by quota."""
    target = settings.get("target") or {}
    swap = target.get("strategy", "swap") == "swap"
    needed = {
        # swap: the staging cluster beside the old target; replace: only when there is none
        CLUSTERS: 1 if swap or not target_exists else 0,
        SNAPSHOTS: int(copy_required) + int(bool(target.get("final_snapshot")) and target_exists),
        COPIES: int(copy_required and _other_region(settings)),
    }
    if clone:
        needed[CLONES] = 1
    return needed


def copy_required(settings: Mapping[str, Any]) -> bool:
    """A snapshot of another region or account is copied (re-encrypted) before the restore —
    never when the config only clones or restores to a point in time (source.restore_paths)."""
    source = settings.get("source") or {}
    if "snapshot" not in (source.get("restore_paths") or ["snapshot"]):
        return False
    return (source.get("region"), str(source.get("account_id") or "")) != (
        settings.get("region"), str(settings.get("account_id") or ""))


def check(client: Any, settings: Mapping[str, Any], target_exists: bool,
          copy: bool | None = None, clone_source: Mapping[str, Any] | None = None
          ) -> list[Usage]:
    """Usage of every quota the run needs. `clone_source`: the source cluster, when the run
    clones it (same account and region)."""
    wanted = needs(settings, target_exists, copy_required(settings) if copy is None else copy,
                   clone=clone_source is not None)
    reported = account_quotas(client)
    found = []
    for quota in (CLUSTERS, SNAPSHOTS):
        if quota in reported:
            used, limit = reported[quota]
            found.append(Usage(quota, used, limit, wanted[quota]))
    if wanted[COPIES]:
        found.append(Usage(COPIES, copies_in_flight(client), COPIES_LIMIT, wanted[COPIES]))
    if clone_source is not None:
        found.append(clones(client, clone_source))
    return found


def clones(client: Any, source: Mapping[str, Any]) -> Usage:
    """The clone path's quota: the clones in the source's group, and the one the run adds."""
    return Usage(CLONES, clones_of(client, source), CLONES_LIMIT, 1)


def refuse(usages: Sequence[Usage]) -> None:
    full = [u for u in usages if not u.room]
    if not full:
        return
    if all(u.quota == CLONES for u in full):
        fix = ("Delete clones of the source that are no longer needed, or restore a snapshot "
               "(source.restore_from: snapshot; auto does so by itself)")
    else:
        fix = ("Delete what is no longer needed (old manual snapshots, clusters left by failed "
               "runs after their expiry), or ask for more in Service Quotas (Amazon Relational "
               "Database Service)")
    refused = QuotaExceeded(
        "the run would exceed the account's RDS quota(s), so it stops before anything is "
        "copied or created: " + "; ".join(u.describe() for u in full) + ". " + fix
    )
    refused.usages = tuple(full)  # what `auto` names when it falls back to a snapshot
    raise refused


def copies_in_flight(client: Any) -> int:
    """Manual cluster snapshots being copied into this region from another one."""
    count = 0
    pages = client.get_paginator("describe_db_cluster_snapshots").paginate(SnapshotType="manual")
    for page in pages:
        for snapshot in page.get("DBClusterSnapshots") or []:
            source = str(snapshot.get("SourceDBClusterSnapshotArn") or "")
            here = str(snapshot.get("DBClusterSnapshotArn") or "").split(":")[3:4]
            if (snapshot.get("Status") in IN_FLIGHT and source
                    and source.split(":")[3:4] != here):
                count += 1
    return count


def clones_of(client: Any, source: Mapping[str, Any]) -> int:
    """Clusters this account sees in the source's clone group (its copy-on-write clones, and
    theirs), the source excepted (by ARN when both have one: a shared source is another
    account's)."""
    group = source.get("CloneGroupId")
    if not group:
        return 0
    key = "DBClusterArn" if source.get("DBClusterArn") else "DBClusterIdentifier"
    count = 0
    for page in client.get_paginator("describe_db_clusters").paginate():
        for cluster in page.get("DBClusters") or []:
            if cluster.get("CloneGroupId") == group and cluster.get(key) != source.get(key):
                count += 1
    return count


def _other_region(settings: Mapping[str, Any]) -> bool:
    return (settings.get("source") or {}).get("region") != settings.get("region")
