"""The quarantine on both engines (handlers/lib/quarantine.py with each engine's built-in
checks): a rule empties the outbound queue and its check passes, a failing check stops the run;
MySQL's built-ins disable production's scheduled events, quarantine FEDERATED servers that
point outside, and fail on a replication source. (One test per engine: MySQL's servers are
global to the test server, so nothing else here runs the quarantine at the same time.)"""

from __future__ import annotations

from typing import Any

import pytest

from handlers.lib import quarantine
from handlers.lib.errors import QuarantineFailed
from handlers.lib.masking import Deadline
from handlers.lib.quarantine_rules import SENTINEL_HOST, HostPolicy, Rule

from .conftest import Scratch

OWN = ("staging.cluster-x.rds.amazonaws.com",)
PRODUCTION = "prod-orders.cluster-c0ffee123456.us-west-2.rds.amazonaws.com"


def plan(*rules: Rule) -> quarantine.Plan:
    return quarantine.Plan(tuple(rules), HostPolicy(OWN, ()))


def test_rules_checks_and_the_engines_builtins(scratch: Scratch, admin_conn: Any) -> None:
    scratch.execute(admin_conn, "CREATE TABLE outbound_email (id int PRIMARY KEY, "
                                "recipient varchar(80) NOT NULL)")
    values = ", ".join(f"({i}, 'customer{i}@example.com')" for i in range(1, 26))
    scratch.execute(admin_conn, f"INSERT INTO outbound_email VALUES {values}")

    lazy = Rule("outbound-email", ("UPDATE outbound_email SET recipient = recipient",),
                "SELECT id FROM outbound_email")
    with pytest.raises(QuarantineFailed, match=r"rule outbound-email: its check returned 25 "
                                               r"row\(s\)") as failure:
        quarantine.run(admin_conn, scratch.engine, plan(lazy), Deadline(None))
    assert "customer" not in str(failure.value)  # counts, never a value

    if scratch.mysql:  # production's scheduled job, as it arrives in the snapshot
        scratch.execute(admin_conn, "CREATE EVENT send_mail ON SCHEDULE EVERY 1 HOUR ENABLE "
                                    "DO DELETE FROM outbound_email")
    # another rule (the failed run's progress says "outbound-email" ran: a retry would not
    # run it again)
    emptied = Rule("outbound-queue", ("DELETE FROM outbound_email",),
                   "SELECT 1 FROM outbound_email LIMIT 1")
    outcome = quarantine.run(admin_conn, scratch.engine, plan(emptied), Deadline(None))
    assert outcome.done
    assert scratch.rows(admin_conn, "SELECT count(*) FROM outbound_email") == [[0]]
    assert "rule outbound-queue" in outcome.checks_passed
    builtins = {b.name: b for b in outcome.builtins}
    if not scratch.mysql:
        assert builtins["pg_cron"].note == "pg_cron is not installed"
        return
    assert builtins["events"].done == [f"event {scratch.schema}.send_mail disabled"]
    assert scratch.rows(admin_conn, "SELECT STATUS FROM information_schema.EVENTS WHERE "
                                    "EVENT_NAME = 'send_mail'") == [["DISABLED"]]
    assert builtins["replication"].note == "no replication source configured"
    assert {"builtin events", "builtin federated_servers", "builtin replication"} <= set(
        outcome.checks_passed)

    # a FEDERATED server to production (creating and altering servers needs SUPER or
    # FEDERATED ADMIN: the test's superuser; Aurora MySQL has no FEDERATED engine at all)
    server = scratch.user("prod")
    su = scratch.as_superuser()
    try:
        scratch.execute(su, f"CREATE SERVER `{server}` FOREIGN DATA WRAPPER mysql OPTIONS "
                            f"(HOST '{PRODUCTION}', DATABASE 'reporting', USER 'reporting_ro', "
                            "PASSWORD 'not-a-real-production-password', PORT 3306)")
        denied = scratch.engine.quarantine_builtin(admin_conn, "federated_servers",
                                                   plan().hosts, None)
        assert any(f"server {server}" in f and "could not be quarantined" in f
                   for f in denied.failing)
        assert "not-a-real" not in repr(denied)
        done = scratch.engine.quarantine_builtin(su, "federated_servers", plan().hosts, None)
        mine = [d for d in done.done if f"server {server} " in d]
        assert mine == [f"server {server} (mysql) pointed {PRODUCTION} → {SENTINEL_HOST}; "
                        "its credentials removed"]
        assert scratch.rows(su, f"SELECT Host, Password FROM mysql.servers WHERE "
                                f"Server_name = '{server}'") == [[SENTINEL_HOST, ""]]
    finally:
        scratch.execute(su, f"DROP SERVER IF EXISTS `{server}`")
        scratch.close(su)
