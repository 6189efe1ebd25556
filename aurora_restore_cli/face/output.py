"""The one output layer: rich tables and spinners for people, one JSON document for machines.

Results go to stdout; progress, logs and errors go to stderr. `NO_COLOR` is honoured by rich.
Nothing else in the package prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..resources.base.changes import MASK, Action, Change, Difference

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
    """`defer=True` (the CLI's): the JSON document is held until `flush()` or `fail()`, so a
    failure after the result is known still yields exactly one document on stdout."""

    def __init__(self, mode: str = "text", verbose: int = 0, defer: bool = False) -> None:
        self.mode = mode
        self.verbose = verbose
        self.defer = defer
        self._pending: dict[str, Any] | None = None
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
        self.err.print(f"[bold red]error:[/bold red] {message}", markup=True, soft_wrap=True)

    def fail(self, message: str, exit_code: int) -> None:
        """The one line on stderr; in JSON mode also the document with `error`/`exit_code`."""
        self.error(message)
        if self.json:
            pending, self._pending = self._pending or {}, None
            self._write({**pending, "error": message, "exit_code": exit_code})

    @contextmanager
    def spinner(self, message: str) -> Iterator[None]:
        if self.err.is_terminal and not self.json:
            with self.err.status(message):
                yield
        else:
            yield

    # results (stdout) ------------------------------------------------------------------
    def document(self, doc: dict[str, Any]) -> None:
        """The machine-readable result (json mode only); deferred: kept until `flush()`."""
        if not self.json:
            return
        if self.defer:
            self._pending = {**(self._pending or {}), **doc}
        else:
            self._write(doc)

    def flush(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._write(pending)

    @staticmethod
    def _write(doc: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")

    def print(self, renderable: Any) -> None:
        if not self.json:
            self.out.print(renderable)

    def rows(self, listing: Rows) -> None:
        """A listing whose cells are never cut or wrapped: a table that fits the terminal
        (hiding optional columns if it must), else — and whenever stdout is not a terminal —
        plain aligned lines, one per row, so `grep` sees whole rows."""
        if self.json:
            return
        if self.out.is_terminal:
            hidden: list[str] = []
            for drop in ["", *reversed(listing.optional)]:
                if drop:
                    hidden.append(drop)
                if listing.width(hidden) <= self.out.width:
                    self.out.print(listing.table(hidden))
                    if hidden:
                        self.out.print(f"[dim](hidden to fit: {', '.join(hidden)}; widen the "
                                       "terminal or use -o json)[/dim]", soft_wrap=False)
                    return
        for line in listing.lines():
            self.out.print(line, markup=False, highlight=False, soft_wrap=True)

    def changes(self, title: str, changes: Sequence[Change], doc: dict[str, Any]) -> None:
        """Every resource in JSON, with -v, and when piped; on a terminal one row per step
        (counts per action) plus every resource that needs attention."""
        if self.json:
            self.document({**doc, "changes": [c.to_json() for c in changes]})
            return
        if self.out.is_terminal and not self.verbose and len(changes) > GROUP_ABOVE:
            self.rows(step_summary(title, changes))
            attention = [c for c in changes if c.action in ATTENTION]
            if attention:
                self.rows(change_rows("Needs attention", attention, with_arn=False))
            self._values(changes)
            self.out.print(summary_line(changes) + " [dim](every resource: -v)[/dim]")
            return
        self.rows(change_rows(title, changes, with_arn=bool(self.verbose)))
        self._values(changes)
        self.out.print(summary_line(changes))

    def _values(self, changes: Sequence[Change]) -> None:
        """Old → new for every field that differs (a unified diff for documents)."""
        for line in value_lines(changes):
            self.out.print(line, soft_wrap=True)


FOLD_WIDTH = 24  # a folded column gets at least this many cells before the table gives up
GROUP_ABOVE = 12  # fewer changes than this read fine one per line, even on a terminal
ATTENTION = {Action.FOREIGN, Action.FAILED, Action.DRIFTED, Action.MISSING}


@dataclass
class Rows:
    """A titled listing; `optional` headers may be hidden (last first) to fit a terminal,
    `fold` ones may wrap there (free text); every other cell stays whole on one line."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)  # cells may hold rich markup
    optional: tuple[str, ...] = ()
    fold: tuple[str, ...] = ()
    plain: list[list[str]] | None = None  # piped lines' cells, when they say more (no markup)

    def table(self, hidden: Sequence[str] = ()) -> Table:
        shown = [i for i, h in enumerate(self.headers) if h not in hidden]
        table = Table(title=self.title, title_justify="left")
        for i in shown:
            folds = self.headers[i] in self.fold
            table.add_column(self.headers[i], no_wrap=not folds, overflow="fold" if folds else "ellipsis")
        for row in self.rows:
            table.add_row(*(row[i] for i in shown))
        return table

    def width(self, hidden: Sequence[str] = ()) -> int:
        """The narrowest table that keeps every unfoldable cell whole (rich's box: a padded
        cell and one rule per column, plus the last rule)."""
        from rich.text import Text

        total = 1
        for i, header in enumerate(self.headers):
            if header in hidden:
                continue
            cells = [header, *(Text.from_markup(r[i]).plain for r in self.rows)]
            need = max(Text(c).cell_len for c in cells)
            total += (min(need, FOLD_WIDTH) if header in self.fold else need) + 3
        return total

    def lines(self) -> list[str]:
        from rich.text import Text

        rows = self.plain if self.plain is not None else [
            [Text.from_markup(c).plain for c in r] for r in self.rows]
        plain = [self.headers, *rows]
        widths = [max(len(r[i]) for r in plain) for i in range(len(self.headers))]
        text = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in plain]
        return [self.title, *text]


