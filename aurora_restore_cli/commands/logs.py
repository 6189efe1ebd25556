"""logs: one run's log lines across its functions and its state machine, labelled by step."""

from __future__ import annotations

import click

from ..face.app import CommandFailure, UsageFailure, global_options, make_app
from ..face.output import LogPrinter


@click.command()
@click.argument("operation_id", required=False)
@click.option("--step", metavar="NAME",
              help="Only this step's lines (e.g. find-snapshot, check-restore, recover).")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new lines until the run ends (Ctrl-C stops following).")
@global_options
@click.pass_context
def logs(ctx: click.Context, operation_id: str | None, step: str | None, follow: bool) -> None:
    """One run's log lines from every function it ran (and its state machine), in time
    order, each labelled with its step. Without OPERATION_ID: the latest run (or drill).

    Lines are found by the operation id each line carries (CloudWatch Logs FilterLogEvents),
    so no other run's lines are shown."""
    from ..operations import logs as run_logs
    from .runs import pipeline_required

    app = make_app(ctx)
    context = app.context()
    with pipeline_required(app, context):
        try:
            run = run_logs.find_run(context, operation_id)
        except run_logs.RunNotFound as exc:
            raise CommandFailure(str(exc)) from None
    if step is not None:
        try:
            run_logs.step_known(context, run, step)
        except ValueError as exc:
            raise UsageFailure(str(exc)) from None
    if operation_id is None:
        app.out.info(f"latest run: [bold]{run.operation_id}[/bold] ({run.kind}, {run.status})")
    printer = LogPrinter(app.out)
    doc = {"command": "logs", "env": app.env, "run": run.to_json(), "step": step}
    if not follow:
        groups = run_logs.step_groups(context, run, step)
        with app.out.spinner(f"reading {len(groups)} log groups"):
            lines = run_logs.fetch(context, run, groups.values())
        printer.add(lines)
        app.out.document({**doc, "log_groups": sorted(groups.values()),
                          "lines": [line.to_json() for line in printer.lines]})
        if not groups:
            app.out.info(f"step {step} has not run in {run.operation_id}")
        elif not lines:
            app.out.info(f"no log lines of {run.operation_id} yet (CloudWatch Logs shows them "
                         "seconds after they are written)")
        return
    interval = 1.0 if context.sandbox else 5.0
    limit = float(context.settings.pipeline.timeout_seconds) + 600
    try:
        run = run_logs.follow(context, run, step, printer.add, interval, limit)
    except KeyboardInterrupt:
        app.out.document({**doc, "lines": [line.to_json() for line in printer.lines],
                          "following": "stopped"})
        app.out.info("stopped following")
        raise click.exceptions.Exit(130) from None
    app.out.document({**doc, "run": run.to_json(),
                      "lines": [line.to_json() for line in printer.lines]})
    app.out.info(f"run {run.operation_id} {run.status}")
