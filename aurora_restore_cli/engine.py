"""Plan and apply: walks the steps in dependency order (setup) or in reverse (cleanup).

For each resource: read it, decide (create / update / unchanged / foreign), and apply unless
dry-run. A same-named resource without our managed-by tag for this env is never modified or
deleted: it is reported as `foreign` and the command exits 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .changes import Action, Change
from .naming import is_managed
from .resources import step_resources
from .resources.base import Context, Resource

Progress = Callable[[str], None]


class AwsFailure(Exception):
    """An AWS call failed while changing a resource; carries the changes made so far."""

    def __init__(self, change: Change, cause: BaseException) -> None:
        super().__init__(f"{change.kind} {change.name}: {cause}")
        self.change = change
        self.cause = cause


@dataclass
class Report:
    changes: list[Change] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not any(c.action is Action.FOREIGN for c in self.changes)


def _aws_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    # ValueError: a resource that cannot reach the desired state (e.g. a key schema that
    # cannot change in place, an app secret of the wrong shape); reported, not a traceback.
    return (ClientError, BotoCoreError, ValueError)


def _change(step: str, res: Resource[object], action: Action, detail: str = "") -> Change:
    return Change(step, res.kind, res.name, action, detail, res.arn())


def _foreign(step: str, res: Resource[object], ctx: Context) -> Change:
    return _change(
        step, res, Action.FOREIGN, f"exists without tag aurora-restore:env={ctx.env}; left alone"
    )


def setup(ctx: Context, steps: Iterable[str], dry_run: bool, progress: Progress) -> Report:
    report = Report()
    errors = _aws_errors()
    for step in steps:
        for res in step_resources(step, ctx):
            progress(f"{step}: {res.name}")
            try:
                change = _setup_one(ctx, step, res, dry_run)
            except errors as exc:
                report.changes.append(_change(step, res, Action.FAILED, _short(exc)))
                report.failures.append(f"{res.kind} {res.name}: {_short(exc)}")
                return report  # later steps depend on this one
            report.changes.append(change)
    return report


def _setup_one(ctx: Context, step: str, res: Resource[object], dry_run: bool) -> Change:
    current = res.read()
    if current is None:
        if not dry_run:
            res.create()
        return _change(step, res, Action.WOULD_CREATE if dry_run else Action.CREATED)
    if not is_managed(res.tags(current), ctx.env):
        return _foreign(step, res, ctx)
    diffs = res.differences(current)
    if not diffs:
        return _change(step, res, Action.UNCHANGED)
    if not dry_run:
        res.update(current, diffs)
    return _change(step, res, Action.WOULD_UPDATE if dry_run else Action.UPDATED, ", ".join(diffs))


def cleanup(ctx: Context, steps: Iterable[str], dry_run: bool, progress: Progress) -> Report:
    report = Report()
    errors = _aws_errors()
    for step in steps:
        for res in reversed(step_resources(step, ctx)):
            progress(f"{step}: {res.name}")
            try:
                current = res.read()
                if current is None:
                    report.changes.append(_change(step, res, Action.ABSENT, "already gone"))
                elif not is_managed(res.tags(current), ctx.env):
                    report.changes.append(_foreign(step, res, ctx))
                else:
                    if not dry_run:
                        res.delete(current)
                    action = Action.WOULD_DELETE if dry_run else Action.DELETED
                    report.changes.append(_change(step, res, action))
            except errors as exc:  # keep going: other resources can still be removed
                report.changes.append(_change(step, res, Action.FAILED, _short(exc)))
                report.failures.append(f"{res.kind} {res.name}: {_short(exc)}")
    return report


def status(ctx: Context, steps: Iterable[str], progress: Progress) -> Report:
    report = Report()
    errors = _aws_errors()
    for step in steps:
        for res in step_resources(step, ctx):
            progress(f"{step}: {res.name}")
            try:
                current = res.read()
                if current is None:
                    change = _change(step, res, Action.MISSING)
                elif not is_managed(res.tags(current), ctx.env):
                    change = _foreign(step, res, ctx)
                else:
                    diffs = res.differences(current)
                    change = _change(
                        step, res, Action.DRIFTED if diffs else Action.PRESENT, ", ".join(diffs)
                    )
            except errors as exc:
                change = _change(step, res, Action.FAILED, _short(exc))
                report.failures.append(f"{res.kind} {res.name}: {_short(exc)}")
            report.changes.append(change)
    return report


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]
