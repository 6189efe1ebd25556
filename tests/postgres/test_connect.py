"""handlers.lib.db: TLS, timeouts, login failures, modes and identifier quoting."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from handlers.lib import db
from handlers.lib.engines import postgresql_connection as pgc
from handlers.lib.errors import DatabaseUnreachable, SettingsInvalid

from .conftest import PgServer


@pytest.fixture(scope="module")
def unrelated_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the server's certificate."""
    directory = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=not the test CA",
            "-keyout",
            str(directory / "ca.key"),
            "-out",
            str(directory / "ca.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return directory / "ca.pem"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def superuser(pg: PgServer) -> db.Credentials:
    return db.Credentials(pg.user, pg.password)


def test_verified_tls_is_really_negotiated(pg: PgServer) -> None:
    for host in ("127.0.0.1", "localhost"):  # both are in the certificate's SAN
        target = db.Target(host, pg.port, "postgres", db.tls_context(pg.ca_file), 5)
        conn = pgc.connect(target, superuser(pg))
        rows = conn.run(
            "SELECT s.ssl, s.version, a.application_name FROM pg_stat_ssl s "
            "JOIN pg_stat_activity a USING (pid) WHERE pid = pg_backend_pid()"
        )
        conn.close()
        assert rows[0][0] is True
        assert rows[0][1] in ("TLSv1.2", "TLSv1.3")
        assert rows[0][2] == "aurora-restore"


def test_wrong_ca_is_refused(pg: PgServer, unrelated_ca: Path) -> None:
    target = db.Target(pg.host, pg.port, "postgres", db.tls_context(unrelated_ca), 5)
    with pytest.raises(DatabaseUnreachable, match="TLS certificate verification failed"):
        pgc.connect(target, superuser(pg))


def test_system_store_does_not_trust_the_throwaway_ca(pg: PgServer) -> None:
    target = db.Target(pg.host, pg.port, "postgres", db.tls_context(None), 5)
    with pytest.raises(DatabaseUnreachable, match="TLS certificate verification failed"):
        pgc.connect(target, superuser(pg))


def test_tls_off_is_plain_text(pg: PgServer) -> None:
    conn = pgc.connect(db.Target(pg.host, pg.port, "postgres", None, 5), superuser(pg))
    assert conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [[False]]
    conn.close()


def test_closed_port_fails_fast(pg: PgServer) -> None:
    target = db.Target("127.0.0.1", closed_port(), "postgres", db.tls_context(pg.ca_file), 5)
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable, match="connection refused"):
        pgc.connect(target, superuser(pg))
    assert time.monotonic() - started < 2


def test_silent_server_hits_the_connect_timeout(pg: PgServer, silent_port: int) -> None:
    target = db.Target("127.0.0.1", silent_port, "postgres", db.tls_context(pg.ca_file), 0.5)
    started = time.monotonic()
    with pytest.raises(DatabaseUnreachable, match="timed out"):
        pgc.connect(target, superuser(pg))
    assert time.monotonic() - started < 3


def test_connect_timeout_does_not_limit_statements(pg: PgServer) -> None:
    target = db.Target(pg.host, pg.port, "postgres", db.tls_context(pg.ca_file), 0.5)
    conn = pgc.connect(target, superuser(pg))
    assert conn.run("SELECT 1 FROM pg_sleep(1.2)") == [[1]]
    conn.close()


def test_wrong_password_is_a_login_failure_without_the_password(pg: PgServer) -> None:
    with pytest.raises(db.DatabaseLoginFailed) as failure:
        pgc.connect(pg.tls(), db.Credentials(pg.user, "not-the-password-xyzzy"))
    assert "28P01" in str(failure.value)
    assert "xyzzy" not in str(failure.value)
    assert "xyzzy" not in repr(db.Credentials(pg.user, "xyzzy"))


def test_modes() -> None:
    assert db.db_mode({}) == "real"
    assert db.db_mode({"AURORA_RESTORE_DB_MODE": "skip"}) == "skip"
    assert db.db_mode({"AURORA_RESTORE_DB_MODE": " Override "}) == "override"
    with pytest.raises(SettingsInvalid):
        db.db_mode({"AURORA_RESTORE_DB_MODE": "pretend"})


SETTINGS = {
    "region": "us-east-1",
    "target": {"port": 5432},
    "database": {"name": "orders", "connect_timeout_seconds": 3},
}


