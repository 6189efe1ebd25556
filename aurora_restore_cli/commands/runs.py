"""Pipeline runs: run (start and follow a refresh), executions, history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..face.app import App, CommandFailure, UsageFailure, global_options, make_app
from ..face.output import LiveRun, audit_table, executions_table


@click.command()
@click.option("--snapshot", metavar="ID", help="Restore this snapshot (id or ARN), not the newest.")
@click.option(
    "--to-time",
    metavar="TIME",
    help="Restore the source cluster to this point in time (ISO 8601, e.g. "
    "2026-01-31T13:45:00Z; no offset: UTC), or 'latest'. Needs source.restore_from "
    "point_in_time or auto with the source in this region and account; checked against its "
    "restorable window before anything starts.",
)
@click.option(
    "--wait", is_flag=True, help="Follow the run live until it ends (exit 1 if it fails)."
)
@click.option(
    "--follow-timeout",
    type=int,
    metavar="SECONDS",
    help="Stop following after this long (default: the pipeline's own timeout).",
)
@click.option(
    "--skip-preflight",
    is_flag=True,
    help="Start without running `aurora-restore preflight` first (not recommended).",
)
@global_options
@click.pass_context
def run(
    ctx: click.Context,
    snapshot: str | None,
    to_time: str | None,
    wait: bool,
    follow_timeout: int | None,
    skip_preflight: bool,
) -> None:
    """Start a refresh of the target cluster (an execution named by a new operation id).

    It restores a snapshot, a clone of the source cluster or a point in time of it
    (source.restore_from; docs/fast-paths.md) and says which and why. Runs `preflight` first
    and starts nothing if a check fails (exit 1) — a --to-time outside the source's
    restorable window among them."""
    from ..operations import runs
    from .preflight import checked_time, preflight_first

    app = make_app(ctx)
    to_time = checked_time(app, snapshot, to_time)
    context = app.context()
    if snapshot and "snapshot" not in context.settings.restore_paths:
        raise UsageFailure(
            f"--snapshot: source.restore_from is {app.settings.source.restore_from}, which "
            f"allows {', '.join(context.settings.restore_paths)} only"
        )
    with pipeline_required(app, context):  # not set up at all: say so, not a preflight table
        context.clients.get("stepfunctions").describe_state_machine(
            stateMachineArn=context.names.state_machine_arn
        )
    if not skip_preflight:
        preflight_first(app, snapshot, command="run", to_time=to_time)
    # Named before it starts: a Ctrl-C while StartExecution is on its way still names it.
    started: dict[str, Any] = {"operation_id": runs.new_operation_id(context.env)}
    try:
        with pipeline_required(app, context):
            started = runs.start(context, snapshot, started["operation_id"], to_time=to_time)
        view = _announce_and_follow(app, context, started, wait, follow_timeout)
    except KeyboardInterrupt:  # the run goes on: its id must not be lost (-o json too)
        message = (f"stopped following; the run is still running (aurora-restore logs "
                   f"{started['operation_id']} --follow, or history)")
        app.out.document({"command": "run", **started, "status": "RUNNING",
                          "following": "stopped", "message": message})
        app.out.info(message)
        raise click.exceptions.Exit(130) from None
    if view is None:
        return
    _finish_run(app, started, view, snapshot)


def _announce_and_follow(
    app: App, context: Any, started: dict[str, Any], wait: bool, follow_timeout: int | None
) -> Any:
    """Say what started; with --wait follow it live and return its view (else None)."""
    from ..operations import runs

    if context.sandbox:
        from ..sandbox.control import find

        box = find()
        if box is not None:
            app.out.info(box.database_line)
    if context.sandbox:
        started.pop("console_url")
    app.out.info(f"operation [bold]{started['operation_id']}[/bold] started")
    app.out.info(f"execution {started['execution_arn']}")
    if "console_url" in started:
        app.out.info(f"console   {started['console_url']}")
    if not wait:
        app.out.document({"command": "run", **started})
        app.out.print(started["operation_id"])
        return None
    interval = 0.5 if context.sandbox else 5.0
    limit = follow_timeout or context.settings.pipeline.timeout_seconds
    with LiveRun(app.out) as live:
        return runs.follow(context, started["execution_arn"], live.update, interval, limit)


def _finish_run(app: App, started: dict[str, Any], view: Any, snapshot: str | None) -> None:
    from ..operations import runs

    duration = (
        (view.stopped - view.started).total_seconds() if view.stopped and view.started else None
    )
    timings = {
        label: round(step.elapsed(view.stopped or view.started), 1)
        for label, step in view.by_label().items()
    }
    doc: dict[str, Any] = {
        "command": "run",
        **started,
        "status": view.status,
        "duration_seconds": duration,
        "steps": timings,
        "skipped_steps": [label for label, step in view.by_label().items()
                          if step.status == "skipped"],
    }
    if view.status == "SUCCEEDED":
        output = view.output or {}
        doc["snapshot"] = (output.get("snapshot") or {}).get("id")
        chosen = output.get("restore_from") or {}
        doc["restored_from"] = {
            k: chosen.get(k) for k in ("path", "reason", "source", "to_time", "rpo_seconds")
            if chosen.get(k) is not None
        } or {"path": "snapshot"}
        doc["result"] = output.get("result")
        app.out.document(doc)
        endpoint = (doc["result"] or {}).get("endpoint") or "-"
        app.out.print(
            f"[green]refresh succeeded[/green] in {duration or 0:.1f}s: {_origin(app, chosen, doc)}"
            f" → {app.settings.target.cluster_id} ({endpoint})"
        )
        if chosen.get("reason"):
            app.out.info(f"restored from {chosen.get('path')}: {chosen['reason']}")
        return
    if not view.done:
        app.out.document(doc)
        raise CommandFailure(
            f"stopped following after the time limit; the run is still {view.status}"
        )
    doc["failure"] = runs.failure_details(view)
    app.out.document(doc)
    failure = doc["failure"]
    hint = _snapshot_hint(app, failure["error"], snapshot)
    raise CommandFailure(
        f"refresh {view.status.lower()} at {failure['step'] or 'unknown step'}: "
        f"{failure['error']}: {failure['message']}{hint}"
    )


def _origin(app: App, chosen: dict[str, Any], doc: dict[str, Any]) -> str:
    source = app.settings.source.cluster_id
    if chosen.get("path") == "clone":
        return f"a clone of {source}"
    if chosen.get("path") == "point_in_time":
        return f"{source} at {chosen.get('to_time') or 'latest'}"
    return f"snapshot {doc['snapshot']}"


def _snapshot_hint(app: App, error: str | None, snapshot: str | None) -> str:
    """What to do about a snapshot the run did not find: the id given, or the sandbox's seed."""
    if error not in ("SnapshotNotFound", "SnapshotTooOld"):
        return ""
    if snapshot:
        return (f" (is the snapshot id {snapshot!r} right? `aurora-restore preflight --snapshot "
                f"{snapshot}` checks it; without --snapshot the newest one is used)")
    if app.context().sandbox:
        return f" (the sandbox starts empty: aurora-restore --local sandbox seed --env {app.env})"
    return ""


