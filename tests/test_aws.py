"""The client factory under threads: one client per service, the same exception classes for
every thread, a call counter that stays exact, and a checked concurrency setting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from aurora_restore_cli.aws import (
    CONCURRENCY_ENV,
    DEFAULT_CONCURRENCY,
    CallCounter,
    Clients,
    concurrency_from_env,
)
from aurora_restore_cli.config.reader import ConfigError

from .conftest import ROOT


def at_once(n: int, work: Callable[[], Any]) -> list[Any]:
    """`work()` from n threads released together; their answers."""
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_threads_get_one_client_with_one_set_of_exception_classes() -> None:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        clients = Clients("us-east-1", endpoint_url="http://127.0.0.1:9", concurrency=4)
        found = at_once(16, lambda: clients.get("iam"))
        # botocore builds these lazily: built twice, an `except client.exceptions.X` misses.
        errors = at_once(16, lambda: clients.get("iam").exceptions.NoSuchEntityException)
    finally:
        sys.setswitchinterval(interval)
    assert len({id(client) for client in found}) == 1
    assert len(set(errors)) == 1
    assert found[0].meta.config.max_pool_connections >= 10
    assert clients.get("iam", "eu-west-1") is not found[0]  # one per region


def test_the_counter_is_exact_under_threads() -> None:
    counter = CallCounter()

    def count() -> tuple[int, int]:
        for _ in range(500):
            counter.record("iam", "GetRole")
            counter.record("iam", "CreateRole")
        return counter.reads, counter.writes  # read while others still count

    at_once(8, count)
    assert counter.reads == counter.writes == 8 * 500
    assert counter.write_calls() == ["iam.CreateRole"]


def test_batch_gets_are_reads() -> None:
    counter = CallCounter()
    counter.record("dynamodb", "BatchGetItem")
    counter.record("resourcegroupstaggingapi", "GetResources")
    assert (counter.reads, counter.writes) == (2, 0)


def test_the_concurrency_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONCURRENCY_ENV, raising=False)
    assert concurrency_from_env() == DEFAULT_CONCURRENCY
    monkeypatch.setenv(CONCURRENCY_ENV, "1")
    assert Clients("us-east-1").concurrency == 1
    for bad in ("0", "65", "-3", "many", "2.5"):
        monkeypatch.setenv(CONCURRENCY_ENV, bad)
        with pytest.raises(ConfigError, match=f"{CONCURRENCY_ENV}: expected an integer"):
            concurrency_from_env()


def test_a_bad_concurrency_is_a_usage_error_before_any_aws_call() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aurora_restore_cli", "--env", "dev", "--config-dir",
         str(ROOT / "config"), "--endpoint-url", "http://127.0.0.1:9", "status"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, CONCURRENCY_ENV: "lots"},
    )
    assert done.returncode == 2, done.stderr
    assert f"{CONCURRENCY_ENV}: expected an integer from 1 to 64, got 'lots'" in done.stderr
    assert "Traceback" not in done.stderr