DIFF_STYLE = {"+": "green", "-": "red", "@": "cyan"}
ACTION_MARK = {Action.WOULD_UPDATE: "~", Action.UPDATED: "~", Action.DRIFTED: "~"}


def value_lines(changes: Sequence[Change]) -> list[Any]:
    """The values of what differs, resource by resource: `field: old → new` for a scalar, a
    unified diff (current → config) for a document; a secret's sides stay masked."""
    from rich.text import Text

    lines: list[Any] = []
    for change in changes:
        if not change.values:
            continue
        mark = ACTION_MARK.get(change.action, "~")
        lines.append(Text(f"{mark} {change.kind} {change.name}", style="bold"))
        for value in change.values:
            lines.extend(_value(value))
    if lines:
        lines.insert(0, Text("What differs (current → config):", style="bold"))
    return lines


def _value(value: Difference) -> list[Any]:
    from rich.text import Text

    if value.secret:
        return [Text(f"    {value.field}: {MASK} → {MASK}")]
    if not value.document:
        return [Text(f"    {value.field}: {_plain(value.old)} → {_plain(value.new)}")]
    lines = [Text(f"    {value.field}:")]
    for line in document_diff(value.old, value.new):
        lines.append(Text(f"      {line}".rstrip(), style=DIFF_STYLE.get(line[:1], "")))
    return lines


def _plain(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)


def document_diff(old: Any, new: Any) -> list[str]:
    """A unified diff of two JSON documents (keys sorted, two-space indent); None is absent."""
    import difflib

    def text(value: Any) -> list[str]:
        return [] if value is None else json.dumps(value, indent=2, sort_keys=True,
                                                    default=str).splitlines()

    return list(difflib.unified_diff(text(old), text(new), "current", "config", n=3,
                                     lineterm=""))


def change_rows(title: str, changes: Sequence[Change], with_arn: bool) -> Rows:
    listing = Rows(title, ["step", "resource", "name", "action", "detail"],
                   optional=("resource", "detail"))
    for c in changes:
        style = ACTION_STYLE.get(c.action, "")
        detail = f"{c.detail} {c.arn}".strip() if with_arn and c.arn else c.detail
        listing.rows.append([c.step, c.kind, c.name, f"[{style}]{c.action}[/{style}]", detail])
    return listing


