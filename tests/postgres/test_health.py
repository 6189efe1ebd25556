"""The database steps' health check (handlers/lib/health.py): `SELECT 1` on the target over
verified TLS as the admin user, nothing more; a certificate it cannot verify, or TLS switched
off, is a failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from handlers.lib import health

from .conftest import PgServer
from .test_connect import unrelated_ca  # noqa: F401 - a fixture

SETTINGS = {"region": "us-east-1", "account_id": "123456789012", "env": "dev",
            "target": {"cluster_id": "dev-orders", "port": 5432},
            "database": {"name": "postgres", "connect_timeout_seconds": 3}}


@pytest.fixture
def override(pg: PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="admin", SecretString=json.dumps({"username": pg.user, "password": pg.password}))
        for key, value in {"AURORA_RESTORE_DB_MODE": "override", "AURORA_RESTORE_DB_HOST": pg.host,
                           "AURORA_RESTORE_DB_PORT": str(pg.port),
                           "AURORA_RESTORE_DB_ADMIN_SECRET_ID": "admin",
                           "AURORA_RESTORE_DB_SSL": "verify",
                           "AURORA_RESTORE_DB_CA": str(pg.ca_file),
                           "AURORA_RESTORE_DB_NAME": "postgres"}.items():
            monkeypatch.setenv(key, value)
        yield


def test_select_1_over_verified_tls(override: None, pg: PgServer) -> None:
    answer = health.database(SETTINGS)
    assert answer == {"ok": True, "host": pg.host, "port": pg.port, "database": "postgres",
                      "tls": "verify", "detail": "SELECT 1 over verified TLS"}


def test_a_certificate_it_cannot_verify_fails(
    override: None, unrelated_ca: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setenv("AURORA_RESTORE_DB_CA", str(unrelated_ca))
    answer = health.database(SETTINGS)
    assert answer["ok"] is False
    assert answer["detail"].startswith("DatabaseUnreachable") and "certificate" in answer["detail"]


def test_tls_switched_off_fails(override: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURORA_RESTORE_DB_SSL", "off")
    answer = health.database(SETTINGS)
    assert (answer["ok"], answer["detail"]) == (False, "TLS is switched off")
