"""Run interdependent tasks on a bounded thread pool; answers come back in the tasks' order.

A task starts once every task it `needs` has finished. When a finished task's result counts
as failed (`failed(result)`), every task that needs it, directly or not, is skipped; all other
tasks still run, so what can be done is done. The outcomes are returned in the order the tasks
were given, whatever order they finished in, so the caller's report is deterministic.

Of the tasks ready to start, the one heading the longest chain of tasks that wait on it goes
first (then the given order), so a free worker is never spent on work that nothing waits for
while the slowest chain could advance.

An exception raised by a task (a bug, Ctrl-C, a simulated crash) is not a result: no new task
starts, the running ones finish, and the exception is raised again to the caller.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Task(Generic[T]):
    key: str
    run: Callable[[], T]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome(Generic[T]):
    key: str
    result: T | None  # None when skipped
    skipped_for: str | None = None  # the failed task (the first one found) that stopped it

    @property
    def skipped(self) -> bool:
        return self.skipped_for is not None


def run(
    tasks: Sequence[Task[T]],
    workers: int,
    failed: Callable[[T], bool] = lambda _: False,
    on_done: Callable[[Task[T], T], None] | None = None,
) -> list[Outcome[T]]:
    """Run `tasks` (at most `workers` at a time); `on_done` is called in this thread."""
    by_key = {task.key: task for task in tasks}
    if len(by_key) != len(tasks):
        raise ValueError("task keys must be unique")
    order = {task.key: i for i, task in enumerate(tasks)}
    waiting_on = {task.key: len(set(task.needs)) for task in tasks}
    dependents: dict[str, list[str]] = {task.key: [] for task in tasks}
    for task in tasks:
        for need in dict.fromkeys(task.needs):
            if need not in by_key:
                raise ValueError(f"task {task.key} needs unknown task {need}")
            dependents[need].append(task.key)
    chain = _chain_lengths(tasks, dependents)
    done: dict[str, Outcome[T]] = {}
    running: dict[cf.Future[T], Task[T]] = {}
    ready: list[tuple[int, int, str]] = []  # (-chain, order, key): a heap
    slots = max(1, workers)

    with cf.ThreadPoolExecutor(max_workers=slots, thread_name_prefix="aws") as pool:

        def resolve(task: Task[T]) -> None:
            """Every need of `task` has finished: queue it, or skip it (and settle that)."""
            blocked = _blocked_by(task, done, failed)
            if blocked is None:
                heapq.heappush(ready, (-chain[task.key], order[task.key], task.key))
            else:
                done[task.key] = Outcome(task.key, None, blocked)
                settle(task.key)

        def settle(key: str) -> None:
            """`key` has finished or was skipped: resolve what now has all its needs."""
            now_ready = []
            for dependent in dependents[key]:
                waiting_on[dependent] -= 1
                if waiting_on[dependent] == 0:
                    now_ready.append(dependent)
            for dependent in sorted(now_ready, key=order.__getitem__):
                resolve(by_key[dependent])

        def start() -> None:
            while ready and len(running) < slots:
                task = by_key[heapq.heappop(ready)[2]]
                running[pool.submit(task.run)] = task

        try:
            for task in tasks:
                if waiting_on[task.key] == 0:
                    resolve(task)
            start()
            while running:
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: order[running[f].key]):
                    task = running.pop(future)
                    result = future.result()  # a task's exception stops everything
                    done[task.key] = Outcome(task.key, result)
                    if on_done is not None:
                        on_done(task, result)
                    settle(task.key)
                start()
        except BaseException:
            for future in running:
                future.cancel()
            raise
    if len(done) < len(tasks):
        stuck = [task.key for task in tasks if task.key not in done]
        raise ValueError(f"dependency cycle among {', '.join(stuck)}")
    return [done[task.key] for task in tasks]


def _chain_lengths(tasks: Sequence[Task[T]], dependents: dict[str, list[str]]) -> dict[str, int]:
    """For each task, the number of tasks on the longest chain it starts (itself included)."""
    lengths: dict[str, int] = {}
    # Dependents come later in a topological order; walk keys so each is computed after them.
    pending = [task.key for task in tasks]
    visiting: set[str] = set()
    while pending:
        key = pending[-1]
        if key in lengths:
            pending.pop()
            continue
        later = [d for d in dependents[key] if d not in lengths]
        if not later:
            lengths[key] = 1 + max((lengths[d] for d in dependents[key]), default=0)
            visiting.discard(key)
            pending.pop()
        elif key in visiting:
            lengths[key] = 1  # a cycle: reported once nothing can run
            pending.pop()
        else:
            visiting.add(key)
            pending += later
    return lengths


def _blocked_by(
    task: Task[T], done: dict[str, Outcome[T]], failed: Callable[[T], bool]
) -> str | None:
    """The failed task that stops `task`: its first need (in order) that failed, or the task
    that stopped its first skipped need. Decided once all its needs are done: deterministic."""
    for need in task.needs:
        outcome = done[need]
        if outcome.skipped_for is not None:
            return outcome.skipped_for
        if failed(outcome.result):  # type: ignore[arg-type]
            return need
    return None
