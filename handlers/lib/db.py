"""What every database step shares, whatever the engine: where to connect, as whom, over what
TLS. The drivers live behind the engine interface (handlers/lib/engines/: one connection layer
per engine); this module imports none of them, so a function's zip needs only its engine's.

Modes (env `AURORA_RESTORE_DB_MODE`):
  unset    real: the staging cluster's endpoint from RDS, TLS verified against the packaged
           CA bundle (handlers/certs/ca-bundle.pem, from `database.ca_bundle`). Without it
           the step fails (SettingsInvalid): the Lambda runtime's trust store lacks the RDS
           CAs, and there is no unverified fallback.
  skip     sandbox without a database: the database steps record SKIPPED and say why
           (`AURORA_RESTORE_DB_SKIP_REASON`, else SKIP_REASON).
  override tests/local: `AURORA_RESTORE_DB_HOST`/`_PORT`, admin credentials from the secret
           `AURORA_RESTORE_DB_ADMIN_SECRET_ID`, TLS per `AURORA_RESTORE_DB_SSL` (`verify`
           with CA file `AURORA_RESTORE_DB_CA`, or `off` — an explicit choice, never a
           fallback). The database is settings' `database.name`, or `AURORA_RESTORE_DB_NAME`
           where `{cluster}` stands for the staging cluster id (the sandbox keeps one database
           per restored cluster on one server).
Every one of these variables may be given per engine with the engine's suffix
(`AURORA_RESTORE_DB_HOST_MYSQL`, `AURORA_RESTORE_DB_MODE_POSTGRESQL`, …: `engine_suffix`),
which wins over the plain name: a sandbox serves PostgreSQL and MySQL clusters side by side.
Passwords are never logged, returned or put in exception messages.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
SKIP_REASON_ENV = "AURORA_RESTORE_DB_SKIP_REASON"
MASTER_SECRET_ENV = "MASTER_SECRET_ID"
APP_SECRET_ENV = "APP_SECRET_ID"

DEFAULT_ENGINE = "aurora-postgresql"  # what a settings document without target.engine means
APPLICATION_NAME = "aurora-restore"
PACKAGED_CA_BUNDLE = Path(__file__).resolve().parent.parent / "certs" / "ca-bundle.pem"
SKIP_REASON = "no database in the sandbox (AURORA_RESTORE_DB_MODE=skip)"
DEFAULT_CONNECT_TIMEOUT = 10.0
MAX_DATABASE_NAME_BYTES = 63  # PostgreSQL truncates longer names (MySQL allows 64 characters)

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
    configured_database: str = ""  # settings' database.name when `database` stands in for it
    shared: bool = False  # the server holds other clusters' databases too (override mode)

    @property
    def tls_mode(self) -> str:
        return "off" if self.tls is None else "verify"


# --- names -------------------------------------------------------------------------------


def engine_name(settings: Mapping[str, Any]) -> str:
    """The target's engine (`target.engine`; documents of older CLIs have none: PostgreSQL)."""
    return str((settings.get("target") or {}).get("engine") or DEFAULT_ENGINE)


def engine_suffix(engine: str) -> str:
    """`aurora-mysql` → `MYSQL`: the suffix of this engine's own override variables."""
    return engine.removeprefix("aurora-").upper().replace("-", "_")


def split_qualified(name: str) -> tuple[str | None, str]:
    """Split `schema.table` as the config writes it (for every engine): dots inside double
    quotes do not split, `""` inside quotes is a quote, unquoted parts fold to lower case.
    Returns (schema, table); schema is None for an unqualified name (the engine decides: the
    search path, or MySQL's current database)."""
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


# --- mode, endpoint, TLS -----------------------------------------------------------------


def _setting(env: Mapping[str, str], name: str, engine: str | None, default: str = "") -> str:
    """An override variable: the engine's own (`<NAME>_<SUFFIX>`) first, then the plain one."""
    if engine is not None:
        own = env.get(f"{name}_{engine_suffix(engine)}")
        if own is not None:
            return own
    return env.get(name, default)


def db_mode(environ: Mapping[str, str] | None = None, engine: str | None = None) -> Mode:
    env = os.environ if environ is None else environ
    value = _setting(env, MODE_ENV, engine).strip().lower()
    if value in ("", "real"):
        return "real"
    if value == "skip":
        return "skip"
    if value == "override":
        return "override"
    raise SettingsInvalid(f"{MODE_ENV} must be unset, 'skip' or 'override'")


