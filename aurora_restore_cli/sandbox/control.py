"""Start, find and stop the embedded sandbox (a moto server process that outlives commands).

State lives in `$AURORA_RESTORE_SANDBOX_DIR` (default `~/.cache/aurora-restore`): a JSON file
with the server's pid and port, its PostgreSQL (or why there is none) and, once an aurora-mysql
cluster made it start, its MySQL (or why there is none), and the logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .mysql import MySQLServer
from .postgres import PostgresServer, process_alive

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class SandboxError(Exception):
    pass


@dataclass(frozen=True)
class Sandbox:
    pid: int
    port: int
    postgres: PostgresServer | None = field(default=None, repr=False)
    postgres_note: str | None = None  # why there is no database (steps are skipped)
    mysql: MySQLServer | None = field(default=None, repr=False)
    mysql_note: str | None = None  # why there is no MySQL (None also: not needed yet)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_line(self) -> str:
        """One line for people: where the database steps run, or why they are skipped."""
        if self.postgres is not None:
            line = f"database steps run on a {self.postgres.describe()}"
        else:
            line = f"no PostgreSQL ({self.postgres_note}): the database steps are skipped"
        if self.mysql is not None:
            line += f"; aurora-mysql ones on a {self.mysql.describe()}"
        elif self.mysql_note:
            line += f"; no MySQL ({self.mysql_note}): aurora-mysql database steps are skipped"
        return line


def _from_state(data: dict[str, Any]) -> Sandbox:
    postgres, mysql = data.get("postgres"), data.get("mysql")
    return Sandbox(
        int(data["pid"]),
        int(data["port"]),
        PostgresServer.from_json(postgres) if isinstance(postgres, dict) else None,
        data.get("postgres_note"),
        MySQLServer.from_json(mysql) if isinstance(mysql, dict) else None,
        data.get("mysql_note"),
    )


# A real account's settings in the user's shell mean nothing to the sandbox, and a profile that
# does not exist on this machine would stop the server's own botocore at start.
REAL_ACCOUNT_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                          "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def server_environment() -> dict[str, str]:
    """The sandbox server's environment: fake credentials, none of a real account's."""
    env = {k: v for k, v in os.environ.items() if k not in REAL_ACCOUNT_VARIABLES}
    return {**env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def state_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aurora-restore"
    return Path(os.environ.get("AURORA_RESTORE_SANDBOX_DIR", default))


def _state_file() -> Path:
    return state_dir() / "sandbox.json"


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def find() -> Sandbox | None:
    """The running sandbox, or None (a stale state file is removed)."""
    file = _state_file()
    try:
        box = _from_state(json.loads(file.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if process_alive(box.pid) and _accepts(box.port):
        return box
    _forget(box)
    return None


def _forget(box: Sandbox) -> None:
    """A sandbox that is gone: its private PostgreSQL must not outlive it, nor its databases
    on a DSN's server (the server process drops them as it stops; this finishes the job when
    it was killed first, e.g. by the stop timeout while a DROP DATABASE waited on a checkpoint).
    Idempotent: both are no-ops when already done."""
    if box.postgres is not None:
        from .postgres import stop as stop_postgres

        stop_postgres(box.postgres)
    if box.mysql is not None:
        from .mysql import stop as stop_mysql

        stop_mysql(box.mysql)
    _state_file().unlink(missing_ok=True)


def start() -> tuple[Sandbox, bool]:
    """Return the running sandbox, starting one if needed; the flag says whether we started it."""
    running = find()
    if running is not None:
        return running, False
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    file = _state_file()
    file.unlink(missing_ok=True)
    log = open(directory / "sandbox.log", "ab")  # noqa: SIM115 - handed to the child
    with log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aurora_restore_cli.sandbox.server", str(file)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=server_environment(),
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(
                f"the sandbox exited at start (code {proc.returncode}); see {directory / 'sandbox.log'}"
            )
        box = find()
        if box is not None:
            return box, True
        time.sleep(0.05)
    proc.terminate()
    raise SandboxError(
        f"the sandbox did not start within {START_TIMEOUT:.0f}s; see {directory / 'sandbox.log'}"
    )


def stop() -> str | None:
    """Stop the sandbox: "stopped" (it cleaned up after itself), "killed" (it did not stop
    within STOP_TIMEOUT: what it unpacked may be left), or None when none was running."""
    box = find()
    if box is None:
        return None
    os.kill(box.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and process_alive(box.pid):
        _reap(box.pid)
        time.sleep(0.02)
    outcome = "stopped"
    if process_alive(box.pid):
        os.kill(box.pid, signal.SIGKILL)
        _reap(box.pid)
        outcome = "killed"
    _forget(box)  # after a clean stop the server has done this already: a no-op
    return outcome


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (as in `demo`)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
