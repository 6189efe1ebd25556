"""SCRAM-SHA-256 password verifiers computed on the client, as psql's \\password does.

`CREATE ROLE … PASSWORD` takes no bind parameters. Sending the server a verifier instead of
the password means the plaintext never reaches the server (so never its statement log or
pg_stat_statements), and the verifier's alphabet (letters, digits, `+/=$:-`) cannot break out
of a string literal, which `scram_literal` checks before quoting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from scramp.utils import saslprep  # ships with pg8000 (its SCRAM client uses the same prep)

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
SALT_BYTES = 16
_VERIFIER = re.compile(r"SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+")


def _prepared(password: str) -> bytes:
    # PostgreSQL's rule (pg_saslprep): ASCII is used as is; otherwise SASLprep, and if the
    # string is not allowed by SASLprep the raw UTF-8 bytes.
    if password.isascii():
        return password.encode("utf-8")
    try:
        return saslprep(password).encode("utf-8")
    except Exception:  # scramp raises its own exception type for prohibited input
        return password.encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The string PostgreSQL stores in pg_authid.rolpassword for `password`."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", _prepared(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def scram_literal(verifier: str) -> str:
    """`verifier` as an SQL string literal; refuses anything that is not a SCRAM verifier."""
    if not _VERIFIER.fullmatch(verifier):
        raise ValueError("not a SCRAM-SHA-256 verifier")
    return f"'{verifier}'"
