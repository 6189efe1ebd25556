"""Test support: make moto RDS behave enough like AWS for the pipeline's wait loops and swaps.

What moto does not model, and what this module adds (patching moto's RDS backend class, so it
applies to every region and thread, including Step Functions' interpreter threads):

- Statuses: on AWS a snapshot copy is `creating`/`copying` for minutes, a restored cluster is
  `creating`, renames go through `renaming`. moto reports `available` on the next read, so a
  polling loop would never loop. `script_snapshot(id, "copying", "copying")` makes the next
  describes of that snapshot report those statuses, then `available` (or whatever the last
  scripted status is, if it is a failure such as `failed`). `script_cluster` does the same for
  a cluster id.
- Renames: AWS moves a cluster's instances with it. moto renames the cluster but its instances
  keep the old cluster id, so member lists go wrong after a swap; `modify_db_cluster` is wrapped
  to re-point the instances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.rds.models import RDSBackend

TERMINAL_FAILURES = frozenset(
    {"failed", "incompatible-restore", "inaccessible-encryption-credentials"}
)


class RdsScript:
    def __init__(self) -> None:
        self.snapshots: dict[str, list[str]] = defaultdict(list)
        self.clusters: dict[str, list[str]] = defaultdict(list)
        self.reads: dict[str, int] = defaultdict(int)

    def script_snapshot(self, snapshot_id: str, *statuses: str) -> None:
        self.snapshots[snapshot_id].extend(statuses)

    def script_cluster(self, cluster_id: str, *statuses: str) -> None:
        self.clusters[cluster_id].extend(statuses)

    def next_status(self, queue: list[str]) -> str:
        if len(queue) > 1 or (queue and queue[0] not in TERMINAL_FAILURES):
            return queue.pop(0)
        return queue[0] if queue else "available"


@contextmanager
def scripted_rds() -> Iterator[RdsScript]:
    script = RdsScript()
    originals = {
        name: getattr(RDSBackend, name)
        for name in ("describe_db_cluster_snapshots", "describe_db_clusters", "modify_db_cluster")
    }

    def describe_db_cluster_snapshots(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = originals["describe_db_cluster_snapshots"](self, *args, **kwargs)
        for snapshot in found:
            sid = snapshot.db_cluster_snapshot_identifier
            if sid in script.snapshots:
                script.reads[sid] += 1
                snapshot.status = script.next_status(script.snapshots[sid])
        return found

    def describe_db_clusters(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = originals["describe_db_clusters"](self, *args, **kwargs)
        for cluster in found:
            cid = cluster.db_cluster_identifier
            if cid in script.clusters:
                script.reads[cid] += 1
                cluster.status = script.next_status(script.clusters[cid])
        return found

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        old_id = kwargs["db_cluster_identifier"]
        new_id = kwargs.get("new_db_cluster_identifier")
        result = originals["modify_db_cluster"](self, kwargs)
        if new_id and new_id != old_id:
            for instance in self.databases.values():
                if getattr(instance, "db_cluster_identifier", None) == old_id:
                    instance.db_cluster_identifier = new_id
        return result

    RDSBackend.describe_db_cluster_snapshots = describe_db_cluster_snapshots  # type: ignore[method-assign]
    RDSBackend.describe_db_clusters = describe_db_clusters  # type: ignore[method-assign]
    RDSBackend.modify_db_cluster = modify_db_cluster  # type: ignore[method-assign]
    try:
        yield script
    finally:
        for name, original in originals.items():
            setattr(RDSBackend, name, original)
