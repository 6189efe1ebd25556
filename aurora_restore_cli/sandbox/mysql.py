"""The sandbox's MySQL: where the database steps of aurora-mysql envs really run without AWS.

Started only when the sandbox first gets an aurora-mysql cluster (cluster_databases.py asks;
a PostgreSQL-only sandbox never pays for it). `AURORA_RESTORE_SANDBOX_MYSQL` decides (read by
the sandbox server):
  unset/auto  a private MariaDB: `mariadb-install-db` + `mariadbd` from PATH or /usr/sbin
              (Debian's mariadb-server), a fresh data directory, a free port on 127.0.0.1, TLS
              with a throwaway CA made for it, a random admin password; stopped and deleted with
              the sandbox. As root it runs as the `mysql` user. None found: the aurora-mysql
              database steps are skipped, and the sandbox says why.
  off         no MySQL: the aurora-mysql database steps record SKIPPED.
  DSN         `mysql://USER:PASSWORD@HOST:PORT/?ssl_ca=CA.pem` — a server of yours (USER may
              create databases and users, WITH GRANT OPTION). The sandbox's databases get a
              private prefix and are dropped when it stops. TLS is verified (against `ssl_ca`,
              else the system store) unless the DSN says `ssl=off`.

Each sandbox cluster of engine aurora-mysql is one database on that server, named after the
cluster id (cluster_databases.py keeps them in step with RDS); the handlers see it under the
config's `database.name` (the engine is bound to its target: handlers/lib/engines/mysql.py).
Only MariaDB is started privately (Debian's registry has no Oracle MySQL): docs/mysql.md says
where it differs from Aurora MySQL.
"""

from __future__ import annotations

import contextlib
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

from .local_servers import certificates, data_parent, free_port, give, process_alive, reap

ENV = "AURORA_RESTORE_SANDBOX_MYSQL"
ADMIN_SECRET = "aurora-restore-sandbox/mysql"  # in the sandbox's Secrets Manager
ADMIN_USER = "aurora_sandbox"
ENGINE_SUFFIX = "MYSQL"  # handlers/lib/db.py: engine_suffix("aurora-mysql")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SERVERS = ("mariadbd", "mysqld")
INSTALLERS = ("mariadb-install-db", "mysql_install_db")
SEARCH = ("/usr/sbin", "/usr/bin", "/usr/local/mysql/bin", "/opt/homebrew/bin")


class MySQLUnavailable(Exception):
    """No MySQL for the sandbox; `str()` says why (shown to the user, steps are skipped)."""


@dataclass(frozen=True)
class MySQLServer:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    tls: str  # verify | off
    ca_file: str | None  # None with tls=verify: the system store
    prefix: str  # of every sandbox database on this server
    origin: str  # private | dsn
    version: str = ""
    pid: int | None = None  # private: the server process
    data_dir: str | None = None  # private: deleted at stop

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MySQLServer:
        return cls(**data)

    def database(self, cluster_id: str) -> str:
        """The database that stands for a sandbox cluster."""
        return self.prefix + cluster_id

    @property
    def database_template(self) -> str:
        return self.prefix + "{cluster}"

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls == "off":
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def connect(self, database: str | None = None) -> Any:
        """A PyMySQL connection as the sandbox's admin (autocommit)."""
        import pymysql

        tls = self.tls_context()
        return pymysql.connect(
            host=self.host, port=self.port, user=self.user,
            password=self.password.encode("utf-8"), database=database,
            connect_timeout=10, read_timeout=60, write_timeout=60, autocommit=True,
            charset="utf8mb4", program_name="aurora-restore-sandbox",
            **({"ssl_disabled": True} if tls is None else {"ssl": tls}),
        )

    def handler_environment(self) -> dict[str, str]:
        """The override settings of handlers/lib/db.py for aurora-mysql targets (the engine's
        own variables: PostgreSQL's plain ones stay for PostgreSQL)."""
        values = {
            "MODE": "override",
            "HOST": self.host,
            "PORT": str(self.port),
            "ADMIN_SECRET_ID": ADMIN_SECRET,
            "SSL": self.tls,
            "NAME": self.database_template,
        }
        if self.ca_file:
            values["CA"] = self.ca_file
        return {f"AURORA_RESTORE_DB_{k}_{ENGINE_SUFFIX}": v for k, v in values.items()}

    def describe(self) -> str:
        tls = "TLS verified" if self.tls == "verify" else "TLS off (as the DSN says)"
        kind = "private MariaDB" if self.origin == "private" else "MySQL (your DSN)"
        version = f" {self.version}" if self.version else ""
        return f"{kind}{version} on {self.host}:{self.port}, {tls}"