CHECK_STYLE = {"pass": "green", "fail": "bold red", "not checkable": "yellow", "warn": "yellow"}


def checks_table(title: str, checks: Sequence[Any]) -> Rows:
    """Preflight: one row per check (area, check, status, detail, fix)."""
    listing = Rows(
        title, ["area", "check", "status", "detail", "fix"], optional=("fix",), fold=("detail", "fix")
    )
    for check in checks:
        style = CHECK_STYLE.get(check.status, "")
        listing.rows.append(
            [check.area, check.name, f"[{style}]{check.status}[/{style}]", check.detail, check.fix]
        )
    return listing


def executions_table(title: str, executions: Sequence[dict[str, Any]]) -> Rows:
    listing = Rows(title, ["operation", "status", "started", "duration", "snapshot"],
                   optional=("snapshot", "started", "duration"))
    for row in executions:
        duration = "-" if row["duration_seconds"] is None else f"{row['duration_seconds']:.0f}s"
        listing.rows.append(
            [row["operation_id"], row["status"], row["started"] or "-", duration,
             row["snapshot"] or "-"]
        )
    return listing


def step_summary(title: str, changes: Sequence[Change]) -> Rows:
    """One row per step: how many resources, and what happened to them (for the demo)."""
    listing = Rows(title, ["step", "resources", "actions"])
    steps: dict[str, list[Change]] = {}
    for change in changes:
        steps.setdefault(change.step, []).append(change)
    for step, items in steps.items():
        listing.rows.append([step, str(len(items)), summary_line(items)])
    return listing


def summary_line(changes: Sequence[Change]) -> str:
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action.value] = counts.get(c.action.value, 0) + 1
    return ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"


STEP_STYLE = {
    "done": "green",
    "skipped": "dim",
    "running": "cyan",
    "waiting": "yellow",
    "failed": "bold red",
}


def duration(seconds: float) -> str:
    """`42s`, `12m03s`, `3h05m`: for people, at the precision a wait deserves."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def step_status(step: Any, now: Any) -> str:
    """`waiting (poll 3): next check in 40s, at most 4h10m more` — the wait from the poll
    settings the state document carries; else the status (and the polls so far)."""
    status = step.status
    if status == "waiting" or (step.polls > 1 and status != "failed"):
        status = f"{status} (poll {step.polls})"
    wait = step.wait if step.status == "waiting" else None
    if wait is not None:
        status += f": next check in {duration(wait.next_check_in(now))}"
        left = wait.at_most_left(now)
        if left is not None:
            status += f", at most {duration(left)} more"
    return status


def execution_table(view: Any, now: Any) -> Table:
    """The live view of a run: one row per Task state, in the order they started, and the
    time since the run started."""
    elapsed = (now - view.started).total_seconds() if view.started else 0.0
    table = Table(title_justify="left", box=None, pad_edge=False,
                  caption=f"elapsed {duration(elapsed)}", caption_justify="left")
    for column in ("step", "status", "elapsed"):
        table.add_column(column)
    for step in view.steps.values():
        style = STEP_STYLE.get(step.status, "")
        table.add_row(escape(step.title), f"[{style}]{escape(step_status(step, now))}[/{style}]",
                      f"{step.elapsed(now):.1f}s")
    return table


class LiveRun:
    """Follows a run on stderr: a live table on a terminal; otherwise one line per change,
    each with its time (UTC) and the run's elapsed time."""

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
        elapsed = (now - view.started).total_seconds() if view.started else 0.0
        for step in view.steps.values():
            line = step.status + (f" (poll {step.polls})" if step.polls > 1 else "")
            if self._printed.get(step.name) != line:
                self._printed[step.name] = line
                shown = step_status(step, now)
                self.output.err.print(
                    f"{now:%H:%M:%S}Z {duration(elapsed):>7}  {step.title:<27} {shown:<18} "
                    f"{step.elapsed(now):6.1f}s".rstrip(), markup=False, highlight=False)


