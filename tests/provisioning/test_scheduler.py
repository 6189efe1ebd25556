"""The task scheduler under the engine: bounded concurrency, dependency order, results in the
given order whatever finished first, failures that skip exactly their dependents."""

from __future__ import annotations

import random
import threading
import time
from functools import partial

import pytest

from aurora_restore_cli.provisioning import scheduler
from aurora_restore_cli.provisioning.scheduler import Task


class Recorder:
    """Tasks that sleep a random moment and record when they ran (thread-safe)."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.started: dict[str, int] = {}
        self.finished: dict[str, int] = {}
        self.clock = 0
        self.in_flight = 0
        self.most_in_flight = 0

    def task(self, key: str, needs: tuple[str, ...] = (), result: str = "ok") -> Task[str]:
        delay = self.rng.uniform(0, 0.02)

        def run() -> str:
            with self.lock:
                self.clock += 1
                self.started[key] = self.clock
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            time.sleep(delay)
            with self.lock:
                self.clock += 1
                self.finished[key] = self.clock
                self.in_flight -= 1
            return result

        return Task(key, run, needs)


def failed(result: str) -> bool:
    return result == "failed"


def test_every_task_starts_after_what_it_needs_has_finished() -> None:
    rec = Recorder()
    tasks = [rec.task(f"root{i}") for i in range(5)]
    tasks += [rec.task(f"mid{i}", (f"root{i}", f"root{(i + 1) % 5}")) for i in range(5)]
    tasks += [rec.task("last", tuple(f"mid{i}" for i in range(5)))]
    outcomes = scheduler.run(tasks, workers=4, failed=failed)
    assert [o.result for o in outcomes] == ["ok"] * len(tasks)
    for task in tasks:
        for need in task.needs:
            assert rec.finished[need] < rec.started[task.key], (need, task.key)


def test_concurrency_is_used_and_bounded() -> None:
    rec = Recorder()
    tasks = [rec.task(f"t{i}") for i in range(30)]
    scheduler.run(tasks, workers=5)
    assert 1 < rec.most_in_flight <= 5


def test_one_worker_runs_tasks_one_at_a_time_in_the_given_order() -> None:
    rec = Recorder()
    tasks = [rec.task(f"t{i}") for i in range(8)]
    scheduler.run(tasks, workers=1)
    assert rec.most_in_flight == 1
    assert sorted(rec.started, key=rec.started.__getitem__) == [t.key for t in tasks]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_outcomes_come_back_in_the_given_order_whatever_finished_first(seed: int) -> None:
    rec = Recorder(seed)
    keys = [f"t{i}" for i in range(20)]
    rng = random.Random(seed)
    tasks = [rec.task(key, result=key) for key in keys]
    rng.shuffle(tasks)
    outcomes = scheduler.run(tasks, workers=8)
    assert [o.key for o in outcomes] == [t.key for t in tasks]
    assert [o.result for o in outcomes] == [t.key for t in tasks]
    finish_order = sorted(rec.finished, key=rec.finished.__getitem__)
    assert finish_order != [t.key for t in tasks]  # they did finish in another order


def test_a_failure_skips_its_dependents_transitively_and_nothing_else() -> None:
    rec = Recorder()
    tasks = [
        rec.task("role"),
        rec.task("broken", result="failed"),
        rec.task("function", ("role", "broken")),
        rec.task("state machine", ("function",)),
        rec.task("alarm", ("state machine",)),
        rec.task("table"),
        rec.task("topic"),
        rec.task("topic alarm", ("topic",)),
    ]
    outcomes = {o.key: o for o in scheduler.run(tasks, workers=3, failed=failed)}
    assert outcomes["broken"].result == "failed" and not outcomes["broken"].skipped
    for key in ("function", "state machine", "alarm"):
        assert outcomes[key].skipped_for == "broken", key
        assert outcomes[key].result is None
        assert key not in rec.started  # never run
    for key in ("role", "table", "topic", "topic alarm"):
        assert outcomes[key].result == "ok", key


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_failure_named_for_a_skip_does_not_depend_on_timing(seed: int) -> None:
    rec = Recorder(seed)
    tasks = [
        rec.task("b", result="failed"),
        rec.task("a", result="failed"),
        rec.task("c"),
        rec.task("d", ("c", "a", "b")),
        rec.task("e", ("d",)),
    ]
    outcomes = {o.key: o for o in scheduler.run(tasks, workers=3, failed=failed)}
    assert outcomes["d"].skipped_for == "a"  # its first failed need, in its own order
    assert outcomes["e"].skipped_for == "a"


def test_independent_work_already_running_finishes_after_a_failure() -> None:
    release = threading.Event()
    finished: list[str] = []

    def slow() -> str:
        release.wait(5)
        finished.append("slow")
        return "ok"

    def fail_then_release() -> str:
        release.set()
        return "failed"

    tasks = [
        Task("slow", slow),
        Task("fails", fail_then_release),
        Task("after", lambda: "ok", ("fails",)),
    ]
    outcomes = scheduler.run(tasks, workers=2, failed=failed)
    assert [o.result for o in outcomes] == ["ok", "failed", None]
    assert finished == ["slow"]
    assert outcomes[2].skipped_for == "fails"


def test_an_exception_stops_new_work_and_is_raised_after_running_tasks_end() -> None:
    started: list[str] = []
    running_finished = threading.Event()

    class Crash(BaseException):
        pass

    def crash() -> str:
        started.append("crash")
        raise Crash()

    def running() -> str:
        started.append("running")
        time.sleep(0.05)
        running_finished.set()
        return "ok"

    def later() -> str:
        started.append("later")
        return "ok"

    tasks = [Task("running", running), Task("crash", crash),
             Task("later", later, ("running",))]
    with pytest.raises(Crash):
        scheduler.run(tasks, workers=2)
    assert running_finished.is_set()  # the running task was waited for …
    assert "later" not in started  # … but nothing new started after the crash


def test_on_done_is_called_in_the_calling_thread_for_each_task() -> None:
    seen: list[tuple[str, str]] = []
    main = threading.current_thread()

    def on_done(task: Task[str], result: str) -> None:
        assert threading.current_thread() is main
        seen.append((task.key, result))

    tasks = [Task(f"t{i}", partial(str, f"r{i}")) for i in range(6)]
    scheduler.run(tasks, workers=3, on_done=on_done)
    assert sorted(seen) == [(f"t{i}", f"r{i}") for i in range(6)]


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([Task("a", lambda: "", ("b",)), Task("b", lambda: "", ("a",))], "cycle"),
        ([Task("a", lambda: "", ("nowhere",))], "unknown"),
        ([Task("a", lambda: ""), Task("a", lambda: "")], "unique"),
    ],
)
def test_bad_graphs_are_refused(tasks: list[Task[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scheduler.run(tasks, workers=2)


def test_a_free_worker_takes_the_task_heading_the_longest_chain() -> None:
    rec = Recorder()
    tasks = [
        rec.task("lone-1"),
        rec.task("lone-2"),
        rec.task("head"),
        rec.task("middle", ("head",)),
        rec.task("tail", ("middle",)),
        rec.task("lone-3"),
    ]
    scheduler.run(tasks, workers=1)
    started = sorted(rec.started, key=rec.started.__getitem__)
    # the chain's head first (its chain is the longest), then what is longest at each turn;
    # among equals, the given order
    assert started == ["head", "middle", "lone-1", "lone-2", "tail", "lone-3"]