def skip_reason(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str | None:
    """Why the database steps are skipped for this target's engine (None: they run)."""
    env = os.environ if environ is None else environ
    engine = engine_name(settings)
    if db_mode(env, engine) != "skip":
        return None
    return _setting(env, SKIP_REASON_ENV, engine) or SKIP_REASON


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
    engine = engine_name(settings)
    timeout = connect_timeout(settings)
    dbname = database_name(settings)
    default_port = int(settings.get("target", {}).get("port") or 5432)
    if db_mode(env, engine) == "override":
        host = _setting(env, HOST_ENV, engine)
        if not host:
            raise SettingsInvalid(f"{MODE_ENV}=override needs {HOST_ENV}")
        name = _override_database(_setting(env, NAME_ENV, engine), dbname, staging_cluster_id)
        port = _port(_setting(env, PORT_ENV, engine, str(default_port)))
        return Target(host, port, name, _override_tls(env, engine), timeout, dbname, True)
    if not staging_cluster_id:
        raise SettingsInvalid("the document has no staging_cluster_id to connect to")
    clusters = rds.describe_db_clusters(DBClusterIdentifier=staging_cluster_id)["DBClusters"]
    endpoint = clusters[0].get("Endpoint") if clusters else None
    if not endpoint:
        raise DatabaseUnreachable(f"cluster {staging_cluster_id} has no endpoint yet")
    port = clusters[0].get("Port") or default_port
    ca = ca_file or default_ca_file()
    if ca is None:
        raise SettingsInvalid(
            "no RDS CA bundle was packaged with this function (database.ca_bundle is not set): "
            "the Lambda runtime does not trust the RDS certificate authorities; set "
            "database.ca_bundle and run `aurora-restore setup lambdas`"
        )
    return Target(endpoint, int(port), dbname, tls_context(ca), timeout, dbname)


def _override_database(template: str, default: str, cluster_id: str | None) -> str:
    if not template:
        return default
    if "{cluster}" in template and not cluster_id:
        raise SettingsInvalid(f"{NAME_ENV} names the cluster, but the document has none")
    name = template.replace("{cluster}", cluster_id or "")
    if "\x00" in name or len(name.encode("utf-8")) > MAX_DATABASE_NAME_BYTES:
        # refused here, not later: PostgreSQL would silently truncate it
        raise SettingsInvalid(
            f"identifier longer than {MAX_DATABASE_NAME_BYTES} bytes (PostgreSQL would truncate it)"
        )
    return name


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise SettingsInvalid(f"{PORT_ENV} must be a TCP port number")
    return port


def _override_tls(env: Mapping[str, str], engine: str | None = None) -> ssl.SSLContext | None:
    setting = _setting(env, SSL_ENV, engine, "verify").strip().lower()
    if setting == "off":
        return None
    if setting != "verify":
        raise SettingsInvalid(f"{SSL_ENV} must be 'verify' or 'off'")
    return tls_context(_setting(env, CA_ENV, engine) or default_ca_file())


def network_reason(exc: BaseException) -> str:
    """Why a connection attempt failed, in words, without anything that could be a password."""
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
    secrets: Any,
    environ: Mapping[str, str] | None = None,
    version_id: str | None = None,
    engine: str | None = None,
) -> Credentials:
    """The master user (real) or the override admin (`AURORA_RESTORE_DB_ADMIN_SECRET_ID`).

    `version_id`: the master-secret version this run staged (AWSPENDING until the new cluster
    serves under the target id; see handlers/lib/secrets.py); None reads AWSCURRENT."""
    env = os.environ if environ is None else environ
    override = db_mode(env, engine) == "override"
    if override:
        secret_id = _setting(env, ADMIN_SECRET_ENV, engine)
        if not secret_id:
            raise SettingsInvalid(f"environment variable {ADMIN_SECRET_ENV} is not set")
    else:
        secret_id = _env_value(env, MASTER_SECRET_ENV)
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


# --- wiring for the step handlers --------------------------------------------------------


def step_target(document: Mapping[str, Any]) -> tuple[Mapping[str, Any], Target, Any, str | None]:
    """(settings, target, secrets client, staged master version) of a database step (not in
    skip mode: check `skip_reason` first). handlers/lib/database.py adds the engine."""
    settings = doc.settings(dict(document))
    region = doc.region(dict(document))
    engine = engine_name(settings)
    rds = aws.client("rds", region) if db_mode(engine=engine) == "real" else None
    target = resolve_target(settings, document.get("staging_cluster_id"), rds)
    version = document.get("master_secret_version")
    return settings, target, aws.client("secretsmanager", region), str(version) if version else None