DRILL_PHASES = ("copy", "restore", "instances", "verification")


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}s"


def drills_table(title: str, drills: Sequence[dict[str, Any]]) -> Rows:
    """Restore drills (aurora_restore_cli.drills.recent): the path, RTO per phase and in
    total, and the RPO of a point-in-time drill (how far production's latest restorable time
    trailed the drill)."""
    listing = Rows(title, ["drill", "status", "from", "RTO", *DRILL_PHASES, "RPO",
                           "snapshot (age)"],
                   optional=("snapshot (age)", "from"))
    for row in drills:
        age = row["snapshot_age_hours"]
        snapshot = "-" if not row["snapshot"] else (
            f"{row['snapshot']} ({'?' if age is None else f'{float(age):.1f}h'})"
        )
        status = row["status"] if not row["error"] else f"{row['status']} ({row['error']})"
        listing.rows.append(
            [row["operation_id"], status, str(row.get("restored_from") or "snapshot"),
             f"[bold]{_seconds(row['rto_seconds'])}[/bold]",
             *(_seconds(row["phases"].get(phase)) for phase in DRILL_PHASES),
             _seconds(row.get("rpo_seconds")), escape(snapshot)]
        )
    return listing


def rto_table(title: str, summary: dict[str, Any]) -> Rows:
    """One drill's restore time (its summary audit item): seconds per phase and in total."""
    listing = Rows(title, ["phase", "seconds"])
    phases = summary.get("phases") or {}
    listing.rows.extend([phase, _seconds(phases.get(phase))] for phase in DRILL_PHASES)
    listing.rows.append(["[bold]total (RTO)[/bold]", f"[bold]{_seconds(summary.get('rto_seconds'))}[/bold]"])
    if summary.get("rpo_seconds") is not None:  # a point-in-time drill: production's RPO
        listing.rows.append(["recovery point behind (RPO)", _seconds(summary["rpo_seconds"])])
    return listing


def audit_table(title: str, items: Sequence[dict[str, Any]]) -> Rows:
    """An operation's audit items, in the order given (time order); details fold on a TTY.
    A terminal shows the time of day (UTC; the title says the date), piped lines the whole
    timestamp; the time column goes first when the terminal is narrow."""
    dates = sorted({str(item["timestamp"])[:10] for item in items})
    span = dates[0] if len(dates) == 1 else f"{dates[0]} – {dates[-1]}" if dates else "-"
    listing = Rows(f"{title} (UTC, {span})",
                   ["time", "step", "status", "details"], fold=("details",),
                   optional=("time",))
    listing.plain = []
    from ..operations.runs import step_label

    for item in items:
        facts = item.get("details") or {}
        details = ", ".join(f"{k}={v}" for k, v in sorted(facts.items()) if k != "what")
        step = step_label(str(item.get("step", "")), facts.get("what"))
        stamp = str(item["timestamp"])
        short = stamp[11:19] if len(dates) < 2 else stamp[5:19].replace("T", " ")
        status = str(item.get("status", ""))
        listing.rows.append([short, escape(step), status, escape(details)])
        listing.plain.append([stamp, step, status, details])
    return listing


LEVEL_STYLE = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow", "DEBUG": "dim"}
STEP_WIDTH = 21  # reset-master-password: the longest step name


