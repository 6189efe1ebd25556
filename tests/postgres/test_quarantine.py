"""The quarantine on a real PostgreSQL server: declared rules (in batches, resumable), their
checks, and the built-in checks — foreign servers naming a host outside the lower environment,
pg_cron jobs (pg_cron itself is not in Debian's package: its catalog is imitated), logical
replication subscriptions, replication slots, event triggers and publications."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pg8000.native
import pytest
from moto import mock_aws

from handlers import quarantine as quarantine_step
from handlers.lib import db, quarantine
from handlers.lib.engines import engine_for
from handlers.lib.errors import QuarantineFailed
from handlers.lib.masking import Deadline
from handlers.lib.quarantine_rules import HostPolicy, Rule

from .conftest import ScratchDatabase

ENGINE = engine_for("aurora-postgresql")
PRODUCTION = "prod-orders.cluster-c0ffee123456.us-west-2.rds.amazonaws.com"
OUTBOUND = """
CREATE TABLE public.outbound_email (id bigserial PRIMARY KEY, recipient text NOT NULL,
                                    subject text NOT NULL);
INSERT INTO public.outbound_email (recipient, subject)
SELECT 'customer' || n || '@example.com', 'Your order ' || n || ' has shipped'
FROM generate_series(1, 25) n;
"""
TRUNCATE = Rule("outbound-email", ("TRUNCATE public.outbound_email",),
                "SELECT 1 FROM public.outbound_email LIMIT 1")


def plan(*rules: Rule, allowed: tuple[str, ...] = ()) -> quarantine.Plan:
    return quarantine.Plan(tuple(rules), HostPolicy(("staging.cluster-x.rds.amazonaws.com",),
                                                    allowed))


def run(conn: Any, the_plan: quarantine.Plan, seconds: float | None = None) -> quarantine.Outcome:
    return quarantine.run(conn, ENGINE, the_plan, Deadline(seconds))


@pytest.fixture
def outbound(admin_conn: pg8000.native.Connection) -> pg8000.native.Connection:
    admin_conn.run(OUTBOUND)
    return admin_conn


def count(conn: Any, table: str = "public.outbound_email") -> int:
    return int(conn.run(f"SELECT count(*) FROM {table}")[0][0])


def test_a_rule_empties_the_queue_its_check_passes_and_the_progress_goes(
    outbound: pg8000.native.Connection,
) -> None:
    outcome = run(outbound, plan(TRUNCATE))

    assert outcome.done and count(outbound) == 0
    assert outcome.rules == {"outbound-email": {"rows": 0, "done": True}}
    assert "rule outbound-email" in outcome.checks_passed
    assert "builtin foreign_servers" in outcome.checks_passed
    pg_cron = next(b for b in outcome.builtins if b.name == "pg_cron")
    assert pg_cron.note == "pg_cron is not installed" and not pg_cron.failing
    assert outbound.run("SELECT to_regnamespace('aurora_restore_masking')") == [[None]]


def test_a_failing_check_stops_the_run_naming_the_rule(
    outbound: pg8000.native.Connection,
) -> None:
    lazy = Rule("outbound-email", ("UPDATE public.outbound_email SET subject = subject",),
                "SELECT id FROM public.outbound_email")
    with pytest.raises(QuarantineFailed, match=r"rule outbound-email: its check returned 25 "
                                               r"row\(s\)") as failure:
        run(outbound, plan(lazy))
    assert "customer" not in str(failure.value)  # counts, never a value
    assert "before the swap" in str(failure.value)


def test_a_failing_statement_rolls_the_rule_back_and_names_it(
    outbound: pg8000.native.Connection,
) -> None:
    broken = Rule("webhooks", ("TRUNCATE public.outbound_email", "UPDATE public.webhooks SET x = 1"),
                  "SELECT 1 WHERE false")
    with pytest.raises(QuarantineFailed, match=r"rule webhooks, statement 2 failed and was rolled "
                                               r"back: 42P01 relation \"public.webhooks\""):
        run(outbound, plan(broken))
    assert count(outbound) == 25  # statement 1 was rolled back with it


def test_a_repeat_rule_goes_in_batches_across_invocations_and_never_twice(
    outbound: pg8000.native.Connection,
) -> None:
    batches = Rule(
        "outbound-email",
        ("DELETE FROM public.outbound_email WHERE id IN "
         "(SELECT id FROM public.outbound_email ORDER BY id LIMIT 10)",),
        "SELECT count(*) = 0 FROM public.outbound_email",
        repeat=True,
    )
    once = Rule("audit-note", ("INSERT INTO public.orders (customer_id, total_cents) VALUES (1, 1)",),
                "SELECT true")
    ticks = iter([0.0, 0.0, 1.0, 1.0, 2.0, 100.0] + [100.0] * 50)

    def clock() -> float:  # one batch per "second", then the time is up
        return next(ticks)

    first = quarantine.run(outbound, ENGINE, plan(once, batches), Deadline(3.0, clock))
    assert not first.done and first.rules["outbound-email"]["done"] is False
    orders = count(outbound, "public.orders")

    second = run(outbound, plan(once, batches))  # the next invocation resumes

    assert second.done and count(outbound) == 0
    assert second.rules == {"audit-note": {"rows": 1, "done": True},
                            "outbound-email": {"rows": 25, "done": True}}
    assert count(outbound, "public.orders") == orders  # the one-off rule did not run again


def test_a_foreign_server_pointing_outside_is_refused_and_its_credentials_dropped(
    database: ScratchDatabase, outbound: pg8000.native.Connection,
) -> None:
    su = database.as_superuser()
    try:
        su.run("CREATE EXTENSION postgres_fdw")
        su.run("CREATE EXTENSION dblink")
        su.run(f"GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO {database.admin.username}")
        su.run(f"GRANT USAGE ON FOREIGN DATA WRAPPER dblink_fdw TO {database.admin.username}")
    finally:
        su.close()
    outbound.run(f"CREATE SERVER production FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
                 f"(host '{PRODUCTION}', dbname 'orders')")
    outbound.run("CREATE USER MAPPING FOR CURRENT_USER SERVER production "
                 "OPTIONS (user 'reporting', password 'prod-secret')")
    outbound.run("CREATE USER MAPPING FOR PUBLIC SERVER production OPTIONS (user 'x')")
    outbound.run("CREATE SERVER payments FOREIGN DATA WRAPPER dblink_fdw OPTIONS "
                 "(hostaddr '203.0.113.7', host 'payments.prod.internal', dbname 'pay')")
    outbound.run("CREATE SERVER sibling FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
                 "(host 'reports.dev.internal', dbname 'reports')")
    outbound.run("CREATE SERVER itself FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
                 "(host 'localhost', dbname 'orders')")

    outcome = run(outbound, plan(TRUNCATE, allowed=("*.dev.internal",)))

    servers = dict(outbound.run("SELECT srvname, array_to_string(srvoptions, ',') "
                                "FROM pg_foreign_server"))
    assert servers["production"] == "host=quarantined.invalid,dbname=orders"
    assert servers["payments"] == "host=quarantined.invalid,dbname=pay"  # hostaddr dropped
    assert servers["sibling"].startswith("host=reports.dev.internal")
    assert servers["itself"].startswith("host=localhost")
    assert outbound.run("SELECT srvname FROM pg_user_mappings") == []
    result = next(b for b in outcome.builtins if b.name == "foreign_servers")
    assert result.done == [
        "server payments (dblink_fdw) pointed 203.0.113.7, payments.prod.internal → "
        "quarantined.invalid; 0 user mapping(s) dropped",
        f"server production (postgres_fdw) pointed {PRODUCTION} → quarantined.invalid; 2 user "
        "mapping(s) dropped",
    ]
    assert "server sibling (postgres_fdw) → reports.dev.internal: allowed" in result.listed
    assert "prod-secret" not in json.dumps(outcome.details())
    assert run(outbound, plan(TRUNCATE)).done  # a second pass finds nothing left to do


def test_a_foreign_server_it_cannot_change_fails_closed_with_the_fix(
    database: ScratchDatabase, outbound: pg8000.native.Connection,
) -> None:
    su = database.as_superuser()
    try:
        su.run("CREATE EXTENSION postgres_fdw")
        su.run(f"CREATE SERVER production FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
               f"(host '{PRODUCTION}')")  # owned by another role: the admin may not alter it
    finally:
        su.close()
    with pytest.raises(QuarantineFailed) as failure:
        run(outbound, plan(TRUNCATE))
    message = str(failure.value)
    assert f"built-in check foreign_servers: server production (postgres_fdw) → {PRODUCTION} " \
           "could not be quarantined: 42501 must be owner of foreign server production" in message
    assert "fix: as the server's owner: ALTER SERVER <name> OPTIONS" in message


def test_pg_cron_jobs_are_disabled(outbound: pg8000.native.Connection) -> None:
    # pg_cron's catalog as the extension makes it (the extension is not in Debian's package).
    outbound.run("CREATE SCHEMA cron")
    outbound.run("CREATE TABLE cron.job (jobid bigserial PRIMARY KEY, schedule text, "
                 "command text, database text, username text, active boolean DEFAULT true, "
                 "jobname text)")
    outbound.run("INSERT INTO cron.job (schedule, command, jobname) VALUES "
                 "('*/5 * * * *', 'SELECT send_newsletters()', 'newsletter'), "
                 "('0 3 * * *', 'VACUUM', NULL)")
    outcome = run(outbound, plan(TRUNCATE))
    pg_cron = next(b for b in outcome.builtins if b.name == "pg_cron")
    assert pg_cron.done == ["disabled job 1 (newsletter)", "disabled job 2"]
    assert outbound.run("SELECT count(*) FROM cron.job WHERE active") == [[0]]


def test_subscriptions_are_disabled_and_detached_and_the_rest_listed(
    database: ScratchDatabase, outbound: pg8000.native.Connection,
) -> None:
    su = database.as_superuser()  # on Aurora the master user (rds_superuser) owns them
    slot = f"{database.prefix}slot"
    try:
        su.run("CREATE SUBSCRIPTION from_upstream CONNECTION 'host=127.0.0.1 port=1 "
               "dbname=upstream connect_timeout=1' PUBLICATION everything WITH (connect = false, "
               "slot_name = 'upstream_slot', enabled = false)")
        su.run("ALTER SUBSCRIPTION from_upstream ENABLE")  # production's was running
        su.run("CREATE FUNCTION public.note_ddl() RETURNS event_trigger LANGUAGE plpgsql "
               "AS $$ BEGIN END $$")
        su.run("CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION "
               "public.note_ddl()")
        su.run("CREATE PUBLICATION orders_pub FOR TABLE public.orders")
        su.run("SELECT pg_create_physical_replication_slot(:s)", s=slot)

        outcome = quarantine.run(su, ENGINE, plan(TRUNCATE), Deadline(None))

        subscriptions = next(b for b in outcome.builtins if b.name == "subscriptions")
        assert subscriptions.done == [
            "disabled subscription from_upstream",
            "detached subscription from_upstream from its publisher's slot",
        ]
        assert su.run("SELECT subenabled, subslotname FROM pg_subscription "
                      "WHERE subname = 'from_upstream'") == [[False, None]]
        slots = next(b for b in outcome.builtins if b.name == "replication_slots")
        assert f"physical slot {slot} (the whole server): not this database's" in slots.listed
        listed = outcome.summary()["listed"]
        assert "publication orders_pub" in listed
        assert "event trigger audit_ddl on ddl_command_end" in listed
    finally:
        su.run("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
               "WHERE slot_name = :s", s=slot)
        for sql in ("ALTER SUBSCRIPTION from_upstream DISABLE",
                    "ALTER SUBSCRIPTION from_upstream SET (slot_name = NONE)",
                    "DROP SUBSCRIPTION IF EXISTS from_upstream",
                    "DROP EVENT TRIGGER IF EXISTS audit_ddl"):
            with contextlib.suppress(Exception):
                su.run(sql)
        su.close()


# --- the step handler: override mode, audit ---------------------------------------------------

REGION = "us-east-1"
TABLE = "aurora-restore-audit-test"


@pytest.fixture
def env(database: ScratchDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "ENVIRONMENT": "test",
        "DYNAMODB_TABLE": TABLE, "MASTER_SECRET_ID": "aurora-restore/test/master",
        "AURORA_RESTORE_DB_MODE": "override",
        "AURORA_RESTORE_DB_HOST": database.server.host,
        "AURORA_RESTORE_DB_PORT": str(database.server.port),
        "AURORA_RESTORE_DB_ADMIN_SECRET_ID": "aurora-restore/test/local-admin",
        "AURORA_RESTORE_DB_SSL": "verify", "AURORA_RESTORE_DB_CA": str(database.server.ca_file),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    conn = database.as_admin()
    conn.run(OUTBOUND)
    conn.close()
    with mock_aws():
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="aurora-restore/test/local-admin",
            SecretString=json.dumps({"username": database.admin.username,
                                     "password": database.admin.password}),
        )
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "operation_id", "KeyType": "HASH"},
                       {"AttributeName": "timestamp", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "operation_id", "AttributeType": "S"},
                                  {"AttributeName": "timestamp", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {
            "operation_id": "op-20260101-000000-test",
            "settings": {
                "env": "test", "region": REGION, "account_id": "123456789012",
                "target": {"cluster_id": "dev-orders", "engine": "aurora-postgresql"},
                "database": {"name": database.name, "connect_timeout_seconds": 5},
                "quarantine": {"rules": [TRUNCATE.to_json()], "allowed_hosts": []},
            },
            "pipeline": {"quarantine": {"max_invocations": 2}},
            "staging_cluster_id": "dev-orders-stg-x",
            "timings": {},
        }


def audit(operation_id: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)
    items = table.query(KeyConditionExpression="operation_id = :o",
                        ExpressionAttributeValues={":o": operation_id})["Items"]
    return sorted(items, key=lambda item: str(item["timestamp"]))


def test_the_step_quarantines_and_audits(env: dict[str, Any], database: ScratchDatabase) -> None:
    document = quarantine_step.handler(copy.deepcopy(env), None)

    assert document["quarantine"]["done"] and document["quarantine"]["invocations"] == 1
    assert document["quarantine"]["checks_passed"] == 5  # the rule and four built-ins
    (item,) = audit(env["operation_id"])
    assert (item["step"], item["status"]) == ("quarantine", "SUCCEEDED")
    assert item["details"]["rules"] == {"outbound-email": {"rows": 0, "done": True}}
    assert item["details"]["tls"] == "verify"
    conn = database.as_admin()
    assert count(conn) == 0
    conn.close()


def test_the_step_fails_closed_with_an_audit_item_naming_the_rule(env: dict[str, Any]) -> None:
    env["settings"]["quarantine"]["rules"] = [
        {**TRUNCATE.to_json(), "sql": ["SELECT 1"]}  # forgets to empty the queue
    ]
    with pytest.raises(QuarantineFailed, match="rule outbound-email: its check returned one row"):
        quarantine_step.handler(copy.deepcopy(env), None)
    (item,) = audit(env["operation_id"])
    assert (item["step"], item["status"]) == ("quarantine", "FAILED")
    assert "rule outbound-email" in item["details"]["message"]


def test_skip_mode_records_skipped(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURORA_RESTORE_DB_MODE", "skip")
    document = quarantine_step.handler(copy.deepcopy(env), None)
    assert document["quarantine"] == {"done": True, "invocations": 1}
    assert audit(env["operation_id"])[0]["status"] == "SKIPPED"


def test_the_own_endpoint_is_allowed_before_and_after_the_swap() -> None:
    document = {"settings": {"target": {"cluster_id": "dev-orders"}},
                "staging_cluster_id": "dev-orders-stg-abc",
                "staging_endpoint": {"address": "dev-orders-stg-abc.cluster-c9x.us-east-1.rds."
                                                "amazonaws.com"}}
    target = db.Target("10.0.0.5", 5432, "orders", None)
    own = quarantine_step.own_hosts(document, target)
    policy = HostPolicy(own)
    assert policy.allows("dev-orders.cluster-c9x.us-east-1.rds.amazonaws.com")
    assert policy.allows("dev-orders.cluster-ro-c9x.us-east-1.rds.amazonaws.com")
    assert policy.allows("10.0.0.5") and policy.allows("localhost")
    assert not policy.allows("prod-orders.cluster-c9x.us-east-1.rds.amazonaws.com")
