"""The sandbox's PostgreSQL: where the database steps really run when no AWS is involved.

`AURORA_RESTORE_SANDBOX_POSTGRES` decides (read by the sandbox server when it starts):
  unset/auto  a private server: `initdb` + `postgres` from PATH or /usr/lib/postgresql/<v>/bin
              (Debian), a fresh data directory, a free port on 127.0.0.1, TLS with a throwaway
              CA made for this server, a random superuser password; stopped and deleted with the
              sandbox. As root it runs as the unprivileged `postgres` user (PostgreSQL refuses
              root). None found: the database steps are skipped, and the sandbox says why.
  off         no database: the database steps record SKIPPED.
  DSN         `postgresql://USER:PASSWORD@HOST:PORT/DB?sslrootcert=CA.pem` — a server of yours
              (USER must be allowed to create databases and roles). The sandbox's databases get
              a private prefix and are dropped when it stops. TLS is verified (against
              `sslrootcert`, else the system store) unless the DSN says `sslmode=disable`.

Each sandbox cluster is one database on that server, named after the cluster id
(`cluster_databases.py` keeps them in step with what RDS does in the sandbox).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .local_servers import certificates as _certificates
from .local_servers import data_parent as _data_parent
from .local_servers import free_port as _free_port
from .local_servers import give as _give
from .local_servers import process_alive
from .local_servers import reap as _reap

ENV = "AURORA_RESTORE_SANDBOX_POSTGRES"
ADMIN_SECRET = "aurora-restore-sandbox/postgres"  # in the sandbox's Secrets Manager
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin")


class PostgresUnavailable(Exception):
    """No server for the sandbox; `str()` says why (shown to the user, steps are skipped)."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    tls: str  # verify | off
    ca_file: str | None  # None with tls=verify: the system store
    admin_database: str
    prefix: str  # of every sandbox database on this server
    origin: str  # private | dsn
    version: str = ""
    pid: int | None = None  # private: the postmaster
    data_dir: str | None = None  # private: deleted at stop

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PostgresServer:
        return cls(**data)

    def database(self, cluster_id: str) -> str:
        """The database that stands for a sandbox cluster."""
        return self.prefix + cluster_id

    @property
    def database_template(self) -> str:
        """What the handlers get as AURORA_RESTORE_DB_NAME."""
        return self.prefix + "{cluster}"

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls == "off":
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def connect(self, database: str | None = None) -> Any:
        """A pg8000 connection as the sandbox's admin (autocommit)."""
        from pg8000.native import Connection

        tls = self.tls_context()
        return Connection(
            user=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database or self.admin_database,
            ssl_context=tls if tls is not None else False,
            timeout=10,
            application_name="aurora-restore-sandbox",
        )

    def handler_environment(self) -> dict[str, str]:
        """The override settings of handlers/lib/db.py that point the steps at this server."""
        env = {
            "AURORA_RESTORE_DB_MODE": "override",
            "AURORA_RESTORE_DB_HOST": self.host,
            "AURORA_RESTORE_DB_PORT": str(self.port),
            "AURORA_RESTORE_DB_ADMIN_SECRET_ID": ADMIN_SECRET,
            "AURORA_RESTORE_DB_SSL": self.tls,
            "AURORA_RESTORE_DB_NAME": self.database_template,
        }
        if self.ca_file:
            env["AURORA_RESTORE_DB_CA"] = self.ca_file
        return env

    def describe(self) -> str:
        tls = "TLS verified" if self.tls == "verify" else "TLS off (as the DSN says)"
        kind = "private PostgreSQL" if self.origin == "private" else "PostgreSQL (your DSN)"
        version = f" {self.version}" if self.version else ""
        return f"{kind}{version} on {self.host}:{self.port}, {tls}"


def provide(work_dir: Path) -> PostgresServer:
    """The server the setting asks for (starting a private one); raises PostgresUnavailable."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in ("off", "none", "no", "0", "false"):
        raise PostgresUnavailable(f"switched off ({ENV}={setting})")
    if setting and setting.lower() != "auto":
        return from_dsn(setting)
    return start_private(work_dir)


# --- a server of the user's ---------------------------------------------------------------


def from_dsn(dsn: str) -> PostgresServer:
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise PostgresUnavailable(
            f"{ENV} must be off, auto or postgresql://USER:PASSWORD@HOST:PORT/DB"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    ca_file = query.get("sslrootcert")
    if ca_file and not Path(ca_file).is_file():
        raise PostgresUnavailable(f"{ENV}: sslrootcert {ca_file} does not exist")
    server = PostgresServer(
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        tls="off" if query.get("sslmode") == "disable" else "verify",
        ca_file=ca_file,
        admin_database=unquote(parts.path.lstrip("/")) or "postgres",
        prefix=f"sbx{secrets.token_hex(3)}_",
        origin="dsn",
    )
    try:
        conn = server.connect()
        version = str(conn.run("SHOW server_version")[0][0]).split()[0]
        conn.close()
    except Exception as exc:  # what pg8000 raises varies; the reason is what matters
        raise PostgresUnavailable(f"cannot log in with {ENV}: {_reason(exc)}") from None
    return PostgresServer(**{**server.to_json(), "version": version})


# --- a private server ---------------------------------------------------------------------


def binaries() -> Path | None:
    """The directory holding initdb and postgres: PATH first, then the usual places."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).resolve().parent
    candidates = [Path(d) for pattern in SEARCH for d in glob.glob(pattern)]
    usable = [d for d in candidates if (d / "initdb").is_file() and (d / "postgres").is_file()]
    return max(usable, key=_version_key) if usable else None


