"""The database step handlers end to end on both engines: moto for Secrets Manager/DynamoDB,
`AURORA_RESTORE_DB_MODE=override` pointing at the engine's test server (through the engine's
own variables, `…_MYSQL` / `…_POSTGRESQL`, the way the sandbox serves both at once)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import mask_data, reset_app_users, scan_pii, verify
from handlers.lib import db, health
from handlers.lib.errors import SqlScriptFailed, VerificationFailed

from .conftest import Scratch
from .test_sql_files import MASK

REGION = "us-east-1"
TABLE = "aurora-restore-audit-test"
APP_PASSWORD = "app-Pa55'\"\\$$;--é%s"
RO_PASSWORD = "ro-s3cret wörd'"


@pytest.fixture
def env(scratch: Scratch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[dict[str, Any]]:
    suffix = db.engine_suffix(scratch.engine_name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "ENVIRONMENT": "test", "DYNAMODB_TABLE": TABLE, "SNS_TOPIC": "arn:aws:sns:x",
        "MASTER_SECRET_ID": "aurora-restore/test/master",
        "APP_SECRET_ID": "aurora-restore/test/app",
        "DRILL_SECRET_ID": "aurora-restore/test/drill",
        "MASKING_SECRET_ID": "aurora-restore/test/masking",
        "AURORA_RESTORE_DB_MODE": "skip",  # the other engine's: this one's own variables win
        f"AURORA_RESTORE_DB_MODE_{suffix}": "override",
        f"AURORA_RESTORE_DB_HOST_{suffix}": scratch.server.host,
        f"AURORA_RESTORE_DB_PORT_{suffix}": str(scratch.server.port),
        f"AURORA_RESTORE_DB_ADMIN_SECRET_ID_{suffix}": "aurora-restore/test/local-admin",
        f"AURORA_RESTORE_DB_SSL_{suffix}": "verify",
        f"AURORA_RESTORE_DB_CA_{suffix}": str(scratch.server.ca_file),
        "AURORA_RESTORE_SQL_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    (tmp_path / "01_mask.sql").write_text(MASK)
    app, ro = scratch.user("app"), scratch.user("ro")
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name="aurora-restore/test/local-admin", SecretString=json.dumps(
            {"username": scratch.admin.username, "password": scratch.admin.password}))
        secrets.create_secret(Name="aurora-restore/test/masking",
                              SecretString=json.dumps({"key": "ab" * 32}))
        secrets.create_secret(Name="aurora-restore/test/app", SecretString=json.dumps(
            {"users": {app: APP_PASSWORD, ro: RO_PASSWORD}}))
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "operation_id", "KeyType": "HASH"},
                       {"AttributeName": "timestamp", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "operation_id", "AttributeType": "S"},
                                  {"AttributeName": "timestamp", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s = scratch.schema
        rules = [{"schema": s, "table": "customers", "column": c, "transformer": t,
                  "argument": None} for c, t in (
            ("email", "sql"), ("phone", "sql"), ("first_name", "sql"), ("last_name", "sql"),
            ("street", "address"), ("postal_code", "hash"), ("date_of_birth", "date_shift"))]
        rules += [{"schema": s, "table": "orders", "column": c, "transformer": t,
                   "argument": None} for c, t in (("shipping_address", "address"),
                                                  ("notes", "sql"))]
        yield {
            "operation_id": "op-20260101-000000-test",
            "request": {"snapshot_id": None, "requested_by": "tests"},
            "settings": {
                "env": "test", "region": REGION, "account_id": "123456789012",
                "target": {"cluster_id": "dev-orders", "engine": scratch.engine_name,
                           "port": scratch.engine.default_port},
                "database": {
                    "name": scratch.name,
                    "connect_timeout_seconds": 5,
                    "users": [{"name": app, "privilege": "read-write"},
                              {"name": ro, "privilege": "read-only"}],
                    "post_restore_sql": ["01_mask.sql"],
                    "verify": {"expected_tables": [{"name": f"{s}.customers", "min_rows": 1},
                                                   {"name": "orders"}]},
                },
                "masking": {"rules": rules, "sql_files": "after", "batch_rows": 100,
                            "scan": {"sample_rows": 1000}},
                "audit_ttl_days": 30,
            },
            "pipeline": {"masking": {"max_invocations": 3}},
            "staging_cluster_id": "dev-orders-staging",
            "timings": {},
        }


def audit_items(operation_id: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)
    items = table.query(KeyConditionExpression="operation_id = :o",
                        ExpressionAttributeValues={":o": operation_id})["Items"]
    return sorted(items, key=lambda item: str(item["timestamp"]))


def run_pipeline(document: dict[str, Any]) -> dict[str, Any]:
    document = reset_app_users.handler(document, None)
    while not (document.get("masking") or {}).get("done"):  # the state machine's loop
        document = mask_data.handler(document, None)
    for step in (scan_pii, verify):
        document = step.handler(document, None)
    return document


def test_the_database_steps_succeed_and_audit_without_secrets(
    env: dict[str, Any], scratch: Scratch, capsys: pytest.CaptureFixture[str],
) -> None:
    document = run_pipeline(copy.deepcopy(env))

    steps = ["reset-app-users", "mask-data", "scan-pii", "verify"]
    assert document["progress"] == steps
    assert document["masking"]["done"] and document["pii_scan"]["uncovered"] == 0
    items = audit_items(env["operation_id"])
    assert [(i["step"], i["status"]) for i in items] == [(s, "SUCCEEDED") for s in steps]
    users, masked, scan, checked = (i["details"] for i in items)
    assert [(u["name"], u["action"]) for u in users["users"]] == [
        (scratch.user("app"), "created"), (scratch.user("ro"), "created")]
    assert users["tls"] == "verify" and users["database"] == scratch.name
    assert masked["files"] == ["after: 01_mask.sql"] and masked["done"]
    assert scan["uncovered"] == 0 and scan["tables"] == 2
    assert checked["tables_checked"] == 2 and checked["user"] == scratch.user("app")

    conn = scratch.connect(scratch.user("ro"), RO_PASSWORD)
    assert scratch.rows(conn, "SELECT count(*) FROM customers WHERE email LIKE '%.invalid'") \
        == [[3]]
    scratch.close(conn)
    everything = json.dumps([document, items], default=str) + "".join(capsys.readouterr())
    for secret in (APP_PASSWORD, RO_PASSWORD, scratch.admin.password):
        assert secret not in everything


def test_skip_mode_for_this_engine_touches_no_database(
    env: dict[str, Any], scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = db.engine_suffix(scratch.engine_name)
    monkeypatch.setenv(f"AURORA_RESTORE_DB_MODE_{suffix}", "skip")
    monkeypatch.setenv(f"AURORA_RESTORE_DB_SKIP_REASON_{suffix}", "no such server here")
    monkeypatch.setenv(f"AURORA_RESTORE_DB_PORT_{suffix}", "1")  # fails if anything connected
    run_pipeline(copy.deepcopy(env))
    items = audit_items(env["operation_id"])
    assert [i["status"] for i in items] == ["SKIPPED"] * 4
    assert all(i["details"]["reason"] == "no such server here" for i in items)


def test_a_failing_file_fails_the_step_with_an_audit_item(
    env: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "02_broken.sql").write_text("UPDATE nowhere SET x = 1;")
    env["settings"]["database"]["post_restore_sql"] = ["01_mask.sql", "02_broken.sql"]
    document = reset_app_users.handler(copy.deepcopy(env), None)
    with pytest.raises(SqlScriptFailed, match=r"02_broken\.sql failed"):
        mask_data.handler(document, None)
    failed = audit_items(env["operation_id"])[-1]
    assert (failed["step"], failed["status"]) == ("mask-data", "FAILED")
    assert "committed before it: 01_mask.sql" in failed["details"]["message"]


def test_a_missing_table_fails_verify(env: dict[str, Any]) -> None:
    env["settings"]["database"]["verify"]["expected_tables"].append({"name": "invoices"})
    document = reset_app_users.handler(copy.deepcopy(env), None)
    with pytest.raises(VerificationFailed, match=r"missing tables: invoices"):
        verify.handler(document, None)


def test_a_wrong_admin_password_is_a_named_failure_without_the_password(
    env: dict[str, Any], scratch: Scratch
) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId="aurora-restore/test/local-admin",
        SecretString=json.dumps({"username": scratch.admin.username, "password": "wrong-xyzzy"}))
    with pytest.raises(db.DatabaseLoginFailed) as failure:
        reset_app_users.handler(copy.deepcopy(env), None)
    failed = audit_items(env["operation_id"])[-1]
    assert failed["details"]["error"] == "DatabaseLoginFailed"
    assert "xyzzy" not in json.dumps(failed, default=str) + str(failure.value)


def test_the_health_check_logs_in_over_verified_tls(env: dict[str, Any],
                                                    scratch: Scratch) -> None:
    settings = {**env["settings"], "target": {**env["settings"]["target"],
                                              "cluster_id": "dev-orders"}}
    answer = health.database(settings)
    assert answer["ok"] and answer["tls"] == "verify", answer
    assert answer["detail"] == "SELECT 1 over verified TLS"
