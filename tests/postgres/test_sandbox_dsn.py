"""The sandbox on a PostgreSQL server of the user's (AURORA_RESTORE_SANDBOX_POSTGRES=DSN): its
databases carry a private prefix, hold the seeded data, and are dropped when it stops; a DSN
that cannot log in leaves the database steps skipped with the reason (never the password)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ..conftest import ROOT
from .conftest import PgServer


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, **env})


def prefixed(pg: PgServer, prefix: str) -> set[str]:
    conn = pg.superuser()
    try:
        rows = conn.run("SELECT datname FROM pg_database WHERE starts_with(datname, :p)", p=prefix)
    finally:
        conn.close()
    return {row[0] for row in rows}


def test_sandbox_on_a_dsn_keeps_its_databases_apart_and_drops_them(
    pg: PgServer, tmp_path: Path
) -> None:
    dsn = (f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/postgres"
           f"?sslrootcert={pg.ca_file}")
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path), "AURORA_RESTORE_SANDBOX_POSTGRES": dsn}
    try:
        seeded = cli("--local", "--env", "dev", "sandbox", "seed", env=env)
        assert seeded.returncode == 0, seeded.stderr
        assert "PostgreSQL (your DSN)" in seeded.stderr and "TLS verified" in seeded.stderr
        status = cli("sandbox", "status", "-o", "json", env=env)
        database = json.loads(status.stdout)["database"]
        assert database["running"] is True and database["origin"] == "dsn"
        assert "password" not in status.stdout  # (the test server's is "postgres": see below)

        prefix = json.loads((tmp_path / "sandbox.json").read_text())["postgres"]["prefix"]
        assert prefix.startswith("sbx") and prefix.endswith("_")
        names = prefixed(pg, prefix)
        assert {f"{prefix}prod-orders", f"{prefix}dev-orders"} <= names
        assert any(name.startswith(f"{prefix}snapshot-") for name in names)
        source = pg.superuser(f"{prefix}prod-orders")
        try:
            assert source.run("SELECT count(*) FROM public.customers")[0][0] == 24
        finally:
            source.close()
    finally:
        stopped = cli("sandbox", "stop", env=env)
    assert stopped.returncode == 0
    assert prefixed(pg, prefix) == set()  # dropped with the sandbox, and nothing else touched


def test_a_dsn_that_cannot_log_in_skips_the_database_steps_and_says_why(
    pg: PgServer, tmp_path: Path
) -> None:
    secret = "not-the-password-4711"
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path),
           "AURORA_RESTORE_SANDBOX_POSTGRES":
               f"postgresql://{pg.user}:{secret}@{pg.host}:{pg.port}/postgres"
               f"?sslrootcert={pg.ca_file}"}
    try:
        started = cli("sandbox", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert "no PostgreSQL (cannot log in with AURORA_RESTORE_SANDBOX_POSTGRES: 28P01" \
            in started.stdout
        assert "the database steps are skipped" in started.stdout
        assert secret not in started.stdout + started.stderr
    finally:
        cli("sandbox", "stop", env=env)
