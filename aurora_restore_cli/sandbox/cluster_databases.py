"""One database per sandbox cluster, kept in step with what RDS does in the sandbox: on the
sandbox's PostgreSQL for aurora-postgresql clusters, on its MySQL for aurora-mysql ones.

Installed by the sandbox server (never by the CLI). moto's RDS backend is wrapped so that:

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

PostgreSQL copies a database with `CREATE DATABASE … TEMPLATE` and renames it in place. MySQL
has neither: a copy is each table re-created (`CREATE TABLE … LIKE`: columns, keys and indexes,
not foreign keys) and filled, and each event re-created (`SHOW CREATE EVENT`: production's
scheduled jobs come along, as in a snapshot; views, routines and triggers do not); a rename
moves every table and event to a new database (`RENAME TABLE`, `ALTER EVENT … RENAME`) and
moves the database's grants with it (RDS keeps the database name across a cluster rename, so
the application users keep their grants there). The sandbox's MySQL itself starts when the
first aurora-mysql cluster appears (`LazyServer`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from . import mysql as mysql_server
from .postgres import PostgresServer, quote

LOG = logging.getLogger("aurora_restore.sandbox")
SNAPSHOT_ATTRIBUTE = "_aurora_restore_database"
POSTGRESQL, MYSQL = "aurora-postgresql", "aurora-mysql"

_lock = threading.RLock()
_restoring = threading.local()  # the template while a restore (from a snapshot or a cluster) runs
_keepers: dict[str, Callable[[], Keeper | None]] = {}
_originals: dict[str, Callable[..., Any]] = {}


class Keeper(Protocol):
    """One engine's databases on its sandbox server."""

    def database(self, cluster_id: str) -> str: ...

    def snapshot_database(self, digest: str) -> str: ...

    def create(self, name: str, template: str | None) -> None: ...

    def rename(self, old: str, new: str) -> None: ...

    def drop(self, name: str) -> None: ...


class PostgresKeeper:
    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def database(self, cluster_id: str) -> str:
        return self.server.database(cluster_id)

    def snapshot_database(self, digest: str) -> str:
        return self.server.prefix + f"snapshot-{digest}"

    def _sql(self, *statements: str) -> None:
        """Admin statements (CREATE/ALTER/DROP DATABASE: outside a transaction)."""
        try:
            conn = self.server.connect()
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

    def create(self, name: str, template: str | None) -> None:
        self._sql(f"CREATE DATABASE {quote(name)}"
                  + (f" TEMPLATE {quote(template)}" if template else ""))

    def rename(self, old: str, new: str) -> None:
        self._sql(f"ALTER DATABASE {quote(old)} RENAME TO {quote(new)}")

    def drop(self, name: str) -> None:
        self._sql(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")


class MySQLKeeper:
    def __init__(self, server: mysql_server.MySQLServer) -> None:
        self.server = server

    def database(self, cluster_id: str) -> str:
        return self.server.database(cluster_id)

    def snapshot_database(self, digest: str) -> str:
        return self.server.prefix + f"snapshot-{digest}"

    def _run(self, work: Callable[[Any], None], what: str) -> None:
        try:
            conn = self.server.connect()
        except Exception:
            LOG.exception("sandbox MySQL: cannot connect")
            return
        try:
            with conn.cursor() as cursor:
                work(cursor)
        except Exception:
            LOG.exception("sandbox MySQL: %s failed", what)
        finally:
            conn.close()

    @staticmethod
    def _tables(cursor: Any, database: str) -> list[str]:
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                       "AND TABLE_TYPE = 'BASE TABLE'", (database,))
        return [str(row[0]) for row in cursor.fetchall()]

    @staticmethod
    def _events(cursor: Any, database: str) -> list[str]:
        cursor.execute("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
                       (database,))
        return [str(row[0]) for row in cursor.fetchall()]

    def create(self, name: str, template: str | None) -> None:
        q = mysql_server.quote

        def work(cursor: Any) -> None:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {q(name)} CHARACTER SET utf8mb4")
            if template:
                cursor.execute("SET SESSION foreign_key_checks = 0")
                for table in self._tables(cursor, template):
                    cursor.execute(f"CREATE TABLE {q(name)}.{q(table)} LIKE {q(template)}.{q(table)}")
                    cursor.execute(f"INSERT INTO {q(name)}.{q(table)} SELECT * FROM "
                                   f"{q(template)}.{q(table)}")
                events = self._events(cursor, template)
                if events:  # production's scheduled jobs come along in a snapshot
                    cursor.execute(f"USE {q(name)}")
                for event in events:
                    cursor.execute(f"SHOW CREATE EVENT {q(template)}.{q(event)}")
                    cursor.execute(str(cursor.fetchone()[3]))

        self._run(work, f"copying {template} to {name}" if template else f"creating {name}")

    def rename(self, old: str, new: str) -> None:
        q = mysql_server.quote

        def work(cursor: Any) -> None:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {q(new)} CHARACTER SET utf8mb4")
            moves = [f"{q(old)}.{q(t)} TO {q(new)}.{q(t)}" for t in self._tables(cursor, old)]
            if moves:
                cursor.execute("RENAME TABLE " + ", ".join(moves))
            for event in self._events(cursor, old):
                cursor.execute(f"ALTER EVENT {q(old)}.{q(event)} RENAME TO {q(new)}.{q(event)}")
            for before, after in ((old, new), (_grant_pattern(old), _grant_pattern(new))):
                cursor.execute("UPDATE mysql.db SET Db = %s WHERE Db = %s", (after, before))
            cursor.execute("FLUSH PRIVILEGES")
            cursor.execute(f"DROP DATABASE IF EXISTS {q(old)}")

        self._run(work, f"renaming {old} to {new}")

    def drop(self, name: str) -> None:
        self._run(lambda c: c.execute(f"DROP DATABASE IF EXISTS {mysql_server.quote(name)}"),
                  f"dropping {name}")