def _version_key(directory: Path) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in str(directory)).split()
    return tuple(int(d) for d in digits)


def _run_as() -> str | None:
    """The account to run PostgreSQL as: None for ourselves, `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no 'postgres' user to run PostgreSQL as"
        ) from None
    return "postgres"


def start_private(work_dir: Path) -> PostgresServer:
    bin_dir = binaries()
    if bin_dir is None:
        raise PostgresUnavailable(
            "no PostgreSQL found (initdb and postgres are neither on PATH nor in "
            "/usr/lib/postgresql/<version>/bin); install it (Debian: apt-get install postgresql)"
            f" or set {ENV} to a DSN"
        )
    user = _run_as()
    data_root = Path(tempfile.mkdtemp(prefix="aurora-restore-pg-", dir=_data_parent(user)))
    try:
        return _start(bin_dir, data_root, user, work_dir)
    except BaseException:
        shutil.rmtree(data_root, ignore_errors=True)
        raise


def _start(bin_dir: Path, data_root: Path, user: str | None, work_dir: Path) -> PostgresServer:
    password = secrets.token_urlsafe(24)
    data = data_root / "data"
    password_file = data_root / "pwfile"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    _give(data_root, user)
    initdb = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256",
         f"--pwfile={password_file}", "-E", "UTF8", "--locale=C", "--no-sync"],
        capture_output=True, text=True, timeout=120, user=user, cwd="/",
    )
    password_file.unlink()
    if initdb.returncode != 0:
        tail = " / ".join((initdb.stderr or initdb.stdout).strip().splitlines()[-2:])
        raise PostgresUnavailable(f"initdb failed: {tail}")
    ca_file = _certificates(data_root / "tls", user)
    port = _free_port()
    log = open(work_dir / "postgres.log", "ab")  # noqa: SIM115 - handed to the child
    with log:
        proc = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
             "-c", "ssl=on", "-c", f"ssl_cert_file={data_root / 'tls' / 'server.crt'}",
             "-c", f"ssl_key_file={data_root / 'tls' / 'server.key'}",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=40", "-c", "shared_buffers=16MB"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, user=user, cwd="/",
            start_new_session=True,  # Ctrl-C in a terminal goes to us, we stop it in order
        )
    server = PostgresServer(
        host="127.0.0.1", port=port, user="postgres", password=password, tls="verify",
        ca_file=str(ca_file), admin_database="postgres", prefix="", origin="private",
        pid=proc.pid, data_dir=str(data_root),
    )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise PostgresUnavailable(
                f"the private PostgreSQL exited at start (code {proc.returncode}); "
                f"see {work_dir / 'postgres.log'}"
            )
        try:
            conn = server.connect()
        except Exception as exc:
            if time.monotonic() > deadline:
                stop(server)
                raise PostgresUnavailable(
                    f"the private PostgreSQL did not accept a login in {START_TIMEOUT:.0f}s: "
                    f"{_reason(exc)}"
                ) from None
            time.sleep(0.1)
            continue
        version = str(conn.run("SHOW server_version")[0][0]).split()[0]
        conn.close()
        return PostgresServer(**{**server.to_json(), "version": version})


def stop(server: PostgresServer) -> None:
    """Private: stop the postmaster (immediate shutdown) and delete its files. A DSN's server:
    drop the databases this sandbox made there (and only those: they carry its prefix)."""
    if server.origin == "dsn":
        _drop_prefixed(server)
        return
    if server.pid is not None and process_alive(server.pid) and _is_ours(server):
        with contextlib.suppress(ProcessLookupError):
            # immediate shutdown: no checkpoint, its files are deleted right after
            os.kill(server.pid, signal.SIGQUIT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and process_alive(server.pid):
            _reap(server.pid)
            time.sleep(0.05)
        if process_alive(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
            _reap(server.pid)
    if server.data_dir:
        shutil.rmtree(server.data_dir, ignore_errors=True)


def quote(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _is_ours(server: PostgresServer) -> bool:
    """The pid still runs our postmaster (not a process that got its number since)."""
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True  # no /proc (macOS): the pid is all we have
    return bool(server.data_dir) and str(server.data_dir) in cmdline


def _drop_prefixed(server: PostgresServer) -> None:
    try:
        conn = server.connect()
        try:
            names = [row[0] for row in conn.run(
                "SELECT datname FROM pg_database WHERE starts_with(datname, :p)", p=server.prefix
            )]
            for name in names:
                conn.run(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
        finally:
            conn.close()
    except Exception as exc:  # best effort (the user's server may be gone): say why in the log
        logging.getLogger(__name__).warning(
            "could not drop the sandbox databases %s* on %s:%s: %s",
            server.prefix, server.host, server.port, _reason(exc),
        )


def _reason(exc: BaseException) -> str:
    """A failure in one line, without anything that could be a password."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if info is not None:
        return f"{info.get('C', '')} {info.get('M', '')}".strip()
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if "password" not in text.lower() else type(exc).__name__
