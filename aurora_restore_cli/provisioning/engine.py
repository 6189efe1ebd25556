"""Plan and apply: every resource of the chosen steps, concurrently where nothing orders them.

For each resource: read it, decide (create / update / unchanged / foreign), and apply unless
dry-run. A same-named resource without our managed-by tag for this env is never modified or
deleted: it is reported as `foreign` and the command exits 1.

How the work is scheduled (scheduler.py, `AURORA_RESTORE_CONCURRENCY` workers, the work
heading the longest chain first):
- every resource is read up front; a read waits only for the bulk read that answers it (a
  list call, the tag index), never for another resource's changes;
- setup applies a resource once every resource it depends on is applied (its step's
  DEPENDS_ON and its `after`, see resources/__init__.py); a failure skips exactly what
  depends on it, everything else is still done;
- cleanup deletes in the reverse order (a resource after everything that depends on it) and
  keeps going after a failure, as other resources can still be removed;
- status and plan only read.
The report lists the resources in the order of the steps given and of each step's
resources (cleanup: reversed), whatever order the work finished in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..contract.naming import is_managed
from ..resources import STEPS, depends_on, step_resources
from ..resources.base.changes import Action, Change, Difference
from ..resources.base.resource import Context, Loadable, Resource
from ..resources.base.tag_index import TagIndex
from . import scheduler

Progress = Callable[[str], None]


@dataclass
class Report:
    changes: list[Change] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not any(c.action is Action.FOREIGN for c in self.changes)


@dataclass
class _Item:
    """One resource of the walk and what was learnt about it."""

    step: str
    res: Resource[object]
    needs: list[int] = field(default_factory=list)  # indexes of the items it depends on
    current: object | None = None
    decided: Change | None = None  # after the read: the action to take (or the failure)
    differences: list[str] = field(default_factory=list)


def _aws_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    # ValueError: a resource that cannot reach the desired state (e.g. a key schema that
    # cannot change in place, an app secret of the wrong shape); reported, not a traceback.
    return (ClientError, BotoCoreError, ValueError)


def _change(
    step: str,
    res: Resource[object],
    action: Action,
    detail: str = "",
    values: tuple[Difference, ...] = (),
) -> Change:
    return Change(step, res.kind, res.name, action, detail, res.arn(), values)


def _values(res: Resource[object], current: object, diffs: list[str]) -> tuple[Difference, ...]:
    """Old and new values of the differences; never a reason to fail a walk (names suffice)."""
    try:
        return tuple(res.values(current, diffs))
    except Exception:  # a rendering nicety: the names are reported anyway
        return ()


def _not_listed(ctx: Context, res: Resource[object], current: object | None) -> bool:
    """An unwanted resource (base.py) is listed only when it exists and is ours."""
    return res.unwanted and (current is None or not is_managed(res.tags(current), ctx.env))


def _foreign(step: str, res: Resource[object], ctx: Context) -> Change:
    return _change(
        step, res, Action.FOREIGN, f"exists without tag aurora-restore:env={ctx.env}; left alone"
    )


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]


def _items(ctx: Context, steps: Sequence[str], reverse: bool) -> list[_Item]:
    """The walk's resources in report order (`reverse`: each step's resources backwards),
    each with the items it depends on in setup order."""
    items: list[_Item] = []
    for step in steps:
        resources = step_resources(step, ctx)
        items += [_Item(step, res) for res in (reversed(resources) if reverse else resources)]
    position = {id(item.res): i for i, item in enumerate(items)}
    by_step: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_step.setdefault(item.step, []).append(i)
    for item in items:
        steps_needed = item.res.depends_on
        for need in depends_on(item.step) if steps_needed is None else steps_needed:
            if need not in STEPS:
                raise ValueError(f"{item.res.kind} {item.res.name} depends on unknown step {need}")
            item.needs += by_step.get(need, [])  # a step not in this walk is not waited for
        item.needs += [position[id(other)] for other in item.res.after if id(other) in position]
    return items


def _run(
    ctx: Context,
    items: list[_Item],
    read: Callable[[_Item], Change | None],
    act: Callable[[_Item], Change | None] | None,
    direction: str,
    progress: Progress,
) -> Report:
    """Read every item, then (if `act`) act on it in `direction` order ("setup": after what
    it depends on; "cleanup": after what depends on it)."""
    tasks: list[scheduler.Task[Change | None]] = []
    # Each bulk read (a list call, the tag index) once; the reads it answers wait for it
    # instead of occupying workers while one of them makes the call.
    bulk_of = [item.res.bulk_reads() for item in items]
    bulk: dict[int, tuple[str, Loadable]] = {}
    for loadables in bulk_of:
        for loadable in loadables:
            bulk.setdefault(id(loadable), (f"bulk {len(bulk)}", loadable))
    for i in _round_robin(items):
        needs = tuple(dict.fromkeys(bulk[id(x)][0] for x in bulk_of[i]))
        tasks.append(scheduler.Task(f"read {i}", _bind(read, items[i]), needs))
    tasks += [scheduler.Task(key, _loader(loadable)) for key, loadable in bulk.values()]
    if act is not None:
        dependents: dict[int, list[int]] = {i: [] for i in range(len(items))}
        for i, item in enumerate(items):
            for need in item.needs:
                dependents[need].append(i)
        for i, item in enumerate(items):
            after = item.needs if direction == "setup" else dependents[i]
            needs = (f"read {i}", *(f"act {j}" for j in after))
            tasks.append(scheduler.Task(f"act {i}", _bind(act, item), needs))

    def on_done(task: scheduler.Task[Change | None], result: Change | None) -> None:
        if result is not None and task.key.startswith("act " if act else "read "):
            progress(f"{result.step}: {result.name}: {result.action}")

    # Setup skips what depends on a failure; cleanup keeps going (see the module docstring).
    outcomes = scheduler.run(
        tasks, ctx.clients.concurrency, _failed if direction == "setup" else _never, on_done
    )
    by_key = {outcome.key: outcome for outcome in outcomes}
    report = Report()
    for i, item in enumerate(items):
        outcome = by_key.get(f"act {i}") if act is not None else by_key[f"read {i}"]
        change = outcome.result if outcome is not None else None
        if outcome is not None and outcome.skipped_for is not None and item.decided is not None:
            change = item.decided if _failed(item.decided) else _skipped(items, item, outcome)
        if change is None:
            continue  # an unwanted resource that is not there (or not ours): not listed
        report.changes.append(change)
        if change.action is Action.FAILED:
            report.failures.append(f"{change.kind} {change.name}: {change.detail}")
    return report


def _loader(loadable: Loadable) -> Callable[[], None]:
    def load() -> None:
        try:
            loadable.load()
        except _aws_errors():
            pass  # each read that needs it tries again, and reports its own failure

    return load


def _round_robin(items: list[_Item]) -> list[int]:
    """Item indexes taking each step in turn: the first reads to start cover every kind, so
    the bulk reads (and the slowest kinds) all start at once instead of in waves."""
    by_step: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_step.setdefault(item.step, []).append(i)
    queues = list(by_step.values())
    order: list[int] = []
    while queues:
        order += [queue.pop(0) for queue in queues]
        queues = [queue for queue in queues if queue]
    return order


def _bind(func: Callable[[_Item], Change | None], item: _Item) -> Callable[[], Change | None]:
    return lambda: func(item)


def _failed(change: Change | None) -> bool:
    return change is not None and change.action is Action.FAILED


def _never(_: Change | None) -> bool:
    return False


def _skipped(items: list[_Item], item: _Item, outcome: scheduler.Outcome[Change | None]) -> Change:
    blocker = items[int(str(outcome.skipped_for).split()[1])]
    return _change(
        item.step,
        item.res,
        Action.SKIPPED,
        f"not attempted: {blocker.res.kind} {blocker.res.name} failed",
    )


def _with_index(ctx: Context, walk: Callable[[], Report], use_index: bool) -> Report:
    """Run `walk` with a fresh tag index (or none) on the context, removed afterwards."""
    ctx.tag_index = TagIndex(ctx.clients, ctx.env) if use_index else None
    try:
        return walk()
    finally:
        ctx.tag_index = None


def setup(ctx: Context, steps: Iterable[str], dry_run: bool, progress: Progress) -> Report:
    errors = _aws_errors()
    items = _items(ctx, list(steps), reverse=False)

    def read(item: _Item) -> Change | None:
        step, res = item.step, item.res
        try:
            item.current = res.read()
            if _not_listed(ctx, res, item.current):
                return None
            if item.current is None:
                action = Action.WOULD_CREATE if dry_run else Action.CREATED
                item.decided = _change(step, res, action)
            elif not is_managed(res.tags(item.current), ctx.env):
                item.decided = _foreign(step, res, ctx)
            else:
                diffs = item.differences = res.differences(item.current)
                if not diffs:
                    item.decided = _change(step, res, Action.UNCHANGED)
                else:
                    action = Action.WOULD_UPDATE if dry_run else Action.UPDATED
                    item.decided = _change(
                        step, res, action, ", ".join(diffs), _values(res, item.current, diffs)
                    )
            if not dry_run and item.decided.action in (Action.CREATED, Action.UPDATED):
                res.prepare()
        except errors as exc:
            item.decided = _change(step, res, Action.FAILED, _short(exc))
        return item.decided

    def apply(item: _Item) -> Change | None:
        decided = item.decided
        if decided is None:
            return None
        try:
            if decided.action is Action.CREATED:
                item.res.create()
                return _change(item.step, item.res, Action.CREATED)  # its ARN may be known now
            if decided.action is Action.UPDATED:
                item.res.update(item.current, item.differences)
        except errors as exc:
            return _change(item.step, item.res, Action.FAILED, _short(exc))
        return decided

    def walk() -> Report:
        return _run(ctx, items, read, None if dry_run else apply, "setup", progress)

    return _with_index(ctx, walk, use_index=True)


def cleanup(ctx: Context, steps: Iterable[str], dry_run: bool, progress: Progress) -> Report:
    errors = _aws_errors()
    items = _items(ctx, list(steps), reverse=True)

    def read(item: _Item) -> Change | None:
        step, res = item.step, item.res
        try:
            item.current = res.read()
            if _not_listed(ctx, res, item.current):
                return None
            if item.current is None:
                item.decided = _change(step, res, Action.ABSENT, "already gone")
            elif not is_managed(res.tags(item.current), ctx.env):
                item.decided = _foreign(step, res, ctx)
            else:
                action = Action.WOULD_DELETE if dry_run else Action.DELETED
                item.decided = _change(step, res, action, res.deletion_note())
        except errors as exc:
            item.decided = _change(step, res, Action.FAILED, _short(exc))
        return item.decided

    def delete(item: _Item) -> Change | None:
        decided = item.decided
        if decided is not None and decided.action is Action.DELETED:
            try:
                item.res.delete(item.current)
            except errors as exc:
                return _change(item.step, item.res, Action.FAILED, _short(exc))
        return decided

    def walk() -> Report:
        # Keep going after a failure: a deletion never waits on a failed one, it only comes
        # after its dependents' deletions were tried.
        return _run(ctx, items, read, None if dry_run else delete, "cleanup", progress)

    # Ownership before a delete comes from each service itself, never from the tag index.
    return _with_index(ctx, walk, use_index=False)


def status(ctx: Context, steps: Iterable[str], progress: Progress) -> Report:
    errors = _aws_errors()
    items = _items(ctx, list(steps), reverse=False)

    def read(item: _Item) -> Change | None:
        step, res = item.step, item.res
        try:
            current = res.read()
            if _not_listed(ctx, res, current):
                return None
            if current is None:
                return _change(step, res, Action.MISSING)
            if not is_managed(res.tags(current), ctx.env):
                return _foreign(step, res, ctx)
            diffs = res.differences(current)
            action = Action.DRIFTED if diffs else Action.PRESENT
            return _change(step, res, action, ", ".join(diffs), _values(res, current, diffs))
        except errors as exc:
            return _change(step, res, Action.FAILED, _short(exc))

    return _with_index(ctx, lambda: _run(ctx, items, read, None, "none", progress), True)