def _grant_pattern(database: str) -> str:
    """How a database-level grant of the users step names it (wildcards escaped)."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


class LazyServer:
    """The sandbox's MySQL, started on first need; `on_start(server or None, note)` tells the
    sandbox server (state file, the functions' environment) once."""

    def __init__(self, start: Callable[[], mysql_server.MySQLServer],
                 on_start: Callable[[mysql_server.MySQLServer | None, str | None], None]) -> None:
        self._start, self._on_start = start, on_start
        self._lock = threading.Lock()
        self._done = False
        self.server: mysql_server.MySQLServer | None = None

    def keeper(self) -> Keeper | None:
        with self._lock:
            if not self._done:
                self._done = True
                note = None
                try:
                    self.server = self._start()
                except mysql_server.MySQLUnavailable as exc:
                    note = str(exc)
                except Exception as exc:  # a broken installation must not take the sandbox down
                    note = f"MySQL could not be started: {type(exc).__name__}: {exc}"
                self._on_start(self.server, note)
        return MySQLKeeper(self.server) if self.server is not None else None


def install(postgres: PostgresServer | None = None, mysql: LazyServer | None = None) -> None:
    from moto.rds.models import RDSBackend

    with _lock:
        _keepers.clear()
        if postgres is not None:
            keeper = PostgresKeeper(postgres)
            _keepers[POSTGRESQL] = lambda: keeper
        if mysql is not None:
            _keepers[MYSQL] = mysql.keeper
        if _originals:
            return
        for name, wrapper in _WRAPPERS.items():
            _originals[name] = getattr(RDSBackend, name)
            setattr(RDSBackend, name, wrapper)


def uninstall() -> None:
    from moto.rds.models import RDSBackend

    with _lock:
        for name, original in _originals.items():
            setattr(RDSBackend, name, original)
        _originals.clear()
        _keepers.clear()


def _keeper(engine: str | None) -> Keeper | None:
    factory = _keepers.get(str(engine or POSTGRESQL))
    return factory() if factory is not None else None


def _snapshot_database(keeper: Keeper, snapshot: Any) -> str:
    """The copy a snapshot stands for; an automated one stands for its cluster's live data."""
    own = getattr(snapshot, SNAPSHOT_ATTRIBUTE, None)
    return str(own) if own else keeper.database(snapshot.cluster.db_cluster_identifier)


def _create_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
    keeper = _keeper(kwargs.get("engine"))  # MySQL starts here, before the cluster exists
    cluster = _originals["create_db_cluster"](self, kwargs)
    if keeper is not None:
        template = getattr(_restoring, "template", None)
        keeper.create(keeper.database(cluster.db_cluster_identifier), template)
    return cluster


def _restore_db_cluster_from_snapshot(
    self: Any, from_snapshot_id: str, overrides: dict[str, Any]
) -> Any:
    snapshot = self.describe_db_cluster_snapshots(
        db_cluster_identifier=None, db_snapshot_identifier=from_snapshot_id
    )[0]
    keeper = _keeper(snapshot.cluster.engine)
    _restoring.template = _snapshot_database(keeper, snapshot) if keeper is not None else None
    try:
        return _originals["restore_db_cluster_from_snapshot"](self, from_snapshot_id, overrides)
    finally:
        _restoring.template = None


def _restore_db_cluster_to_point_in_time(
    self: Any, db_cluster_identifier: str, source_db_cluster_identifier: str, *args: Any,
    **kwargs: Any,
) -> Any:
    source = self.describe_db_clusters(db_cluster_identifier=source_db_cluster_identifier)[0]
    keeper = _keeper(source.engine)
    _restoring.template = (
        keeper.database(source.db_cluster_identifier) if keeper is not None else None
    )
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
    keeper = _keeper(snapshot.cluster.engine)
    if keeper is not None and snapshot_type != "automated":
        digest = hashlib.sha256(snapshot.db_cluster_snapshot_arn.encode()).hexdigest()[:16]
        copy = keeper.snapshot_database(digest)
        keeper.create(copy, keeper.database(db_cluster_identifier))
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
    if _keepers:
        source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        setattr(copied, SNAPSHOT_ATTRIBUTE, getattr(source, SNAPSHOT_ATTRIBUTE, None))
    return copied


def _modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
    old, new = kwargs.get("db_cluster_identifier"), kwargs.get("new_db_cluster_identifier")
    result = _originals["modify_db_cluster"](self, kwargs)
    if old and new and new != old:
        keeper = _keeper(getattr(result, "engine", None))
        if keeper is not None:
            keeper.rename(keeper.database(old), keeper.database(new))
    return result


def _delete_db_cluster(self: Any, cluster_identifier: str, snapshot_name: str | None = None) -> Any:
    cluster = _originals["delete_db_cluster"](self, cluster_identifier, snapshot_name)
    keeper = _keeper(getattr(cluster, "engine", None))
    if keeper is not None:
        keeper.drop(keeper.database(cluster_identifier))
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
