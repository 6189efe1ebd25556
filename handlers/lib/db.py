"""PostgreSQL access for the database steps: where to connect, as whom, and over what TLS.

Modes (env `AURORA_RESTORE_DB_MODE`):
  unset    real: the staging cluster's endpoint from RDS, TLS verified against the packaged
           CA bundle (handlers/certs/ca-bundle.pem, from `database.ca_bundle`). Without it
           the step fails (SettingsInvalid): the Lambda runtime's trust store lacks the RDS
           CAs, and there is no unverified fallback.
  skip     sandbox without a database: the database steps record SKIPPED and say why.
  override tests/local: `AURORA_RESTORE_DB_HOST`/`_PORT`, admin credentials from the secret
           `AURORA_RESTORE_DB_ADMIN_SECRET_ID`, TLS per `AURORA_RESTORE_DB_SSL` (`verify`
           with CA file `AURORA_RESTORE_DB_CA`, or `off` — an explicit choice, never a
           fallback). The database is settings' `database.name`, or `AURORA_RESTORE_DB_NAME`
           where `{cluster}` stands for the staging cluster id (the sandbox keeps one database
           per restored cluster on one server).
Passwords are never logged, returned or put in exception messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection
from scramp import ScramException

from handlers.lib import aws
from handlers.lib import document as doc
from handlers.lib.errors import DatabaseUnreachable, PipelineError, SettingsInvalid

MODE_ENV = "AURORA_RESTORE_DB_MODE"
HOST_ENV = "AURORA_RESTORE_DB_HOST"
PORT_ENV = "AURORA_RESTORE_DB_PORT"
ADMIN_SECRET_ENV = "AURORA_RESTORE_DB_ADMIN_SECRET_ID"
SSL_ENV = "AURORA_RESTORE_DB_SSL"
CA_ENV = "AURORA_RESTORE_DB_CA"
NAME_ENV = "AURORA_RESTORE_DB_NAME"
MASTER_SECRET_ENV = "MASTER_SECRET_ID"
APP_SECRET_ENV = "APP_SECRET_ID"

APPLICATION_NAME = "aurora-restore"
PACKAGED_CA_BUNDLE = Path(__file__).resolve().parent.parent / "certs" / "ca-bundle.pem"
SKIP_REASON = "no database in the sandbox (AURORA_RESTORE_DB_MODE=skip)"
DEFAULT_CONNECT_TIMEOUT = 10.0
MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names

Mode = Literal["real", "skip", "override"]


class DatabaseLoginFailed(PipelineError):
    """The server was reached but refused the login (wrong password, no such role or database).

    Right after the master password reset the cluster may still accept only the old one for a
    short while, so the state machine may retry this like DatabaseUnreachable."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class AppSecret:
    users: Mapping[str, str] = field(repr=False)

    def password_for(self, user: str) -> str | None:
        password = self.users.get(user)
        return password if isinstance(password, str) and password else None


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    database: str
    tls: ssl.SSLContext | None = field(repr=False)  # None only when TLS is switched off
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    @property
    def tls_mode(self) -> str:
        return "off" if self.tls is None else "verify"


# --- identifiers -------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """`name` as a double-quoted SQL identifier; the only special character inside is `"`."""
    if not isinstance(name, str) or not name:
        raise SettingsInvalid("an SQL identifier must be a non-empty string")
    if "\x00" in name:
        raise SettingsInvalid("an SQL identifier cannot contain a NUL character")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise SettingsInvalid(
            f"identifier longer than {MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)"
        )
    return '"' + name.replace('"', '""') + '"'


