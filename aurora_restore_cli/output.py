"""The one output layer: rich tables and spinners for people, one JSON document for machines.

Results go to stdout; progress, logs and errors go to stderr. `NO_COLOR` is honoured by rich.
Nothing else in the package prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from .changes import Action, Change

ACTION_STYLE = {
    Action.CREATED: "green",
    Action.UPDATED: "yellow",
    Action.DELETED: "red",
    Action.UNCHANGED: "dim",
    Action.PRESENT: "green",
    Action.ABSENT: "dim",
    Action.FOREIGN: "bold red",
    Action.FAILED: "bold red",
    Action.DRIFTED: "yellow",
    Action.MISSING: "red",
    Action.WOULD_CREATE: "cyan",
    Action.WOULD_UPDATE: "cyan",
    Action.WOULD_DELETE: "cyan",
}


class Output:
    def __init__(self, mode: str = "text", verbose: int = 0) -> None:
        self.mode = mode
        self.verbose = verbose
        self.out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self.err = Console(file=sys.stderr, highlight=False, soft_wrap=True)

    @property
    def json(self) -> bool:
        return self.mode == "json"

    # progress and logs (stderr) -------------------------------------------------------
    def info(self, message: str) -> None:
        if not self.json:
            self.err.print(message)

    def debug(self, message: str) -> None:
        if self.verbose:
            self.err.print(f"[dim]{message}[/dim]")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/yellow] {message}")

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/bold red] {message}", markup=True)

    @contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        if self.err.is_terminal and not self.json:
            with self.err.status(message):
                yield
        else:
            yield

    # results (stdout) ------------------------------------------------------------------
    def document(self, doc: dict[str, Any]) -> None:
        """Print the machine-readable result (json mode only)."""
        if self.json:
            sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")

    def print(self, renderable: Any) -> None:
        if not self.json:
            self.out.print(renderable)

    def changes(self, title: str, changes: Sequence[Change], doc: dict[str, Any]) -> None:
        if self.json:
            self.document({**doc, "changes": [c.to_json() for c in changes]})
            return
        table = Table(title=title, title_justify="left", show_lines=False)
        for column in ("step", "resource", "name", "action", "detail"):
            table.add_column(column, overflow="fold")
        for c in changes:
            style = ACTION_STYLE.get(c.action, "")
            detail = c.detail if not (self.verbose and c.arn) else f"{c.detail} {c.arn}".strip()
            table.add_row(c.step, c.kind, c.name, f"[{style}]{c.action}[/{style}]", detail)
        self.out.print(table)
        self.out.print(summary_line(changes))


CHECK_STYLE = {"pass": "green", "fail": "bold red", "not checkable": "yellow"}


def checks_table(title: str, checks: Sequence[Any]) -> Table:
    """Preflight: one row per check (area, check, status, detail, fix)."""
    table = Table(title=title, title_justify="left")
    for column in ("area", "check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = CHECK_STYLE.get(check.status, "")
        table.add_row(
            check.area, check.name, f"[{style}]{check.status}[/{style}]", check.detail, check.fix
        )
    return table


def step_summary(title: str, changes: Sequence[Change]) -> Table:
    """One row per step: how many resources, and what happened to them (for the demo)."""
    table = Table(title=title, title_justify="left")
    for column in ("step", "resources", "actions"):
        table.add_column(column)
    steps: dict[str, list[Change]] = {}
    for change in changes:
        steps.setdefault(change.step, []).append(change)
    for step, items in steps.items():
        table.add_row(step, str(len(items)), summary_line(items))
    return table


def summary_line(changes: Sequence[Change]) -> str:
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action.value] = counts.get(c.action.value, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"


STEP_STYLE = {"done": "green", "running": "cyan", "waiting": "yellow", "failed": "bold red"}


def execution_table(view: Any, now: Any) -> Table:
    """The live view of a run: one row per Task state, in the order they started."""
    table = Table(title_justify="left", box=None, pad_edge=False)
    for column in ("step", "status", "elapsed"):
        table.add_column(column)
    for step in view.steps.values():
        status = step.status
        if status == "waiting" or (step.polls > 1 and status != "failed"):
            status = f"{status} (poll {step.polls})"
        style = STEP_STYLE.get(step.status, "")
        table.add_row(step.name, f"[{style}]{status}[/{style}]", f"{step.elapsed(now):.1f}s")
    return table


class LiveRun:
    """Follows a run on stderr: a live table on a terminal, one line per change otherwise."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self._live: Any = None
        self._printed: dict[str, str] = {}

    def __enter__(self) -> LiveRun:
        if self.output.err.is_terminal and not self.output.json:
            from rich.live import Live

            self._live = Live(console=self.output.err, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, view: Any) -> None:
        from datetime import datetime, timezone

        if self.output.json:
            return
        now = datetime.now(timezone.utc)
        if self._live is not None:
            self._live.update(execution_table(view, now))
            return
        for step in view.steps.values():
            line = f"{step.status}" + (f" (poll {step.polls})" if step.polls > 1 else "")
            if self._printed.get(step.name) != line:
                self._printed[step.name] = line
                self.output.err.print(f"  {step.name:<24} {line:<18} {step.elapsed(now):6.1f}s")


def audit_table(title: str, items: Sequence[dict[str, Any]]) -> Table:
    """An operation's audit items, in the order given (time order)."""
    table = Table(title=title, title_justify="left")
    for column in ("time (UTC)", "step", "status", "details"):
        table.add_column(column, overflow="fold")
    for item in items:
        details = ", ".join(f"{k}={v}" for k, v in sorted((item.get("details") or {}).items()))
        table.add_row(item["timestamp"], item.get("step", ""), item.get("status", ""), details)
    return table
