"""MySQL's connection layer (Aurora MySQL 3; MariaDB in the tests and the sandbox): PyMySQL,
pure Python, vendored and pinned in the functions' zips like pg8000 for PostgreSQL.

TLS is verified with the same context as PostgreSQL's (the RDS CA bundle, host name checked);
a server that offers no TLS is refused, never used in clear text. PyMySQL's defaults are not
safe here, so every choice is explicit: `ssl=<verifying context>` (without it PyMySQL *prefers*
TLS and would fall back to an unverified or plain connection), `ssl_disabled=True` only when
the override switches TLS off, and the password is sent as UTF-8 bytes (PyMySQL would encode a
str as Latin-1, so `pässwörd` would not match what `IDENTIFIED BY` stored and `密码` would
not encode at all).

Server errors keep MySQL's error number and message (never the SQL: a syntax error quotes
it); client-side codes (2000-2999) are connection failures, not server errors. Passwords are
never logged, returned or put in exception messages.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pymysql
from pymysql.connections import Connection
from pymysql.constants import CLIENT, SERVER_STATUS

from handlers.lib import db
from handlers.lib.db import Credentials, DatabaseLoginFailed, Target
from handlers.lib.errors import DatabaseUnreachable

__all__ = ["Connection", "MySQLError", "connect", "quote_ident"]

MySQLError = pymysql.err.MySQLError
MAX_IDENTIFIER_CHARS = 64  # databases, tables, columns
MAX_USER_CHARS = 32  # MySQL 8.0 / Aurora MySQL 3 (MariaDB allows 80: we keep to MySQL's)
LOGIN_REFUSED = {1044, 1045, 1049, 1698, 1251, 3118, 3159}  # access denied, unknown db, locked, …
CONNECTION_LOST = {2006, 2013, 2055}  # server gone away, lost connection during a query
CLIENT_ERRORS = range(2000, 3000)
# Duplicate entry, truncated/incorrect value, incorrect string/datetime/… value
QUOTES_A_VALUE = {1062, 1586, 1292, 1366, 1411, 1525, 1367}
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'")
COM_RESET_CONNECTION = 0x1F  # not among PyMySQL's constants  # CR_*: the client's own errors (no server said anything)


# --- identifiers -------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """`name` as a backtick-quoted identifier; inside, a backtick is doubled. `%` is doubled
    too: every statement the engine builds goes through PyMySQL's parameter formatting."""
    return "`" + name.replace("`", "``").replace("%", "%%") + "`"


def literal(value: str) -> str:
    """A string literal for SQL that is formatted with parameters (so `%` doubled)."""
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace("%", "%%")
    return "'" + escaped + "'"


# --- connections -------------------------------------------------------------------------


def connect(target: Target, credentials: Credentials) -> Connection:
    """Open a connection (autocommit; the engine opens transactions explicitly). Unreachable,
    timeout and TLS failures raise DatabaseUnreachable, a refused login DatabaseLoginFailed.
    The timeout bounds connect, TLS handshake and login only."""
    where = f"{target.host}:{target.port}/{target.database}"
    tls: dict[str, Any] = (
        {"ssl_disabled": True} if target.tls is None else {"ssl": target.tls}
    )
    try:
        conn = pymysql.connect(
            host=target.host,
            port=target.port,
            user=credentials.username,
            password=credentials.password.encode("utf-8"),
            database=target.database,
            connect_timeout=target.connect_timeout,
            # PyMySQL's connect_timeout covers the TCP connect only: without these, a server
            # that accepts and never answers would hang the handshake forever.
            read_timeout=target.connect_timeout,
            write_timeout=target.connect_timeout,
            autocommit=True,
            charset="utf8mb4",
            # FOUND_ROWS: an UPDATE reports the rows it matched (as PostgreSQL does), not only
            # those whose value changed; MULTI_STATEMENTS: a SQL file runs as written.
            client_flag=CLIENT.FOUND_ROWS | CLIENT.MULTI_STATEMENTS,
            program_name=db.APPLICATION_NAME,
            **tls,
        )
    except MySQLError as exc:
        code, message = error_fields(exc)
        if code in LOGIN_REFUSED:
            raise DatabaseLoginFailed(
                f"login to {where} as {credentials.username} refused: {code} "
                f"{_without(message, credentials.password)}"
            ) from None
        raise DatabaseUnreachable(f"cannot connect to {where}: {_reason(exc)}") from None
    except (OSError, ValueError) as exc:
        raise DatabaseUnreachable(f"cannot connect to {where}: {db.network_reason(exc)}") from None
    # The timeout bounds connect and login only: long statements and scripts must not hit it.
    conn._read_timeout = None
    conn._write_timeout = None
    if target.tls is not None and not getattr(conn, "_secure", False):
        close_quietly(conn)  # not reached with PyMySQL 1.2 (it refuses first): belt and braces
        raise DatabaseUnreachable(f"cannot connect to {where}: server does not offer TLS")
    return conn


def _reason(exc: BaseException) -> str:
    """A connection failure in words; PyMySQL wraps socket and TLS errors in error 2003."""
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        return db.network_reason(cause)
    code, message = error_fields(exc)
    if "SSL is required" in message:
        return "server does not offer TLS"
    if "timed out" in message:
        return "connect timed out"
    if "Connection refused" in message:
        return "connection refused"
    return f"{code} {message}"


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def error_fields(exc: BaseException) -> tuple[int, str]:
    """(MySQL error number, message) of a PyMySQL error; (0, class name) when it has none.
    Unlike PostgreSQL's, some MySQL messages quote the offending value ("Duplicate entry
    'ada@example.com' for key …"): that value is replaced, it can be personal data."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):
        message = str(args[1])
        if args[0] in QUOTES_A_VALUE:
            message = _QUOTED.sub("'…'", message, count=1)
        return args[0], message[:300]
    return 0, type(exc).__name__


def is_server_error(exc: BaseException) -> bool:
    if not isinstance(exc, MySQLError):
        return False
    code, _ = error_fields(exc)
    return code != 0 and code not in CLIENT_ERRORS


def is_connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return isinstance(exc, MySQLError) and error_fields(exc)[0] in CONNECTION_LOST


def in_transaction(conn: Connection) -> bool:
    return bool(conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)


def is_mariadb(conn: Connection) -> bool:
    """MariaDB (tests, sandbox) names itself in its version; Aurora MySQL does not."""
    return "mariadb" in str(conn.get_server_info()).lower()


def reset_connection(conn: Connection) -> None:
    """COM_RESET_CONNECTION (MySQL ≥ 5.7.3, MariaDB ≥ 10.2.4): user variables, session
    settings, temporary tables and prepared statements are forgotten; the login and the current
    database stay. PyMySQL has no public call for it: sent like its own `ping`."""
    conn._execute_command(COM_RESET_CONNECTION, "")
    conn._read_ok_packet()


def close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # a dead connection must not mask the outcome
        conn.close()
