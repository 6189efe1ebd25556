"""Run interdependent tasks on a bounded thread pool; answers come back in the tasks' order.

A task starts once every task it `needs` has finished. When a finished task's result counts
as failed (`failed(result)`), every task that needs it, directly or not, is skipped; all other
tasks still run, so what can be done is done. The outcomes are returned in the order the tasks
were given, whatever order they finished in, so the caller's report is deterministic.

An exception raised by a task (a bug, Ctrl-C, a simulated crash) is not a result: no new task
starts, the running ones finish, and the exception is raised again to the caller.
"""

from __future__ import annotations

import concurrent.futures as cf
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
    for task in tasks:
        unknown = [need for need in task.needs if need not in by_key]
        if unknown:
            raise ValueError(f"task {task.key} needs unknown task(s) {', '.join(unknown)}")
    done: dict[str, Outcome[T]] = {}
    waiting = list(tasks)  # in the given order: ready tasks start in that order
    running: dict[cf.Future[T], Task[T]] = {}

    def start_ready(pool: cf.ThreadPoolExecutor) -> None:
        progress = True
        while progress:  # a skip can make tasks listed earlier skippable or ready
            progress = False
            for task in list(waiting):
                blocked = _blocked_by(task, done, failed)
                if blocked is not None:
                    done[task.key] = Outcome(task.key, None, blocked)
                elif all(need in done for need in task.needs):
                    running[pool.submit(task.run)] = task
                else:
                    continue
                waiting.remove(task)
                progress = True

    with cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="aws") as pool:
        try:
            start_ready(pool)
            while running:
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    result = future.result()  # a task's exception stops everything
                    done[task.key] = Outcome(task.key, result)
                    if on_done is not None:
                        on_done(task, result)
                start_ready(pool)
        except BaseException:
            for future in running:
                future.cancel()
            raise
    if waiting:
        raise ValueError(f"dependency cycle among {', '.join(t.key for t in waiting)}")
    return [done[task.key] for task in tasks]


def _blocked_by(
    task: Task[T], done: dict[str, Outcome[T]], failed: Callable[[T], bool]
) -> str | None:
    """The failed task that stops `task` (through a skipped need, the one that stopped it)."""
    for need in task.needs:
        outcome = done.get(need)
        if outcome is None:
            continue
        if outcome.skipped_for is not None:
            return outcome.skipped_for
        if failed(outcome.result):  # type: ignore[arg-type]
            return need
    return None
