"""Restore drills: drill (start one and follow it), drills (recent ones with their RTO)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..config.settings import MAX_DRILL_KEEP_MINUTES
from ..face.app import App, CommandFailure, UsageFailure, global_options, make_app
from ..face.output import LiveRun, drills_table, rto_table


@click.command()
@click.option("--snapshot", metavar="ID", help="Restore this snapshot (id or ARN), not the newest.")
@click.option(
    "--from",
    "restore_from",
    type=click.Choice(["snapshot", "clone", "point_in_time"]),
    help="How the drill gets production's data (default: snapshot; within the paths "
    "source.restore_from allows). point_in_time restores the latest restorable time and "
    "measures production's RPO next to the RTO.",
)
@click.option(
    "--keep-minutes",
    type=click.IntRange(0, MAX_DRILL_KEEP_MINUTES),
    metavar="N",
    help="Keep the drill cluster N minutes for inspection before deleting it "
    f"(0-{MAX_DRILL_KEEP_MINUTES}; default: drill.keep_minutes of the config).",
)
@click.option(
    "--wait", is_flag=True, help="Follow the drill live until it ends (exit 1 if it fails)."
)
@click.option(
    "--follow-timeout",
    type=int,
    metavar="SECONDS",
    help="Stop following after this long (default: the drill's own timeout).",
)
@click.option(
    "--skip-preflight",
    is_flag=True,
    help="Start without running the preflight checks first (not recommended).",
)
@global_options
@click.pass_context
def drill(
    ctx: click.Context,
    snapshot: str | None,
    restore_from: str | None,
    keep_minutes: int | None,
    wait: bool,
    follow_timeout: int | None,
    skip_preflight: bool,
) -> None:
    """Restore drill: restore a production snapshot (or clone the source cluster, or restore
    it to its latest point in time: --from) into a temporary cluster (never the target),
    verify it, measure the time per phase (RTO) — and for a point in time production's RPO —
    and delete it again.

    Runs the preflight checks a drill needs first (those of `preflight` but the target's) and
    starts nothing if one fails (exit 1)."""
    from ..contract.pipeline_settings import drill_timeout_seconds
    from ..operations import drills, runs
    from .preflight import preflight_first

    app = make_app(ctx)
    context = app.context()
    paths = context.settings.restore_paths  # as they apply (the sandbox: one account)
    if restore_from and restore_from not in paths:
        raise UsageFailure(
            f"--from {restore_from}: source.restore_from is {app.settings.source.restore_from}, "
            f"which allows {', '.join(paths)} only"
        )
    if snapshot and restore_from not in (None, "snapshot"):
        raise UsageFailure(f"--snapshot and --from {restore_from} exclude each other")
    with drill_required(app, context):  # not set up at all: say so, not a preflight table
        context.clients.get("stepfunctions").describe_state_machine(
            stateMachineArn=context.names.drill_state_machine_arn
        )
    if not skip_preflight:
        preflight_first(app, snapshot, command="drill", restore_from=restore_from)
    with drill_required(app, context):
        started = drills.start(context, snapshot, keep_minutes, restore_from=restore_from)
    if context.sandbox:
        started.pop("console_url")
    app.out.info(f"drill [bold]{started['operation_id']}[/bold] started")
    app.out.info(f"execution {started['execution_arn']}")
    if "console_url" in started:
        app.out.info(f"console   {started['console_url']}")
    if not wait:
        app.out.document({"command": "drill", **started})
        app.out.print(started["operation_id"])
        return
    interval = 0.5 if context.sandbox else 5.0
    limit = follow_timeout or drill_timeout_seconds(context.settings)
    try:
        with LiveRun(app.out) as live:
            view = runs.follow(context, started["execution_arn"], live.update, interval, limit)
    except KeyboardInterrupt:
        app.out.info(
            "stopped following; the drill goes on "
            f"(aurora-restore history {started['operation_id']})"
        )
        raise click.exceptions.Exit(130) from None
    _finish(app, context, started, view)


def _finish(app: App, context: Any, started: dict[str, Any], view: Any) -> None:
    from ..operations import drills, runs

    doc: dict[str, Any] = {"command": "drill", **started, "status": view.status}
    if not view.done:
        app.out.document(doc)
        raise CommandFailure(
            f"stopped following after the time limit; the drill is still {view.status}"
        )
    summary = drills.result(context, started["operation_id"]) or {}
    doc["drill"] = summary
    if view.status == "SUCCEEDED":
        app.out.document(doc)
        app.out.rows(rto_table("Restore time (RTO) by phase", summary))
        rto, rpo = summary.get("rto_seconds"), summary.get("rpo_seconds")
        path = summary.get("restored_from") or "snapshot"
        what = (f"snapshot {summary.get('snapshot_id')}" if path == "snapshot"
                else f"a {path.replace('_', '-')} restore of {app.settings.source.cluster_id}")
        app.out.print(
            f"[green]drill succeeded[/green]: {what} restored into "
            f"{summary.get('drill_cluster_id')}, verified in "
            f"{'-' if rto is None else f'{rto:.1f}s'}, and deleted again"
            + ("" if rpo is None else f"; production's RPO {rpo:.1f}s")
        )
        skipped = (summary.get("verification") or {}).get("skipped")
        if skipped:
            app.out.warn(f"the database checks did not run: {skipped}")
        return
    doc["failure"] = runs.failure_details(view)
    app.out.document(doc)
    failure = doc["failure"]
    left = (summary.get("cleanup") or {}).get("done")
    note = "" if left else f"; check that {summary.get('drill_cluster_id')} is gone"
    raise CommandFailure(
        f"drill {view.status.lower()} at {failure['step'] or 'unknown step'}: "
        f"{failure['error']}: {failure['message']}{note}"
    )


@click.command()
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@global_options
@click.pass_context
def drills(ctx: click.Context, limit: int) -> None:
    """Recent restore drills of this env: the path, the RTO per phase and in total, and the
    RPO of point-in-time drills."""
    from ..operations import drills as drill_runs

    app = make_app(ctx)
    context = app.context()
    with drill_required(app, context):
        rows = drill_runs.recent(context, limit)
    app.out.document({"command": "drills", "env": app.settings.environment, "drills": rows})
    app.out.rows(drills_table(f"Restore drills — {app.settings.environment}", rows))


@contextmanager
def drill_required(app: App, context: Any) -> Iterator[None]:
    """Turn "the drill state machine does not exist" into what to do about it."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "") != "StateMachineDoesNotExist":
            raise
        local = "--local " if context.sandbox else ""
        raise CommandFailure(
            f"env {app.env} has no restore drill state machine "
            f"({context.names.drill_state_machine}); run `aurora-restore {local}setup "
            f"--env {app.env}` (or `setup drill`) first"
        ) from None
