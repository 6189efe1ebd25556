"""The one place handlers get boto3 clients: region-aware, standard retries, bounded timeouts.

Endpoint and credentials follow the usual environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...),
so a local sandbox swaps them without code changes. Clients are cached per service, region and
environment (endpoint, credentials), as AWS recommends for Lambda: a warm container reuses them,
and service models are loaded once per process.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=10,
    read_timeout=60,
)
_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE")

_lock = threading.Lock()
_sessions: dict[tuple[str | None, ...], boto3.session.Session] = {}
_clients: dict[tuple[Any, ...], Any] = {}


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, region: str | None = None) -> Any:
    """A client for `service` in `region` (default: the function's own region)."""
    signature = tuple(os.environ.get(key) for key in _ENV_KEYS)
    key = (service, region or default_region(), signature)
    with _lock:
        found = _clients.get(key)
        if found is None:
            session = _sessions.get(signature)
            if session is None:
                session = _sessions[signature] = boto3.session.Session()
            factory: Any = session.client  # typed per service literal in the stubs
            found = _clients[key] = factory(service, region_name=key[1], config=_CONFIG)
        return found


def reset_clients() -> None:
    """Forget cached clients and sessions (tests that change credentials or endpoints)."""
    with _lock:
        _clients.clear()
        _sessions.clear()


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "InternalFailure",
    }
)


def is_transient(exc: BaseException) -> bool:
    """Throttling/unavailable errors that survived botocore's own retries, and lost connections."""
    if error_code(exc) in THROTTLING_CODES:
        return True
    from botocore.exceptions import ConnectionError as BotoConnectionError

    return isinstance(exc, BotoConnectionError)