def split_qualified(name: str) -> tuple[str | None, str]:
    """Split `schema.table` as SQL would read it: dots inside double quotes do not split,
    `""` inside quotes is a quote, unquoted parts fold to lower case. Returns (schema, table);
    schema is None for an unqualified name (the search path decides)."""
    parts: list[str] = []
    current: list[str] = []
    quoted_part = False
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == '"':
            end = i + 1
            while True:
                end = name.find('"', end)
                if end < 0:
                    raise SettingsInvalid(f"unterminated quote in table name {name!r}")
                if name[end + 1 : end + 2] == '"':
                    end += 2
                    continue
                break
            if current:
                raise SettingsInvalid(f"misplaced quote in table name {name!r}")
            current.append(name[i + 1 : end].replace('""', '"'))
            quoted_part = True
            i = end + 1
            if i < len(name) and name[i] != ".":
                raise SettingsInvalid(f"misplaced quote in table name {name!r}")
            continue
        if ch == ".":
            parts.append(_finish_part(current, quoted_part, name))
            current, quoted_part = [], False
        else:
            if quoted_part:
                raise SettingsInvalid(f"misplaced quote in table name {name!r}")
            current.append(ch)
        i += 1
    parts.append(_finish_part(current, quoted_part, name))
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise SettingsInvalid(f"table name {name!r} must be 'table' or 'schema.table'")


def _finish_part(chars: list[str], quoted: bool, whole: str) -> str:
    text = "".join(chars)
    if not quoted:
        text = text.strip()
        if any(c.isspace() for c in text):
            raise SettingsInvalid(f"unquoted table name part with spaces in {whole!r}")
        text = text.translate(_ASCII_LOWER)  # PostgreSQL folds only ASCII letters
    if not text:
        raise SettingsInvalid(f"empty part in table name {whole!r}")
    return text


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def quote_qualified(name: str) -> str:
    schema, table = split_qualified(name)
    return quote_ident(table) if schema is None else f"{quote_ident(schema)}.{quote_ident(table)}"


# --- mode, endpoint, TLS -----------------------------------------------------------------


def db_mode(environ: Mapping[str, str] | None = None) -> Mode:
    value = (os.environ if environ is None else environ).get(MODE_ENV, "").strip().lower()
    if value in ("", "real"):
        return "real"
    if value == "skip":
        return "skip"
    if value == "override":
        return "override"
    raise SettingsInvalid(f"{MODE_ENV} must be unset, 'skip' or 'override'")