def test_override_target(pg: PgServer) -> None:
    env = {
        "AURORA_RESTORE_DB_MODE": "override",
        "AURORA_RESTORE_DB_HOST": "127.0.0.1",
        "AURORA_RESTORE_DB_PORT": "6543",
        "AURORA_RESTORE_DB_SSL": "verify",
        "AURORA_RESTORE_DB_CA": str(pg.ca_file),
    }
    target = db.resolve_target(SETTINGS, None, rds=None, environ=env)
    assert (target.host, target.port, target.database, target.tls_mode) == (
        "127.0.0.1",
        6543,
        "orders",
        "verify",
    )
    assert target.connect_timeout == 3.0
    assert (
        db.resolve_target(SETTINGS, None, None, {**env, "AURORA_RESTORE_DB_SSL": "off"}).tls is None
    )
    for bad in (
        {"AURORA_RESTORE_DB_SSL": "maybe"},
        {"AURORA_RESTORE_DB_PORT": "x"},
        {"AURORA_RESTORE_DB_CA": "/nonexistent/ca.pem"},
        {"AURORA_RESTORE_DB_HOST": ""},
    ):
        with pytest.raises(SettingsInvalid):
            db.resolve_target(SETTINGS, None, None, {**env, **bad})


def test_override_database_per_cluster(pg: PgServer) -> None:
    env = {
        "AURORA_RESTORE_DB_MODE": "override",
        "AURORA_RESTORE_DB_HOST": "127.0.0.1",
        "AURORA_RESTORE_DB_CA": str(pg.ca_file),
        "AURORA_RESTORE_DB_NAME": "{cluster}",
    }
    target = db.resolve_target(SETTINGS, "dev-orders-stg-1a2b3c4d", None, environ=env)
    assert target.database == "dev-orders-stg-1a2b3c4d"
    assert target.tls_mode == "verify"
    prefixed = {**env, "AURORA_RESTORE_DB_NAME": "sbx_{cluster}"}
    assert db.resolve_target(SETTINGS, "c1", None, environ=prefixed).database == "sbx_c1"
    fixed = {**env, "AURORA_RESTORE_DB_NAME": "scratch"}
    assert db.resolve_target(SETTINGS, None, None, environ=fixed).database == "scratch"
    with pytest.raises(SettingsInvalid, match="names the cluster"):
        db.resolve_target(SETTINGS, None, None, environ=env)
    with pytest.raises(SettingsInvalid, match="63 bytes"):
        db.resolve_target(SETTINGS, "c" * 64, None, environ=env)


@mock_aws
def test_real_target_is_the_staging_cluster_with_verified_tls(pg: PgServer) -> None:
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_db_cluster(
        DBClusterIdentifier="dev-orders-staging-op1",
        Engine="aurora-postgresql",
        MasterUsername="postgres",
        MasterUserPassword="irrelevant-here",
        Port=5433,
    )
    target = db.resolve_target(
        SETTINGS, "dev-orders-staging-op1", rds, environ={}, ca_file=pg.ca_file
    )
    assert target.host.startswith("dev-orders-staging-op1.cluster-")
    assert (target.port, target.database, target.tls_mode) == (5433, "orders", "verify")
    assert target.tls is not None and target.tls.check_hostname
    with pytest.raises(SettingsInvalid, match="staging_cluster_id"):
        db.resolve_target(SETTINGS, None, rds, environ={}, ca_file=pg.ca_file)
    # No bundle packaged (database.ca_bundle unset): refused, never unverified or system-only.
    assert db.default_ca_file() is None
    with pytest.raises(SettingsInvalid, match=r"database\.ca_bundle"):
        db.resolve_target(SETTINGS, "dev-orders-staging-op1", rds, environ={})


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("orders_app", '"orders_app"'),
        ('we"ird', '"we""ird"'),
        ("Ünï code; DROP", '"Ünï code; DROP"'),
    ],
)
def test_quote_ident(name: str, quoted: str) -> None:
    assert pgc.quote_ident(name) == quoted


@pytest.mark.parametrize("bad", ["", "nul\x00byte", "x" * 64])
def test_quote_ident_refuses(bad: str) -> None:
    with pytest.raises(SettingsInvalid):
        pgc.quote_ident(bad)


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("public.customers", ("public", "customers")),
        ("Public.Customers", ("public", "customers")),
        ("customers", (None, "customers")),
        ('"My.Schema"."Tab ""1"""', ("My.Schema", 'Tab "1"')),
        ('sales."Orders"', ("sales", "Orders")),
    ],
)
def test_split_qualified(name: str, parts: tuple[str | None, str]) -> None:
    assert db.split_qualified(name) == parts


@pytest.mark.parametrize("bad", ["a.b.c", '"open', 'a"b"', '"a"b', ".t", "s.", "two words"])
def test_split_qualified_refuses(bad: str) -> None:
    with pytest.raises(SettingsInvalid):
        db.split_qualified(bad)