@contextmanager
def pipeline_required(app: App, context: Any) -> Iterator[None]:
    """Turn "the state machine / audit table does not exist" into what to do about it."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "StateMachineDoesNotExist":
            missing = f"state machine {context.names.state_machine}"
        elif code == "ResourceNotFoundException" and exc.operation_name in ("Query", "Scan"):
            missing = f"audit table {context.names.table}"
        else:
            raise
        local = "--local " if context.sandbox else ""
        where = "the sandbox" if context.sandbox else (
            f"account {context.names.account_id}, {context.settings.region}"
        )
        raise CommandFailure(
            f"env {app.env} is not set up in {where}: the {missing} does not exist; "
            f"run `aurora-restore {local}setup --env {app.env}` first"
        ) from None


@click.command()
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@global_options
@click.pass_context
def executions(ctx: click.Context, limit: int) -> None:
    """Recent refreshes of this env: operation id, status, start, duration, snapshot."""
    from ..operations import runs

    app = make_app(ctx)
    context = app.context()
    with pipeline_required(app, context):
        rows = runs.recent(context, limit)
    app.out.document({"command": "executions", "env": app.settings.environment, "executions": rows})
    app.out.rows(executions_table(f"Executions — {app.settings.environment}", rows))


@click.command()
@click.argument("operation_id")
@global_options
@click.pass_context
def history(ctx: click.Context, operation_id: str) -> None:
    """One run's audit trail from the audit table, step by step, in time order."""
    from ..operations import runs

    app = make_app(ctx)
    context = app.context()
    with pipeline_required(app, context):
        items = runs.audit_trail(context, operation_id)
    if not items:
        raise CommandFailure(f"no audit items for operation {operation_id!r} in env {app.env}")
    app.out.document({"command": "history", "operation_id": operation_id, "events": items})
    app.out.rows(audit_table(f"Audit trail — {operation_id}", items))

