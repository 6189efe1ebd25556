"""`demo`: the whole life cycle on a private sandbox, no AWS account needed."""

from __future__ import annotations

import os

import click

from ..app import App, Options, UsageFailure, global_options


@click.command()
@click.option("--keep", is_flag=True, help="Leave the sandbox running at the end (to look around).")
@global_options
@click.pass_context
def demo(ctx: click.Context, keep: bool) -> None:
    """The whole life cycle on a fresh sandbox, no AWS account needed (about a minute).

    Starts a private sandbox, seeds it (a production cluster with a snapshot in another
    region, the target cluster, a KMS key), runs setup, runs a refresh with live progress,
    shows the audit trail and the notification that was sent, runs cleanup, and stops the
    sandbox.
    """
    from ..demo import run_demo

    options = ctx.find_object(Options) or Options()
    options.env = options.env or os.environ.get("AURORA_RESTORE_ENV") or "dev"
    if options.endpoint_url:
        raise UsageFailure("demo always runs on its own sandbox; drop --endpoint-url")
    options.local = True
    app = App(options)
    app.settings  # noqa: B018 - validate the config before starting anything
    run_demo(app, keep)