def skipped_environment(note: str) -> dict[str, str]:
    """The aurora-mysql database steps skip, and say why."""
    return {
        f"AURORA_RESTORE_DB_MODE_{ENGINE_SUFFIX}": "skip",
        f"AURORA_RESTORE_DB_SKIP_REASON_{ENGINE_SUFFIX}": f"no MySQL in the sandbox ({note})",
    }


def provide(work_dir: Path) -> MySQLServer:
    """The server the setting asks for (starting a private one); raises MySQLUnavailable."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in ("off", "none", "no", "0", "false"):
        raise MySQLUnavailable(f"switched off ({ENV}={setting})")
    if setting and setting.lower() != "auto":
        return from_dsn(setting)
    return start_private(work_dir)


# --- a server of the user's ---------------------------------------------------------------


def from_dsn(dsn: str) -> MySQLServer:
    parts = urlsplit(dsn)
    if parts.scheme != "mysql" or not parts.hostname:
        raise MySQLUnavailable(f"{ENV} must be off, auto or mysql://USER:PASSWORD@HOST:PORT/")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    ca_file = query.get("ssl_ca")
    if ca_file and not Path(ca_file).is_file():
        raise MySQLUnavailable(f"{ENV}: ssl_ca {ca_file} does not exist")
    server = MySQLServer(
        host=parts.hostname, port=parts.port or 3306,
        user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
        tls="off" if query.get("ssl") == "off" else "verify", ca_file=ca_file,
        prefix=f"sbx{secrets.token_hex(3)}_", origin="dsn",
    )
    try:
        version = _version(server)
    except Exception as exc:  # what PyMySQL raises varies; the reason is what matters
        raise MySQLUnavailable(f"cannot log in with {ENV}: {reason(exc)}") from None
    return MySQLServer(**{**server.to_json(), "version": version})


def _version(server: MySQLServer) -> str:
    conn = server.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            return str(cursor.fetchone()[0]).split("-")[0]
    finally:
        conn.close()


# --- a private server ---------------------------------------------------------------------


def _find(names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
        for directory in SEARCH:
            candidate = Path(directory) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None


def binaries() -> tuple[Path, Path] | None:
    """(server, installer): MariaDB's, as Debian's mariadb-server installs them."""
    server, installer = _find(SERVERS[:1]), _find(INSTALLERS[:1])
    return (server, installer) if server and installer else None


def _run_as() -> str | None:
    """MariaDB runs as `mysql` when we are root (it refuses root without --user=root)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("mysql")
    except KeyError:
        raise MySQLUnavailable("running as root and there is no 'mysql' user to run it as") from None
    return "mysql"


def start_private(work_dir: Path) -> MySQLServer:
    found = binaries()
    if found is None:
        raise MySQLUnavailable(
            "no MariaDB found (mariadbd and mariadb-install-db are neither on PATH nor in "
            f"/usr/sbin); install it (Debian: apt-get install mariadb-server) or set {ENV} to a DSN"
        )
    user = _run_as()
    data_root = Path(tempfile.mkdtemp(prefix="aurora-restore-mysql-", dir=data_parent(user)))
    try:
        return _start(*found, data_root, user, work_dir)
    except BaseException:
        shutil.rmtree(data_root, ignore_errors=True)
        raise