def tls_context(ca_file: str | Path | None) -> ssl.SSLContext:
    """Verifying context: certificate chain and host name; CA file, else the system store."""
    if ca_file is not None and not Path(ca_file).is_file():
        raise SettingsInvalid(f"CA bundle {ca_file} does not exist")
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except ssl.SSLError as exc:
        raise SettingsInvalid(f"CA bundle {ca_file} is not valid PEM: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def default_ca_file() -> Path | None:
    return PACKAGED_CA_BUNDLE if PACKAGED_CA_BUNDLE.is_file() else None


def connect_timeout(settings: Mapping[str, Any]) -> float:
    value = settings.get("database", {}).get("connect_timeout_seconds", DEFAULT_CONNECT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SettingsInvalid("database.connect_timeout_seconds must be a positive number")
    return float(value)


def database_name(settings: Mapping[str, Any]) -> str:
    name = settings.get("database", {}).get("name")
    if not isinstance(name, str) or not name:
        raise SettingsInvalid("settings.database.name is missing")
    return name


def resolve_target(
    settings: Mapping[str, Any],
    staging_cluster_id: str | None,
    rds: Any,
    environ: Mapping[str, str] | None = None,
    ca_file: Path | None = None,
) -> Target:
    """Where the database steps connect: the staging cluster (real) or the override host.
    `ca_file`: the RDS CA bundle (default: the one packaged with the function)."""
    env = os.environ if environ is None else environ
    timeout = connect_timeout(settings)
    dbname = database_name(settings)
    if db_mode(env) == "override":
        host = env.get(HOST_ENV, "")
        if not host:
            raise SettingsInvalid(f"{MODE_ENV}=override needs {HOST_ENV}")
        dbname = _override_database(env.get(NAME_ENV, ""), dbname, staging_cluster_id)
        return Target(host, _port(env.get(PORT_ENV, "5432")), dbname, _override_tls(env), timeout)
    if not staging_cluster_id:
        raise SettingsInvalid("the document has no staging_cluster_id to connect to")
    clusters = rds.describe_db_clusters(DBClusterIdentifier=staging_cluster_id)["DBClusters"]
    endpoint = clusters[0].get("Endpoint") if clusters else None
    if not endpoint:
        raise DatabaseUnreachable(f"cluster {staging_cluster_id} has no endpoint yet")
    port = clusters[0].get("Port") or settings.get("target", {}).get("port") or 5432
    ca = ca_file or default_ca_file()
    if ca is None:
        raise SettingsInvalid(
            "no RDS CA bundle was packaged with this function (database.ca_bundle is not set): "
            "the Lambda runtime does not trust the RDS certificate authorities; set "
            "database.ca_bundle and run `aurora-restore setup lambdas`"
        )
    return Target(endpoint, int(port), dbname, tls_context(ca), timeout)


def _override_database(template: str, default: str, cluster_id: str | None) -> str:
    if not template:
        return default
    if "{cluster}" in template and not cluster_id:
        raise SettingsInvalid(f"{NAME_ENV} names the cluster, but the document has none")
    name = template.replace("{cluster}", cluster_id or "")
    quote_ident(name)  # a name PostgreSQL would truncate is refused here, not later
    return name


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise SettingsInvalid(f"{PORT_ENV} must be a TCP port number")
    return port


def _override_tls(env: Mapping[str, str]) -> ssl.SSLContext | None:
    setting = env.get(SSL_ENV, "verify").strip().lower()
    if setting == "off":
        return None
    if setting != "verify":
        raise SettingsInvalid(f"{SSL_ENV} must be 'verify' or 'off'")
    return tls_context(env.get(CA_ENV) or default_ca_file())


# --- secrets -----------------------------------------------------------------------------


def _secret_json(secrets: Any, secret_id: str, version_id: str | None = None) -> dict[str, Any]:
    extra = {"VersionId": version_id} if version_id else {}
    value = secrets.get_secret_value(SecretId=secret_id, **extra).get("SecretString")
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # Never echo the value: it is a secret even when it is malformed.
        raise SettingsInvalid(f"secret {secret_id} is not a JSON object")
    return data


def _env_value(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise SettingsInvalid(f"environment variable {name} is not set")
    return value


def admin_credentials(
    secrets: Any, environ: Mapping[str, str] | None = None, version_id: str | None = None
) -> Credentials:
    """The master user (real) or the override admin (`AURORA_RESTORE_DB_ADMIN_SECRET_ID`).

    `version_id`: the master-secret version this run staged (AWSPENDING until the new cluster
    serves under the target id; see handlers/lib/secrets.py); None reads AWSCURRENT."""
    env = os.environ if environ is None else environ
    override = db_mode(env) == "override"
    secret_id = _env_value(env, ADMIN_SECRET_ENV if override else MASTER_SECRET_ENV)
    data = _secret_json(secrets, secret_id, None if override else version_id)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not username:
        raise SettingsInvalid(f"secret {secret_id} has no 'username'")
    if not isinstance(password, str) or not password:
        raise SettingsInvalid(f"secret {secret_id} has no 'password'")
    return Credentials(username, password)


def app_secret(secrets: Any, environ: Mapping[str, str] | None = None) -> AppSecret:
    env = os.environ if environ is None else environ
    secret_id = _env_value(env, APP_SECRET_ENV)
    users = _secret_json(secrets, secret_id).get("users")
    if not isinstance(users, dict):
        raise SettingsInvalid(f"secret {secret_id} has no 'users' object")
    return AppSecret(dict(users))


# --- connections -------------------------------------------------------------------------


def connect(target: Target, credentials: Credentials) -> Connection:
    """Open a connection; unreachable/timeout/TLS failures raise DatabaseUnreachable, a refused
    login DatabaseLoginFailed. The timeout bounds connect, TLS handshake and login only."""
    where = f"{target.host}:{target.port}/{target.database}"
    try:
        conn = Connection(
            user=credentials.username,
            password=credentials.password,
            host=target.host,
            port=target.port,
            database=target.database,
            # False, not None: None makes pg8000 try TLS without verification.
            ssl_context=target.tls if target.tls is not None else False,
            timeout=target.connect_timeout,
            application_name=APPLICATION_NAME,
            tcp_keepalive=True,
        )
    except DatabaseError as exc:
        code, message = error_fields(exc)
        if code.startswith("28") or code == "3D000":
            raise DatabaseLoginFailed(
                f"login to {where} as {credentials.username} refused: {code} {message}"
            ) from None
        raise DatabaseUnreachable(f"cannot connect to {where}: {code} {message}") from None
    except ScramException as exc:
        # pg8000's SCRAM client applies SASLprep strictly and refuses some passwords the
        # server itself accepts (e.g. characters unassigned in Unicode 3.2, such as emoji).
        raise DatabaseLoginFailed(
            f"login to {where} as {credentials.username}: the client cannot use this password "
            f"({exc.args[0] if exc.args else 'SASLprep'})"
        ) from None
    except (InterfaceError, OSError) as exc:
        raise DatabaseUnreachable(f"cannot connect to {where}: {_network_reason(exc)}") from None
    # pg8000 keeps the connect timeout as the socket timeout; long scripts must not hit it.
    sock = getattr(conn, "_usock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(None)
    return conn


def _network_reason(exc: BaseException) -> str:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 5:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for err in chain:
        if isinstance(err, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed ({err.verify_message})"
        if isinstance(err, ssl.SSLError):
            return f"TLS handshake failed ({err.reason or err})"
        if isinstance(err, (socket.timeout, TimeoutError)):
            return "connect timed out"
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, socket.gaierror):
            return "host name does not resolve"
    text = str(exc)
    if "Server refuses SSL" in text:
        return "server does not offer TLS"
    return type(exc).__name__ + (f": {text}" if text and "password" not in text.lower() else "")


def error_fields(exc: DatabaseError) -> tuple[str, str]:
    """(SQLSTATE, primary message) of a server error, without DETAIL (it can hold row data)."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    code = str(info.get("C", "")) or "?????"
    message = str(info.get("M", "")) or "unknown server error"
    return code, message[:300]


def error_position(exc: DatabaseError) -> int | None:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    try:
        return int(info["P"])
    except (KeyError, TypeError, ValueError):
        return None


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    conn.run("START TRANSACTION")
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(Exception):  # the original error matters more
            conn.run("ROLLBACK")
        raise
    conn.run("COMMIT")


def close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # a dead connection must not mask the outcome
        conn.close()


# --- wiring for the step handlers --------------------------------------------------------


@dataclass(frozen=True)
class StepDatabase:
    """What a database step needs from the document and the environment."""

    settings: Mapping[str, Any]
    target: Target
    secrets: Any = field(repr=False)
    master_version: str | None = None  # this run's staged master password (AWSPENDING)

    def admin(self) -> Credentials:
        return admin_credentials(self.secrets, version_id=self.master_version)

    def describe(self) -> dict[str, Any]:
        """Audit details about where we connected (never credentials)."""
        return {
            "endpoint": f"{self.target.host}:{self.target.port}",
            "database": self.target.database,
            "tls": self.target.tls_mode,
        }


def step_database(document: Mapping[str, Any]) -> StepDatabase:
    """Resolve target and secrets client for a step (not in skip mode: check db_mode first)."""
    settings = doc.settings(dict(document))
    region = doc.region(dict(document))
    rds = aws.client("rds", region) if db_mode() == "real" else None
    target = resolve_target(settings, document.get("staging_cluster_id"), rds)
    version = document.get("master_secret_version")
    return StepDatabase(
        settings, target, aws.client("secretsmanager", region), str(version) if version else None
    )


@contextmanager
def session(target: Target, credentials: Credentials) -> Iterator[Connection]:
    conn = connect(target, credentials)
    try:
        yield conn
    finally:
        close_quietly(conn)
