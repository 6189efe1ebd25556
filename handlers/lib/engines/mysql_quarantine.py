"""MySQL's built-in quarantine checks (`Engine.quarantine_builtin`): production's side effects
that MySQL itself carries in a snapshot, made harmless in the restored cluster before the swap.

- `events`: Event Scheduler events (MySQL's scheduled jobs) are disabled (`ALTER EVENT …
  DISABLE`), in every database the engine sees.
- `federated_servers`: servers in `mysql.servers` (what FEDERATED tables name with
  `CONNECTION='<server>'`) that point outside the lower environment are pointed at the
  sentinel host and lose their credentials (`ALTER SERVER … OPTIONS (HOST …, USER '',
  PASSWORD '')`); FEDERATED tables whose own connection string names such a host fail the
  check (their definition holds the credentials; a human decides).
- `replication`: a replication source configured on the restored cluster (binlog replication
  from production) fails the check; it is never stopped here (on Aurora only
  `mysql.rds_stop_replication` may, as the master user).

Names and hosts only in the results: never a password, a connection string or a row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from handlers.lib.engines import BuiltinCheck, BuiltinResult, Statement
from handlers.lib.engines import mysql_connection as myc
from handlers.lib.quarantine_rules import SENTINEL_HOST, HostPolicy

QUARANTINE_CHECKS = (
    BuiltinCheck(
        "events",
        "Event Scheduler events are disabled (ALTER EVENT … DISABLE)",
        "ALTER EVENT <database>.<event> DISABLE as its definer or a user with EVENT on its "
        "database, then run again",
    ),
    BuiltinCheck(
        "federated_servers",
        "servers of FEDERATED tables (mysql.servers) naming a host outside the lower "
        f"environment are pointed at {SENTINEL_HOST} and lose their credentials; FEDERATED "
        "tables with such a host in their own connection string fail the check; hosts allowed: "
        "the cluster's own endpoints, localhost, quarantine.allowed_hosts",
        "ALTER SERVER <name> OPTIONS (HOST '<allowed host>', USER '', PASSWORD ''), or ALTER "
        "TABLE <table> CONNECTION='<server name>' / DROP TABLE for a FEDERATED table with an "
        "inline connection; or add the host to quarantine.allowed_hosts",
    ),
    BuiltinCheck(
        "replication",
        "a replication source configured on the restored cluster fails the check",
        "CALL mysql.rds_stop_replication; CALL mysql.rds_reset_external_master (Aurora MySQL, "
        "as the master user), then run again",
    ),
)
# mysql://user:password@host:port/db/table — only the host is ever read or shown
CONNECTION_HOST = re.compile(r"^[a-z]+://(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)", re.I)
NO_SUCH_STATEMENT = {1064, 1146, 1227}  # syntax (older server), no such table, not allowed


class MySQLQuarantine:
    """The built-in checks on one connection (autocommit)."""

    def __init__(self, engine: Any, conn: Any, hosts: HostPolicy,
                 scope: Callable[[str], tuple[str, dict[str, Any]]]) -> None:
        self.engine, self.conn, self.hosts, self.scope = engine, conn, hosts, scope

    def run(self, name: str) -> BuiltinResult:
        if name not in {c.name for c in QUARANTINE_CHECKS}:
            raise ValueError(f"no built-in quarantine check {name!r}")
        result: BuiltinResult = getattr(self, name)(BuiltinResult(name))
        return result

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        return list(self.engine.run(self.conn, Statement(sql, params)))

    def _try(self, result: BuiltinResult, what: str, sql: str, **params: Any) -> bool:
        """One statement (MySQL commits DDL and account statements at once); a server error
        becomes a failing entry, a timeout is raised."""
        try:
            self._rows(sql, **params)
        except Exception as exc:
            if self.engine.cancelled(exc) or not myc.is_server_error(exc):
                raise
            result.failing.append(f"{what}: {self.engine.describe_error(exc)}")
            return False
        return True

    def events(self, result: BuiltinResult) -> BuiltinResult:
        where, params = self.scope("EVENT_SCHEMA")
        for schema, name in self._rows(
            f"SELECT EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS WHERE {where} "
            "AND STATUS = 'ENABLED' ORDER BY EVENT_SCHEMA, EVENT_NAME", **params
        ):
            label = f"event {self.engine.logical(str(schema))}.{name}"
            if self._try(result, f"{label} could not be disabled",
                         f"ALTER EVENT {self.engine.quote(str(schema))}."
                         f"{self.engine.quote(str(name))} DISABLE"):
                result.done.append(f"{label} disabled")
        return result

    def federated_servers(self, result: BuiltinResult) -> BuiltinResult:
        for name, host, wrapper in self._servers():
            if self.hosts.allows(host or "localhost"):
                result.listed.append(f"server {name} ({wrapper}) → {host or 'local'}: allowed")
                continue
            if self._try(result, f"server {name} ({wrapper}) → {host} could not be quarantined",
                         f"ALTER SERVER {self.engine.quote(name)} OPTIONS "
                         "(HOST %(host)s, USER '', PASSWORD '')", host=SENTINEL_HOST):
                result.done.append(f"server {name} ({wrapper}) pointed {host} → {SENTINEL_HOST}; "
                                   "its credentials removed")
        where, params = self.scope("TABLE_SCHEMA")
        for schema, table, options in self._rows(
            f"SELECT TABLE_SCHEMA, TABLE_NAME, CREATE_OPTIONS FROM information_schema.TABLES "
            f"WHERE {where} AND UPPER(ENGINE) IN ('FEDERATED', 'FEDERATEDX')", **params
        ):
            remote = self._connection_host(str(schema), str(table), str(options or ""))
            label = f"FEDERATED table {self.engine.logical(str(schema))}.{table}"
            if remote is None:
                result.listed.append(f"{label} → a server")
            elif not self.hosts.allows(remote):
                result.failing.append(f"{label} connects to {remote} (its definition holds the "
                                      "connection)")
            else:
                result.listed.append(f"{label} → {remote}: allowed")
        return result

    def _servers(self) -> list[tuple[str, str, str]]:
        try:
            rows = self._rows("SELECT Server_name, Host, Wrapper FROM mysql.servers "
                              "ORDER BY Server_name")
        except Exception as exc:
            if myc.is_server_error(exc) and myc.error_fields(exc)[0] in NO_SUCH_STATEMENT:
                return []
            raise
        return [(str(n), str(h or ""), str(w or "mysql")) for n, h, w in rows]

    def _connection_host(self, schema: str, table: str, options: str) -> str | None:
        """The host of a FEDERATED table's own connection string (None: it names a server)."""
        rows = self._rows(f"SHOW CREATE TABLE {self.engine.quote(schema)}."
                          f"{self.engine.quote(table)}")
        definition = str(rows[0][1]) if rows else options
        found = re.search(r"CONNECTION\s*=\s*'([^']*)'", definition, re.I)
        if not found:
            return None
        matched = CONNECTION_HOST.match(found.group(1))
        return matched.group(1).strip("[]") if matched else None

    def replication(self, result: BuiltinResult) -> BuiltinResult:
        rows: list[Any] = []
        for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
            try:
                with self.conn.cursor() as cursor:
                    cursor.execute(statement)
                    names = [d[0] for d in cursor.description or ()]
                    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                break
            except Exception as exc:
                if not (myc.is_server_error(exc) and myc.error_fields(exc)[0] == 1064):
                    raise
        for row in rows:
            host = row.get("Source_Host") or row.get("Master_Host") or ""
            channel = row.get("Channel_Name") or row.get("Connection_name") or "default"
            if host:
                result.failing.append(f"replication channel {channel} from {host}")
        if not rows:
            result.note = "no replication source configured"
        return result
