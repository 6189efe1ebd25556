"""PostgreSQL's connection layer: pg8000 (vendored and pinned in the functions' zips), verified
TLS, login failures told apart from unreachable servers, server errors without row data, and
PostgreSQL's identifier quoting. Only the PostgreSQL engine (postgresql.py) and its helpers
import this module: a MySQL function's zip carries no pg8000.

Passwords are never logged, returned or put in exception messages.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection
from scramp import ScramException

from handlers.lib import db
from handlers.lib.db import Credentials, DatabaseLoginFailed, Target
from handlers.lib.errors import DatabaseUnreachable, SettingsInvalid

__all__ = ["Connection", "DatabaseError", "InterfaceError", "connect", "quote_ident"]

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names


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


def quote_qualified(name: str) -> str:
    schema, table = db.split_qualified(name)
    return quote_ident(table) if schema is None else f"{quote_ident(schema)}.{quote_ident(table)}"


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
            application_name=db.APPLICATION_NAME,
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
        raise DatabaseUnreachable(f"cannot connect to {where}: {db.network_reason(exc)}") from None
    # pg8000 keeps the connect timeout as the socket timeout; long scripts must not hit it.
    sock = getattr(conn, "_usock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(None)
    return conn


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
