"""The three database step handlers end to end: moto for Secrets Manager/DynamoDB/RDS,
`AURORA_RESTORE_DB_MODE=override` pointing at the real PostgreSQL test server."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import mask_data, reset_app_users, scan_pii, verify
from handlers.lib.errors import SqlScriptFailed, VerificationFailed

from .conftest import ScratchDatabase

MASK_PII = Path(__file__).resolve().parent / "mask_pii.sql"  # a hand-written masking file
REGION = "us-east-1"
TABLE = "aurora-restore-audit-test"
APP_PASSWORD = "app-Pa55'\"\\$$;--é"
RO_PASSWORD = "ro-s3cret wörd'"


@pytest.fixture
def env(
    database: ScratchDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """moto + secrets + audit table + override env; yields a fresh state document."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "ENVIRONMENT": "test",
        "DYNAMODB_TABLE": TABLE,
        "MASTER_SECRET_ID": "aurora-restore/test/master",
        "APP_SECRET_ID": "aurora-restore/test/app",
        "MASKING_SECRET_ID": "aurora-restore/test/masking",
        "AURORA_RESTORE_DB_MODE": "override",
        "AURORA_RESTORE_DB_HOST": database.server.host,
        "AURORA_RESTORE_DB_PORT": str(database.server.port),
        "AURORA_RESTORE_DB_ADMIN_SECRET_ID": "aurora-restore/test/local-admin",
        "AURORA_RESTORE_DB_SSL": "verify",
        "AURORA_RESTORE_DB_CA": str(database.server.ca_file),
        "AURORA_RESTORE_SQL_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    (tmp_path / "01_mask_pii.sql").write_text(MASK_PII.read_text())
    app, ro = database.role("app"), database.role("ro")
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(
            Name="aurora-restore/test/local-admin",
            SecretString=json.dumps(
                {"username": database.admin.username, "password": database.admin.password}
            ),
        )
        secrets.create_secret(
            Name="aurora-restore/test/masking", SecretString=json.dumps({"key": "ab" * 32})
        )
        secrets.create_secret(
            Name="aurora-restore/test/app",
            SecretString=json.dumps(
                {
                    "host": "x",
                    "port": 5432,
                    "dbname": database.name,
                    "users": {app: APP_PASSWORD, ro: RO_PASSWORD},
                }
            ),
        )
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "operation_id", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "operation_id", "AttributeType": "S"},
                {"AttributeName": "timestamp", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {
            "operation_id": "op-20260101-000000-test",
            "request": {"snapshot_id": None, "requested_by": "tests"},
            "settings": {
                "env": "test",
                "region": REGION,
                "account_id": "123456789012",
                "target": {"cluster_id": "dev-orders", "port": 5432},
                "database": {
                    "name": database.name,
                    "connect_timeout_seconds": 5,
                    "schemas": ["public"],
                    "users": [
                        {"name": app, "privilege": "read-write"},
                        {"name": ro, "privilege": "read-only"},
                    ],
                    "post_restore_sql": ["01_mask_pii.sql"],
                    "verify": {
                        "expected_tables": [
                            {"name": "public.customers", "min_rows": 1},
                            {"name": "public.orders"},
                        ]
                    },
                },
                "masking": {"rules": HAND_MASKED, "sql_files": "after", "batch_rows": 100,
                            "scan": {"sample_rows": 1000}},
                "audit_ttl_days": 30,
            },
            "pipeline": {"masking": {"max_invocations": 3}},
            "staging_cluster_id": "dev-orders-staging",
            "timings": {},
        }


# The columns tests/postgres/mask_pii.sql masks: the PII gate judges them by their values.
HAND_MASKED = [
    {"schema": "public", "table": table, "column": column, "transformer": "sql"}
    for table, columns in (
        ("customers", ("email", "phone", "first_name", "last_name", "street", "postal_code",
                       "date_of_birth")),
        ("orders", ("shipping_address", "notes")),
    )
    for column in columns
]


def audit_items(operation_id: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)
    items = table.query(
        KeyConditionExpression="operation_id = :o",
        ExpressionAttributeValues={":o": operation_id},
    )["Items"]
    return sorted(items, key=lambda item: str(item["timestamp"]))


def run_pipeline(document: dict[str, Any]) -> dict[str, Any]:
    document = reset_app_users.handler(document, None)
    while not (document.get("masking") or {}).get("done"):  # the state machine's loop
        document = mask_data.handler(document, None)
    for step in (scan_pii, verify):
        document = step.handler(document, None)
    return document


def assert_no_secret(text: str, database: ScratchDatabase) -> None:
    for secret in (APP_PASSWORD, RO_PASSWORD, database.admin.password, "SCRAM-SHA-256$"):
        assert secret not in text


def test_database_steps_succeed_and_audit_without_secrets(
    env: dict[str, Any],
    database: ScratchDatabase,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # INFO for everything; DEBUG for ours and the driver. (botocore's own DEBUG output logs
    # response bodies, secret values included, whoever calls it: keep it off in production.)
    caplog.set_level(logging.INFO)
    for logger in ("aurora_restore", "handlers", "pg8000", "scramp"):
        caplog.set_level(logging.DEBUG, logger=logger)
    document = run_pipeline(copy.deepcopy(env))

    steps = ["reset-app-users", "mask-data", "scan-pii", "verify"]
    assert set(document["timings"]) == set(steps) and document["progress"] == steps
    added = ("timings", "progress", "masking", "pii_scan")
    assert {k: v for k, v in document.items() if k not in added} == {
        k: v for k, v in env.items() if k not in added
    }
    assert document["masking"]["done"] and document["pii_scan"]["uncovered"] == 0
    items = audit_items(env["operation_id"])
    assert [(i["step"], i["status"]) for i in items] == [
        ("reset-app-users", "SUCCEEDED"),
        ("mask-data", "SUCCEEDED"),
        ("scan-pii", "SUCCEEDED"),
        ("verify", "SUCCEEDED"),
    ]
    users, sql, scan, checked = (i["details"] for i in items)
    assert scan["uncovered"] == 0 and scan["tables"] == 2
    assert [(u["name"], u["action"]) for u in users["users"]] == [
        (database.role("app"), "created"),
        (database.role("ro"), "created"),
    ]
    assert users["tls"] == "verify" and users["database"] == database.name
    assert sql["files"] == ["after: 01_mask_pii.sql"] and sql["done"]
    assert checked["tables_checked"] == 2 and checked["tables_ok"] == 2
    assert checked["user"] == database.role("app")

    conn = database.connect(database.role("ro"), RO_PASSWORD)
    assert conn.run("SELECT count(*) FROM public.customers WHERE email LIKE '%.invalid'") == [[3]]
    conn.close()
    # the capture is not vacuous (one JSON line per event: handlers/lib/logs.py)
    assert '"step": "verify", "level": "INFO", "message": "SUCCEEDED"' in caplog.text
    captured = capsys.readouterr()
    everything = json.dumps([document, items], default=str) + caplog.text + captured.out
    assert_no_secret(everything + captured.err, database)


def test_skip_mode_records_skipped_and_touches_no_database(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AURORA_RESTORE_DB_MODE", "skip")
    monkeypatch.setenv("AURORA_RESTORE_DB_PORT", "1")  # would fail if anything connected

    run_pipeline(copy.deepcopy(env))

    items = audit_items(env["operation_id"])
    assert [(i["step"], i["status"]) for i in items] == [
        ("reset-app-users", "SKIPPED"),
        ("mask-data", "SKIPPED"),
        ("scan-pii", "SKIPPED"),
        ("verify", "SKIPPED"),
    ]
    assert all("no database in the sandbox" in i["details"]["reason"] for i in items)


def test_failing_sql_fails_the_step_with_an_audit_item(
    env: dict[str, Any], database: ScratchDatabase, tmp_path: Path
) -> None:
    (tmp_path / "02_broken.sql").write_text("UPDATE public.orders SET total_cents = 1/0;")
    env["settings"]["database"]["post_restore_sql"] = ["01_mask_pii.sql", "02_broken.sql"]
    document = reset_app_users.handler(copy.deepcopy(env), None)

    with pytest.raises(SqlScriptFailed, match=r"02_broken\.sql failed: 22012 division by zero"):
        mask_data.handler(document, None)

    failed = audit_items(env["operation_id"])[-1]
    assert (failed["step"], failed["status"]) == ("mask-data", "FAILED")
    assert failed["details"]["error"] == "SqlScriptFailed"
    assert "committed before it: 01_mask_pii.sql" in failed["details"]["message"]


def test_verification_failure_names_the_missing_table(
    env: dict[str, Any], database: ScratchDatabase
) -> None:
    env["settings"]["database"]["verify"]["expected_tables"].append({"name": "public.invoices"})
    document = reset_app_users.handler(copy.deepcopy(env), None)

    with pytest.raises(VerificationFailed, match=r"missing tables: public\.invoices"):
        verify.handler(document, None)
    failed = audit_items(env["operation_id"])[-1]
    assert (failed["step"], failed["details"]["error"]) == ("verify", "VerificationFailed")


def test_wrong_admin_password_is_a_named_failure_without_the_password(
    env: dict[str, Any], database: ScratchDatabase
) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId="aurora-restore/test/local-admin",
        SecretString=json.dumps({"username": database.admin.username, "password": "wrong-xyzzy"}),
    )
    with pytest.raises(Exception) as failure:
        reset_app_users.handler(copy.deepcopy(env), None)
    assert type(failure.value).__name__ == "DatabaseLoginFailed"
    failed = audit_items(env["operation_id"])[-1]
    assert failed["details"]["error"] == "DatabaseLoginFailed"
    assert "xyzzy" not in json.dumps(failed, default=str) and "xyzzy" not in str(failure.value)
