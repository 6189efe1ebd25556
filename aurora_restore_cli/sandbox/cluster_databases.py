"""One PostgreSQL database per sandbox cluster, kept in step with what RDS does in the sandbox.

Installed by the sandbox server (never by the CLI) when it has a PostgreSQL server. moto's RDS
backend is wrapped so that:

- creating a cluster creates its database (empty), restoring one from a snapshot creates it
  as a copy of the snapshot's database, cloning one or restoring it to a point in time
  (RestoreDBClusterToPointInTime) as a copy of the source cluster's database as it is now;
- taking a manual or final snapshot copies the cluster's database as it is now (the snapshot's
  own database, a template nobody connects to); a copied snapshot shares its source's copy;
  an automated snapshot (moto takes one at cluster creation) stands for the live database;
- renaming a cluster renames its database; deleting a cluster drops it.

So the pipeline's database steps find, under the staging cluster's name, the data of the
snapshot it was restored from, and after the swap the target's name holds the refreshed data.
A failure here is logged (sandbox.log) and never breaks the RDS call: the database step that
then misses its database fails with a clear error of its own.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from .postgres import PostgresServer, quote

LOG = logging.getLogger("aurora_restore.sandbox")
SNAPSHOT_ATTRIBUTE = "_aurora_restore_database"

_lock = threading.RLock()
_restoring = threading.local()  # the template while restore_db_cluster_from_snapshot runs
_server: PostgresServer | None = None
_originals: dict[str, Callable[..., Any]] = {}


def install(server: PostgresServer) -> None:
    from moto.rds.models import RDSBackend

    global _server
    with _lock:
        _server = server
        if _originals:
            return
        for name, wrapper in _WRAPPERS.items():
            _originals[name] = getattr(RDSBackend, name)
            setattr(RDSBackend, name, wrapper)


def uninstall() -> None:
    from moto.rds.models import RDSBackend

    global _server
    with _lock:
        for name, original in _originals.items():
            setattr(RDSBackend, name, original)
        _originals.clear()
        _server = None


def _sql(*statements: str) -> None:
    """Run admin statements (CREATE/ALTER/DROP DATABASE: outside a transaction)."""
    if _server is None:
        return
    try:
        conn = _server.connect()
    except Exception:
        LOG.exception("sandbox PostgreSQL: cannot connect")
        return
    try:
        for statement in statements:
            conn.run(statement)
    except Exception:
        LOG.exception("sandbox PostgreSQL: %s failed", statements[-1].split(" WITH ", 1)[0])
    finally:
        conn.close()


def _database(cluster_id: str) -> str:
    assert _server is not None
    return _server.database(cluster_id)


def _snapshot_database(snapshot: Any) -> str:
    """The copy a snapshot stands for; an automated one stands for its cluster's live data."""
    own = getattr(snapshot, SNAPSHOT_ATTRIBUTE, None)
    return str(own) if own else _database(snapshot.cluster.db_cluster_identifier)


def _create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
    cluster = _originals["create_db_cluster"](self, kwargs)
    if _server is not None:
        name = quote(_database(cluster.db_cluster_identifier))
        template = getattr(_restoring, "template", None)
        _sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {quote(template)}" if template else ""))
    return cluster


def _restore_db_cluster_from_snapshot(
    self: Any, from_snapshot_id: str, overrides: dict[str, Any]
) -> Any:
    snapshot = self.describe_db_cluster_snapshots(
        db_cluster_identifier=None, db_snapshot_identifier=from_snapshot_id
    )[0]
    _restoring.template = _snapshot_database(snapshot) if _server is not None else None
    try:
        return _originals["restore_db_cluster_from_snapshot"](self, from_snapshot_id, overrides)
    finally:
        _restoring.template = None


def _restore_db_cluster_to_point_in_time(
    self: Any, db_cluster_identifier: str, source_db_cluster_identifier: str, *args: Any,
    **kwargs: Any,
) -> Any:
    source = str(source_db_cluster_identifier).rsplit(":cluster:", 1)[-1]
    _restoring.template = _database(source) if _server is not None else None
    try:
        return _originals["restore_db_cluster_to_point_in_time"](
            self, db_cluster_identifier, source_db_cluster_identifier, *args, **kwargs
        )
    finally:
        _restoring.template = None


def _create_db_cluster_snapshot(
    self: Any, db_cluster_identifier: str, db_cluster_snapshot_identifier: str,
    snapshot_type: str = "manual", tags: Any = None,
) -> Any:
    snapshot = _originals["create_db_cluster_snapshot"](
        self, db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags
    )
    if _server is not None and snapshot_type != "automated":
        digest = hashlib.sha256(snapshot.db_cluster_snapshot_arn.encode()).hexdigest()[:16]
        copy = _server.prefix + f"snapshot-{digest}"
        source = quote(_database(db_cluster_identifier))
        _sql(f"CREATE DATABASE {quote(copy)} TEMPLATE {source}")
        setattr(snapshot, SNAPSHOT_ATTRIBUTE, copy)
    return snapshot


def _copy_db_cluster_snapshot(
    self: Any, source_db_cluster_snapshot_identifier: str,
    target_db_cluster_snapshot_identifier: str, *args: Any, **kwargs: Any,
) -> Any:
    copied = _originals["copy_db_cluster_snapshot"](
        self, source_db_cluster_snapshot_identifier, target_db_cluster_snapshot_identifier,
        *args, **kwargs,
    )
    if _server is not None:
        source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        setattr(copied, SNAPSHOT_ATTRIBUTE, getattr(source, SNAPSHOT_ATTRIBUTE, None))
    return copied


def _modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
    old, new = kwargs.get("db_cluster_identifier"), kwargs.get("new_db_cluster_identifier")
    result = _originals["modify_db_cluster"](self, kwargs)
    if _server is not None and old and new and new != old:
        _sql(f"ALTER DATABASE {quote(_database(old))} RENAME TO {quote(_database(new))}")
    return result


def _delete_db_cluster(self: Any, cluster_identifier: str, snapshot_name: str | None = None) -> Any:
    cluster = _originals["delete_db_cluster"](self, cluster_identifier, snapshot_name)
    if _server is not None:
        _sql(f"DROP DATABASE IF EXISTS {quote(_database(cluster_identifier))} WITH (FORCE)")
    return cluster


_WRAPPERS: dict[str, Callable[..., Any]] = {
    "create_db_cluster": _create_db_cluster,
    "restore_db_cluster_from_snapshot": _restore_db_cluster_from_snapshot,
    "restore_db_cluster_to_point_in_time": _restore_db_cluster_to_point_in_time,
    "create_db_cluster_snapshot": _create_db_cluster_snapshot,
    "copy_db_cluster_snapshot": _copy_db_cluster_snapshot,
    "modify_db_cluster": _modify_db_cluster,
    "delete_db_cluster": _delete_db_cluster,
}
