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
import datetime
import glob
import ipaddress
import logging
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

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


def _data_parent(user: str | None) -> str:
    """Where the data directory goes: the temp dir, unless PostgreSQL runs as another user
    who cannot enter it (root's TMPDIR, a 0700 test dir: then /tmp)."""
    base = Path(tempfile.gettempdir()).resolve()
    if user is None:
        return str(base)
    reachable = all(os.stat(p).st_mode & 0o001 for p in (base, *base.parents))
    return str(base) if reachable else "/tmp"


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


def _give(path: Path, user: str | None) -> None:
    if user is not None:
        for item in [path, *path.rglob("*")]:
            shutil.chown(item, user, user)


def _certificates(directory: Path, user: str | None) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost; returns the CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aurora-restore sandbox CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        ), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.crt").write_bytes(server.public_bytes(pem))
    key_file = directory / "server.key"
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)  # PostgreSQL refuses a key others can read
    _give(directory, user)
    directory.chmod(0o755)  # the CA certificate is public: the CLI reads it to connect
    (directory / "ca.pem").chmod(0o644)
    return directory / "ca.pem"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_alive(pid: int) -> bool:
    """Running (a zombie counts as gone: in containers nobody may reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited: only its parent has not collected it yet
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _reason(exc: BaseException) -> str:
    """A failure in one line, without anything that could be a password."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if info is not None:
        return f"{info.get('C', '')} {info.get('M', '')}".strip()
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if "password" not in text.lower() else type(exc).__name__
