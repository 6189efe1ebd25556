"""The one AWS-client factory. boto3 is imported here, lazily, so `--help` stays fast.

Every client shares one session (profile / sandbox credentials), one endpoint override and a
retry configuration suited to throttling; every API call is counted (reads vs writes), which
`-v`, the tests and the benchmarks use.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

READ_PREFIXES = ("Describe", "Get", "List", "Head", "Query", "Scan", "Batch Get", "Lookup")
SANDBOX_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


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

    @property
    def reads(self) -> int:
        return sum(n for key, n in self.calls.items() if is_read(key.split(".", 1)[1]))

    @property
    def writes(self) -> int:
        return sum(n for key, n in self.calls.items() if not is_read(key.split(".", 1)[1]))

    def write_calls(self) -> list[str]:
        return sorted(k for k in self.calls if not is_read(k.split(".", 1)[1]))


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
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.sandbox = sandbox
        self.counter = counter if counter is not None else CallCounter()
        self.max_attempts = max_attempts
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _boto_session(self) -> Any:
        if self._session is None:
            import boto3

            if self.sandbox:
                # Never send real credentials to the sandbox (and never need any).
                self._session = boto3.Session(region_name=self.region, **SANDBOX_CREDENTIALS)
            else:
                self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
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
            read_timeout=70,
            user_agent_extra="aurora-restore",
        )
        client = self._boto_session().client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config
        )
        name = client.meta.service_model.service_name

        def count(model: Any, **_: Any) -> None:
            self.counter.record(name, model.name)

        # before-call fires once per attempt-independent API call (retries are not recounted).
        client.meta.events.register("before-call.*.*", lambda model, **kw: count(model, **kw))
        return client

    def account_id(self) -> str:
        return str(self.get("sts").get_caller_identity()["Account"])
