"""Resumability and throttling for the whole setup.

Crash sweep: for every k, a `setup` that dies at its k-th write call (as a crash or Ctrl-C
would), then a re-run, must reach the same final state as an uninterrupted setup; `cleanup`
then leaves nothing of ours. Throttling: with a share of all calls answered
`ThrottlingException`, setup still converges (botocore's retries do the work).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint
from moto import mock_aws

from aurora_restore_cli import engine
from aurora_restore_cli.aws import CallCounter, is_read
from aurora_restore_cli.changes import Action
from aurora_restore_cli.resources import available_steps

from .conftest import make_context

MOTO_CONFIG: Any = {"lambda": {"use_docker": False}}


class Crash(BaseException):
    """Stands in for a process dying mid-command (not an AWS error the engine handles)."""


def _quiet(_: str) -> None:
    pass


def final_state() -> dict[str, Action]:
    ctx = make_context()
    return {f"{c.step}/{c.name}": c.action for c in engine.status(ctx, available_steps(), _quiet).changes}


def full_setup() -> engine.Report:
    ctx = make_context()
    return engine.setup(ctx, available_steps(), False, _quiet)


def crashing_counter(k: int) -> CallCounter:
    """A call counter that raises Crash when the k-th write call is about to be sent."""

    class Crashing(CallCounter):
        def record(self, service: str, operation: str) -> None:
            super().record(service, operation)
            if not is_read(operation) and self.writes == k:
                raise Crash(f"crash at write {k}: {service}.{operation}")

    return Crashing()


@pytest.fixture(scope="module")
def write_calls() -> list[str]:
    """The write calls of an uninterrupted setup, in order (`service.Operation`)."""
    with mock_aws(config=MOTO_CONFIG):
        ctx = make_context()
        order: list[str] = []

        class Recording(CallCounter):
            def record(self, service: str, operation: str) -> None:
                super().record(service, operation)
                if not is_read(operation):
                    order.append(f"{service}.{operation}")

        ctx.clients.counter = Recording()
        assert engine.setup(ctx, available_steps(), False, _quiet).ok
        return order


def crash_points(calls: list[str]) -> list[int]:
    """Every k, except that the 22 functions' identical (log group, retention, function)
    triples are sampled: the first two functions, every fifth, and the last one."""
    creates = [k for k, call in enumerate(calls, 1) if call == "lambda.CreateFunction"]
    # each function: create log group, set retention, create function
    first, last = (creates[0] - 2, creates[-1]) if creates else (0, -1)
    points = []
    for k in range(1, len(calls) + 1):
        if first <= k <= last:
            function = (k - first) // 3
            if function not in (0, 1) and function % 5 and k < last - 2:
                continue
        points.append(k)
    return points


def test_crash_sweep(write_calls: list[str]) -> None:
    assert len(write_calls) > 5
    for k in crash_points(write_calls):
        with mock_aws(config=MOTO_CONFIG):
            ctx = make_context()
            ctx.clients.counter = crashing_counter(k)
            with pytest.raises(Crash):
                engine.setup(ctx, available_steps(), False, _quiet)
            report = full_setup()
            assert report.ok, (k, write_calls[k - 1], report.failures)
            drifted = {name: action for name, action in final_state().items()
                       if action is not Action.PRESENT}
            assert drifted == {}, (k, write_calls[k - 1], drifted)


def test_cleanup_after_partial_setups(write_calls: list[str]) -> None:
    """A setup that died anywhere can be cleaned up without re-running it first."""
    for k in range(1, len(write_calls) + 1, max(1, len(write_calls) // 10)):
        with mock_aws(config=MOTO_CONFIG):
            ctx = make_context()
            ctx.clients.counter = crashing_counter(k)
            with pytest.raises(Crash):
                engine.setup(ctx, available_steps(), False, _quiet)
            removed = engine.cleanup(make_context(force_delete_secrets=True),
                                     list(reversed(available_steps())), False, _quiet)
            assert removed.ok, (k, removed.failures)
            assert set(final_state().values()) == {Action.MISSING}, k


def test_cleanup_after_full_setup_leaves_nothing() -> None:
    with mock_aws(config=MOTO_CONFIG):
        assert full_setup().ok
        removed = engine.cleanup(make_context(force_delete_secrets=True),
                                 list(reversed(available_steps())), False, _quiet)
        assert removed.ok, removed.failures
        assert set(final_state().values()) == {Action.MISSING}


@pytest.fixture
def throttled(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Answer ~30% of all requests with a throttling error, deterministically."""
    rng = random.Random(7)
    stats = {"throttled": 0, "sent": 0}
    original = Endpoint._do_get_response

    def flaky(self: Endpoint, request: Any, operation_model: Any, context: Any) -> Any:
        stats["sent"] += 1
        if rng.random() < 0.3:
            stats["throttled"] += 1
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
        again = make_context()
        assert {c.action for c in engine.setup(again, available_steps(), False, _quiet).changes} == {
            Action.UNCHANGED}
        assert again.clients.counter.writes == 0
        removed = engine.cleanup(make_context(force_delete_secrets=True),
                                 list(reversed(available_steps())), False, _quiet)
        assert removed.ok, removed.failures