def _start(server_bin: Path, installer: Path, data_root: Path, user: str | None,
           work_dir: Path) -> MySQLServer:
    data, socket_file = data_root / "data", data_root / "mysqld.sock"
    tls_dir = data_root / "tls"
    ca_file = certificates(tls_dir, user)
    give(data_root, user)
    as_user = ["--user=" + user] if user else []
    # Its temporary files in our directory too: the caller's TMPDIR may be closed to `mysql`.
    environment = {**os.environ, "TMPDIR": str(data_root)}
    install = subprocess.run(
        [str(installer), "--no-defaults", f"--datadir={data}", *as_user,
         "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
        capture_output=True, text=True, timeout=180, cwd="/", env=environment,
    )
    if install.returncode != 0:
        tail = " / ".join((install.stderr or install.stdout).strip().splitlines()[-2:])
        raise MySQLUnavailable(f"mariadb-install-db failed: {tail}")
    port = free_port()
    log = open(work_dir / "mysql.log", "ab")  # noqa: SIM115 - handed to the child
    with log:
        proc = subprocess.Popen(
            [str(server_bin), "--no-defaults", f"--datadir={data}", f"--port={port}",
             "--bind-address=127.0.0.1", f"--socket={socket_file}",
             f"--pid-file={data_root / 'mysqld.pid'}", f"--tmpdir={data_root}", *as_user,
             f"--ssl-ca={ca_file}", f"--ssl-cert={tls_dir / 'server.crt'}",
             f"--ssl-key={tls_dir / 'server.key'}", "--skip-name-resolve", "--skip-log-bin",
             "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
             "--innodb-flush-log-at-trx-commit=0", "--max-connections=60",
             "--performance-schema=OFF", "--character-set-server=utf8mb4"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", env=environment,
            start_new_session=True,  # Ctrl-C in a terminal goes to us, we stop it in order
        )
    password = secrets.token_urlsafe(24)
    server = MySQLServer(
        host="127.0.0.1", port=port, user=ADMIN_USER, password=password, tls="verify",
        ca_file=str(ca_file), prefix="", origin="private", pid=proc.pid, data_dir=str(data_root),
    )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise MySQLUnavailable(f"the private MariaDB exited at start (code {proc.returncode});"
                                   f" see {work_dir / 'mysql.log'}")
        try:
            _create_admin(socket_file, password)
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                stop(server)
                raise MySQLUnavailable(
                    f"the private MariaDB did not accept a login in {START_TIMEOUT:.0f}s: "
                    f"{reason(exc)}") from None
            time.sleep(0.2)
    return MySQLServer(**{**server.to_json(), "version": _version(server)})


def _create_admin(socket_file: Path, password: str) -> None:
    """Root over the Unix socket (without a password, as installed: the socket lies in our
    private directory), once: the admin the sandbox logs in as over TCP with TLS."""
    import pymysql

    conn = pymysql.connect(unix_socket=str(socket_file), user="root", autocommit=True,
                           connect_timeout=2, charset="utf8mb4")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'%%' IDENTIFIED BY %s",
                           (password,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION")
    finally:
        conn.close()


def stop(server: MySQLServer) -> None:
    """Private: stop the server and delete its files. A DSN's server: drop the databases this
    sandbox made there (and only those: they carry its prefix)."""
    if server.origin == "dsn":
        _drop_prefixed(server)
        return
    if server.pid is not None and process_alive(server.pid) and _is_ours(server):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGKILL)  # its files are deleted right after
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and process_alive(server.pid):
            reap(server.pid)
            time.sleep(0.05)
    if server.data_dir:
        shutil.rmtree(server.data_dir, ignore_errors=True)


def quote(name: str) -> str:
    """A MySQL identifier, quoted (for SQL run without parameters)."""
    return "`" + name.replace("`", "``") + "`"


def _is_ours(server: MySQLServer) -> bool:
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True
    return bool(server.data_dir) and str(server.data_dir) in cmdline


def _drop_prefixed(server: MySQLServer) -> None:
    try:
        conn = server.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
                names = [str(r[0]) for r in cursor.fetchall()
                         if str(r[0]).startswith(server.prefix)]
                for name in names:
                    cursor.execute(f"DROP DATABASE IF EXISTS {quote(name)}")
        finally:
            conn.close()
    except Exception as exc:  # best effort (the user's server may be gone): say why in the log
        logging.getLogger(__name__).warning(
            "could not drop the sandbox databases %s* on %s:%s: %s",
            server.prefix, server.host, server.port, reason(exc),
        )


def reason(exc: BaseException) -> str:
    """A failure in one line, without anything that could be a password."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        return f"{args[0]} {str(args[1]).splitlines()[0]}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if "password" not in text.lower() else type(exc).__name__
