"""The one place handlers get boto3 clients: region-aware, standard retries, bounded timeouts.

Endpoint and credentials follow the usual environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...),
so a local sandbox swaps them without code changes.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=10,
    read_timeout=60,
)


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, region: str | None = None) -> Any:
    """A fresh client (cheap enough per invocation; avoids stale endpoints/credentials)."""
    factory: Any = boto3.client  # typed per service literal in the stubs; ours is a plain str
    return factory(service, region_name=region or default_region(), config=_CONFIG)


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
