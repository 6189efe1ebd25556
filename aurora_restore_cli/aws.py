"""The one AWS-client factory. boto3 is imported here, lazily, so `--help` stays fast.

Every client shares one session (profile / sandbox credentials), one endpoint override and a
retry configuration suited to throttling (standard mode: throttling answers are retried with
backoff); every API call is counted (reads vs writes), which `-v`, the tests and the
benchmarks use.

Threads: the engine calls AWS from a pool of `AURORA_RESTORE_CONCURRENCY` workers. boto3
clients are thread-safe once built, but building them (and the session) is not: `get()`
builds each client once, under a lock, with its exception classes, and the connection pool
of every client is as large as the worker pool. The counter is locked too.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

READ_PREFIXES = ("Describe", "Get", "List", "Head", "Query", "Scan", "BatchGet", "Lookup")
SANDBOX_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
CONCURRENCY_ENV = "AURORA_RESTORE_CONCURRENCY"
DEFAULT_CONCURRENCY = 32  # a whole wave (22 functions and their log groups) at once; retries absorb throttling
MAX_CONCURRENCY = 64


def concurrency_from_env() -> int:
    """How many AWS calls may be in flight at once (`AURORA_RESTORE_CONCURRENCY`, 1 = serial).

    A bad value is a usage error (exit 2), reported before any AWS call."""
    from .config.reader import ConfigError

    raw = os.environ.get(CONCURRENCY_ENV, "").strip()
    if not raw:
        return DEFAULT_CONCURRENCY
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_CONCURRENCY:
        raise ConfigError(
            CONCURRENCY_ENV, "", f"expected an integer from 1 to {MAX_CONCURRENCY}, got {raw!r}"
        )
    return int(raw)


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


@dataclass
class CallCounter:
    """Counts API calls by `service.Operation`; thread-safe."""

    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, service: str, operation: str) -> None:
        with self._lock:
            self.calls[f"{service}.{operation}"] += 1

    def snapshot(self) -> Counter[str]:
        """A consistent copy (other threads may be counting meanwhile)."""
        with self._lock:
            return Counter(self.calls)

    @property
    def reads(self) -> int:
        return sum(n for key, n in self.snapshot().items() if is_read(key.split(".", 1)[1]))

    @property
    def writes(self) -> int:
        return sum(n for key, n in self.snapshot().items() if not is_read(key.split(".", 1)[1]))

    def write_calls(self) -> list[str]:
        return sorted(k for k in self.snapshot() if not is_read(k.split(".", 1)[1]))


_LOADER: Any = None
_LOADER_LOCK = threading.Lock()


def _shared_loader() -> Any:
    """One botocore data loader per process: each service's model is parsed once, however
    many `Clients` the process makes (tests and the demo make several)."""
    global _LOADER
    with _LOADER_LOCK:
        if _LOADER is None:
            from botocore.loaders import create_loader

            _LOADER = create_loader()
        return _LOADER


LAMBDA_READ_TIMEOUT = 910


class Clients:
    """Builds and caches boto3 clients: `clients.get("dynamodb")`, `clients.get("rds", "us-west-2")`."""

    def __init__(
        self,
        region: str,
        profile: str | None = None,
        endpoint_url: str | None = None,
        sandbox: bool = False,
        counter: CallCounter | None = None,
        max_attempts: int = 8,
        concurrency: int | None = None,
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.sandbox = sandbox
        self.counter = counter if counter is not None else CallCounter()
        self.max_attempts = max_attempts
        self.concurrency = concurrency if concurrency is not None else concurrency_from_env()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _boto_session(self) -> Any:
        """The one session (call with the lock held: sessions are not thread-safe)."""
        if self._session is None:
            import boto3
            import botocore.session

            # The sandbox reads no profile: AWS_PROFILE names a real account (maybe one this
            # machine does not have), and the sandbox never sends real credentials.
            no_profile = {"profile": (None, None, None, None)} if self.sandbox else None
            core = botocore.session.Session(session_vars=no_profile)
            core.register_component("data_loader", _shared_loader())
            if self.sandbox:
                self._session = boto3.Session(
                    region_name=self.region, botocore_session=core, **SANDBOX_CREDENTIALS
                )
            else:
                self._session = boto3.Session(
                    profile_name=self.profile, region_name=self.region, botocore_session=core
                )
        return self._session

    def get(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._make(service, key[1])
            return self._clients[key]

    def _make(self, service: str, region: str) -> Any:
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": self.max_attempts},
            connect_timeout=10,
            # A synchronous Lambda invoke (recover, masking scan) answers when the function
            # ends: up to its 900 s limit.
            read_timeout=LAMBDA_READ_TIMEOUT if service == "lambda" else 70,
            max_pool_connections=max(10, self.concurrency),  # one connection per worker
            user_agent_extra="aurora-restore",
        )
        client = self._boto_session().client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config
        )
        name = client.meta.service_model.service_name
        # botocore builds `client.exceptions` lazily; two threads doing it at once get two sets
        # of classes, and `except client.exceptions.X` misses the other thread's X. Build it
        # here, under the lock.
        _ = client.exceptions

        def count(model: Any, **_: Any) -> None:
            self.counter.record(name, model.name)

        # before-call fires once per attempt-independent API call (retries are not recounted).
        client.meta.events.register("before-call.*.*", lambda model, **kw: count(model, **kw))
        return client

    def account_id(self) -> str:
        return str(self.get("sts").get_caller_identity()["Account"])
