"""Resumability and throttling for the whole setup, with the engine's concurrency on.

Crash sweep: a `setup` that dies just before a given write call (as a crash or Ctrl-C would:
from that moment no thread gets another call through), then a re-run, must reach the same
final state as an uninterrupted setup; `cleanup` then leaves nothing of ours. Writes run
concurrently, so a crash point is "the n-th call of operation X" (which resource makes it
varies from run to run; every n of every operation is covered, sampled for the operations
made once per function or alarm). Throttling: with a share of all calls answered
`ThrottlingException`, setup still converges (botocore's retries do the work).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint
from moto import mock_aws

from aurora_restore_cli.aws import DEFAULT_CONCURRENCY, CallCounter, is_read
from aurora_restore_cli.config.settings import Settings
from aurora_restore_cli.documents.packaging import Package, Packager
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import available_steps
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.lambdas import use_packager

from ..conftest import make_context

MOTO_CONFIG: Any = {"lambda": {"use_docker": False}}
MANY = 8  # an operation made more often than this is sampled (one call per function/alarm)


class Crash(BaseException):
    """Stands in for a process dying mid-command (not an AWS error the engine handles)."""


class SamePackages(Packager):
    """Builds each package once for the whole module: the zips are deterministic, so every
    context would build the same bytes again (this only saves time)."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, Package] = {}
        self._lock = threading.Lock()

    def build(self, step: str, settings: Settings) -> Package:
        with self._lock:
            if step not in self._built:
                self._built[step] = super().build(step, settings)
            return self._built[step]


PACKAGES = SamePackages()


def context(**kwargs: Any) -> Any:
    ctx = make_context(**kwargs)
    assert ctx.clients.concurrency == DEFAULT_CONCURRENCY > 1  # concurrency on, as shipped
    use_packager(ctx, PACKAGES)
    return ctx


def _quiet(_: str) -> None:
    pass


def final_state() -> dict[str, Action]:
    report = engine.status(context(), available_steps(), _quiet)
    return {f"{c.step}/{c.name}": c.action for c in report.changes}


def full_setup() -> engine.Report:
    return engine.setup(context(), available_steps(), False, _quiet)


class Crashing(CallCounter):
    """Raises Crash when the `n`-th call of `operation` is about to be sent, and on every
    call after that, from any thread (the process is gone)."""

    def __init__(self, operation: str, n: int) -> None:
        super().__init__()
        self.operation, self.n = operation, n
        self.seen = 0
        self.dead = False
        self.guard = threading.Lock()

    def record(self, service: str, operation: str) -> None:
        with self.guard:
            if not self.dead and f"{service}.{operation}" == self.operation:
                self.seen += 1
                self.dead = self.seen == self.n
            dead = self.dead
        if dead:
            raise Crash(f"crash at {self.operation} #{self.n}")
        super().record(service, operation)


def crashed_setup(operation: str, n: int) -> None:
    ctx = context()
    ctx.clients.counter = Crashing(operation, n)
    with pytest.raises(Crash):
        engine.setup(ctx, available_steps(), False, _quiet)


@pytest.fixture(scope="module")
def write_calls() -> Counter[str]:
    """How many times an uninterrupted setup makes each write call (`service.Operation`)."""
    with mock_aws(config=MOTO_CONFIG):
        ctx = context()
        assert engine.setup(ctx, available_steps(), False, _quiet).ok
        return Counter({k: n for k, n in ctx.clients.counter.calls.items()
                        if not is_read(k.split(".", 1)[1])})


def crash_points(calls: Counter[str]) -> list[tuple[str, int]]:
    """Every (operation, n); for operations made more than MANY times (once per function,
    log group or alarm): the first two, every fifth and the last."""
    points = []
    for operation, count in sorted(calls.items()):
        ns = range(1, count + 1)
        if count > MANY:
            ns = sorted({1, 2, count, *range(5, count, 5)})  # type: ignore[assignment]
        points += [(operation, n) for n in ns]
    return points


SHARDS = 4  # the sweep is the suite's longest test: shards let pytest-xdist spread it


@pytest.mark.parametrize("shard", range(SHARDS))
def test_crash_sweep(write_calls: Counter[str], shard: int) -> None:
    points = crash_points(write_calls)
    assert len(points) > 20
    for operation, n in points[shard::SHARDS]:
        with mock_aws(config=MOTO_CONFIG):
            crashed_setup(operation, n)
            report = full_setup()
            assert report.ok, (operation, n, report.failures)
            drifted = {name: action for name, action in final_state().items()
                       if action is not Action.PRESENT}
            assert drifted == {}, (operation, n, drifted)


def test_cleanup_after_partial_setups(write_calls: Counter[str]) -> None:
    """A setup that died anywhere can be cleaned up without re-running it first."""
    points = crash_points(write_calls)
    for operation, n in points[:: max(1, len(points) // 10)]:
        with mock_aws(config=MOTO_CONFIG):
            crashed_setup(operation, n)
            removed = engine.cleanup(context(force_delete_secrets=True),
                                     list(reversed(available_steps())), False, _quiet)
            assert removed.ok, (operation, n, removed.failures)
            assert set(final_state().values()) == {Action.MISSING}, (operation, n)


def test_cleanup_after_full_setup_leaves_nothing() -> None:
    with mock_aws(config=MOTO_CONFIG):
        assert full_setup().ok
        removed = engine.cleanup(context(force_delete_secrets=True),
                                 list(reversed(available_steps())), False, _quiet)
        assert removed.ok, removed.failures
        assert set(final_state().values()) == {Action.MISSING}


@pytest.fixture
def throttled(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Answer ~30% of all requests, from any worker thread, with a throttling error."""
    rng = random.Random(7)
    stats = {"throttled": 0, "sent": 0}
    lock = threading.Lock()
    original = Endpoint._do_get_response

    def flaky(self: Endpoint, request: Any, operation_model: Any, context: Any) -> Any:
        with lock:
            stats["sent"] += 1
            throttle = rng.random() < 0.3
            stats["throttled"] += throttle
        if throttle:
            response = AWSResponse(request.url, 400, {"x-amzn-errortype": "ThrottlingException"}, None)
            response._content = b"{}"
            parsed = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                      "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}}}
            return (response, parsed), None
        return original(self, request, operation_model, context)

    monkeypatch.setattr(Endpoint, "_do_get_response", flaky)
    monkeypatch.setattr(time, "sleep", lambda _: None)  # botocore's backoff, compressed
    yield stats


def test_setup_converges_under_throttling(throttled: dict[str, int]) -> None:
    with mock_aws(config=MOTO_CONFIG):
        report = full_setup()
        assert report.ok, report.failures
        assert throttled["throttled"] > 10
        again = context()
        assert {c.action for c in engine.setup(again, available_steps(), False, _quiet).changes} == {
            Action.UNCHANGED}
        assert again.clients.counter.writes == 0
        removed = engine.cleanup(context(force_delete_secrets=True),
                                 list(reversed(available_steps())), False, _quiet)
        assert removed.ok, removed.failures