class LogPrinter:
    """`logs`: one line per log line (time, step, level, message and its facts), printed as
    they arrive; kept for the JSON document."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.lines: list[Any] = []

    def add(self, lines: Sequence[Any]) -> None:
        self.lines.extend(lines)
        if self.output.json:
            return
        for line in lines:
            self.output.out.print(log_line(line), soft_wrap=True)


def log_line(line: Any) -> Any:
    """A log line as text: `<time>  <step>  <LEVEL>  <message> <key=value, …>`."""
    from rich.text import Text

    facts = ", ".join(f"{k}={v}" for k, v in sorted((line.details or {}).items()))
    text = Text(f"{line.time}  ")
    text.append(f"{line.step:<{STEP_WIDTH}}", style="bold")
    text.append("  ")
    text.append(f"{line.level:<7}", style=LEVEL_STYLE.get(line.level, ""))
    text.append(f"  {line.message}")
    if facts:
        text.append(f"  {facts}", style="dim")
    text.rstrip()
    return text


HEALTH_STYLE = {"pass": "green", "fail": "bold red", "stale": "bold red", "skipped": "dim"}


def health_table(title: str, rows: Sequence[Any]) -> Rows:
    """`test-functions`: one row per function (operations.health.FunctionHealth)."""
    listing = Rows(title, ["function", "code", "environment", "role", "database", "problems"],
                   optional=("problems",), fold=("problems",))

    def cell(value: str) -> str:
        style = HEALTH_STYLE.get(value, "")
        return f"[{style}]{value}[/{style}]" if style else value

    for row in rows:
        role = cell(row.role) + (f" ({row.action})" if row.action else "")
        listing.rows.append([row.function, cell(row.code), cell(row.environment), role,
                             cell(row.database), escape("; ".join(row.problems))])
    return listing


def rendered_lines(sections: dict[str, Any]) -> list[Any]:
    """`render`: each document under a heading that names it, as indented JSON."""
    from rich.text import Text

    lines: list[Any] = []
    for section, documents in sections.items():
        lines.append(Text(f"# {section}", style="bold"))
        for path, document in _documents(section, documents):
            lines.append(Text(f"## {path}", style="bold cyan"))
            lines.extend(Text(line) for line in json.dumps(
                document, indent=2, sort_keys=True, default=str).splitlines())
    return lines


def _documents(section: str, value: Any) -> list[tuple[str, Any]]:
    """The documents of a section, by path: a role's each policy, a definition, a function."""
    if section == "settings":
        return [("settings document", value)]
    found: list[tuple[str, Any]] = []
    for name, item in value.items():
        if section != "iam":
            found.append((name, item))
            continue
        found.append((f"{name} trust policy", item["trust_policy"]))
        found += [(f"{name} inline policy {p}", d) for p, d in item["inline_policies"].items()]
        found += [(f"{name} managed policy {p}", d) for p, d in item["managed_policies"].items()]
    return found


def masking_plan_rows(title: str, plans: Sequence[Any]) -> Rows:
    """masking plan: one row per rule (table, column, transformer)."""
    listing = Rows(title, ["table", "column", "transformer"])
    for table in plans:
        for rule in table.rules:
            listing.rows.append([table.table, rule["column"], rule["transformer"]])
    return listing


def quarantine_plan_rows(title: str, plan: Any) -> Rows:
    """quarantine plan: one row per declared rule, then one per built-in check."""
    listing = Rows(title, ["kind", "name", "what it does", "on failure"], fold=("what it does",))
    for rule in plan.rules:
        listing.rows.append(["rule", rule.name, f"{len(rule.sql)} statement(s), then its check; "
                             f"runs {rule.runs}", "no swap"])
    for check in plan.builtins:
        listing.rows.append(["built-in", check.name, check.does,
                             "no swap" if check.fails_the_run else "listed in the report"])
    return listing


def pii_findings_rows(title: str, report: dict[str, Any]) -> Rows:
    """masking scan: one row per finding (never a value)."""
    listing = Rows(title, ["column", "found", "sampled values", "rule"], optional=("sampled values",))
    for finding in report.get("columns") or []:
        rule = "covered" if finding["covered"] else "[red]none[/red]"
        count = "-" if finding["detector"].startswith("column name") else str(finding["count"])
        listing.rows.append([finding["column"], finding["detector"], count, rule])
    return listing
