"""Each engine's connection layer: verified TLS, refused certificates, login failures without
the password, timeouts, and TLS switched off only on purpose."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.lib import db
from handlers.lib.engines import Statement, engine_for
from handlers.lib.errors import DatabaseUnreachable

from .conftest import MYSQL, Server

TLS_IN_USE = {
    "aurora-postgresql": "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    MYSQL: "SELECT VARIABLE_VALUE <> '' FROM information_schema.SESSION_STATUS "
           "WHERE VARIABLE_NAME = 'SSL_CIPHER'",
}


@pytest.fixture(scope="module")
def unrelated_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the server's certificate."""
    directory = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=not the test CA", "-keyout", str(directory / "ca.key"),
         "-out", str(directory / "ca.pem")],
        check=True, capture_output=True,
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


def tls_in_use(server: Server, conn: object) -> bool:
    engine = engine_for(server.engine)
    value = engine.run(conn, Statement(TLS_IN_USE[server.engine], {}, raw=True))[0][0]
    return bool(value)


def test_verified_tls_is_really_negotiated(server: Server) -> None:
    engine = engine_for(server.engine)
    conn = engine.connect(server.target(), server.credentials)
    try:
        assert tls_in_use(server, conn)
        assert engine.select_one(conn)
    finally:
        engine.close(conn)


def test_tls_off_is_plain_text_and_only_on_purpose(server: Server) -> None:
    engine = engine_for(server.engine)
    conn = engine.connect(server.target(tls=False), server.credentials)
    try:
        assert not tls_in_use(server, conn)
    finally:
        engine.close(conn)


def test_a_certificate_from_another_ca_is_refused(server: Server, unrelated_ca: Path) -> None:
    target = db.Target(server.host, server.port, server.admin_database,
                       db.tls_context(unrelated_ca), 5)
    with pytest.raises(DatabaseUnreachable, match="TLS certificate verification failed"):
        engine_for(server.engine).connect(target, server.credentials)


def test_the_system_store_does_not_trust_the_throwaway_ca(server: Server) -> None:
    target = db.Target(server.host, server.port, server.admin_database, db.tls_context(None), 5)
    with pytest.raises(DatabaseUnreachable, match="TLS certificate verification failed"):
        engine_for(server.engine).connect(target, server.credentials)


def test_a_wrong_password_is_a_login_failure_without_the_password(server: Server) -> None:
    with pytest.raises(db.DatabaseLoginFailed) as failure:
        engine_for(server.engine).connect(server.target(),
                                          db.Credentials(server.user, "not-the-password-xyzzy"))
    assert "xyzzy" not in str(failure.value) and server.user in str(failure.value)


def test_a_closed_port_fails_fast(server: Server) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    target = db.Target("127.0.0.1", port, server.admin_database, db.tls_context(server.ca_file), 5)
    with pytest.raises(DatabaseUnreachable, match="connection refused"):
        engine_for(server.engine).connect(target, server.credentials)


def test_a_silent_server_hits_the_connect_timeout(server: Server, silent_port: int) -> None:
    target = db.Target("127.0.0.1", silent_port, "x", db.tls_context(server.ca_file), 0.5)
    with pytest.raises(DatabaseUnreachable, match="timed out"):
        engine_for(server.engine).connect(target, server.credentials)


def test_the_connect_timeout_does_not_limit_statements(server: Server) -> None:
    engine = engine_for(server.engine)
    conn = engine.connect(server.target(timeout=0.5), server.credentials)
    sleep = "SELECT pg_sleep(1.2)" if server.engine != MYSQL else "SELECT SLEEP(1.2)"
    try:
        engine.run(conn, Statement(sleep, {}, raw=True))
        assert engine.select_one(conn)
    finally:
        engine.close(conn)
