"""Make the sandbox's moto RDS delete a cluster's automated backups with the cluster, as AWS
does by default (`DeleteDBCluster`'s `DeleteAutomatedBackups` defaults to true; moto 5.x keeps
the `rds:<cluster>-<time>` snapshots forever). Without this, every restore drill and every
swapped-out cluster would leave an automated snapshot behind in the sandbox that a real
account would not have.

    from aurora_restore_cli.local import rds_fidelity
    rds_fidelity.install()
"""

from __future__ import annotations

from typing import Any

_original: Any = None


def install() -> None:
    from moto.rds.models import RDSBackend

    global _original
    if _original is not None:
        return
    _original = RDSBackend.delete_db_cluster

    def delete_db_cluster(self: Any, cluster_identifier: str, *args: Any, **kwargs: Any) -> Any:
        result = _original(self, cluster_identifier, *args, **kwargs)
        prefix = f"rds:{cluster_identifier}-"
        for snapshot_id in [s for s in self.cluster_snapshots if s.startswith(prefix)]:
            if self.cluster_snapshots[snapshot_id].snapshot_type == "automated":
                del self.cluster_snapshots[snapshot_id]
        return result

    RDSBackend.delete_db_cluster = delete_db_cluster  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.rds.models import RDSBackend

    global _original
    if _original is not None:
        RDSBackend.delete_db_cluster = _original  # type: ignore[method-assign]
        _original = None
