"""`sandbox start|stop|status|seed`: the embedded moto server behind --local."""

from __future__ import annotations

import os
from typing import Any

import click

from ..face.app import global_options, make_app


@click.group()
def sandbox() -> None:
    """The embedded sandbox: a local moto server standing in for one AWS account."""


def _database(box: Any) -> dict[str, Any]:
    """What JSON says about the sandbox's database (never its password)."""
    postgres = box.postgres
    if postgres is None:
        return {"running": False, "note": box.postgres_note}
    return {"running": True, "origin": postgres.origin, "host": postgres.host,
            "port": postgres.port, "version": postgres.version, "tls": postgres.tls}


@sandbox.command("start")
@click.option("--postgres", metavar="auto|off|DSN",
              help="Where the database steps run: a private server if one is installed (auto, "
                   "the default), none (off), or your server [env: AURORA_RESTORE_SANDBOX_POSTGRES].")
@global_options
@click.pass_context
def sandbox_start(ctx: click.Context, postgres: str | None) -> None:
    """Start the sandbox (no-op when it is running), with PostgreSQL when there is one."""
    from ..sandbox import control as box_module
    from ..sandbox.postgres import ENV

    app = make_app(ctx)
    if postgres is not None:
        os.environ[ENV] = postgres  # read by the server process it starts
    box, started = box_module.start()
    app.out.document({"url": box.url, "pid": box.pid, "started": started,
                      "database": _database(box)})
    app.out.print(
        f"sandbox {'started' if started else 'already running'} on {box.url} (pid {box.pid})"
    )
    app.out.print(box.database_line)


@sandbox.command("stop")
@global_options
@click.pass_context
def sandbox_stop(ctx: click.Context) -> None:
    """Stop the sandbox; everything in it is forgotten."""
    from ..sandbox import control as box_module

    app = make_app(ctx)
    outcome = box_module.stop()
    app.out.document({"stopped": outcome is not None, "outcome": outcome})
    if outcome == "killed":
        app.out.warn(f"the sandbox did not stop within {box_module.STOP_TIMEOUT:.0f}s and was "
                     f"killed; see {box_module.state_dir() / 'sandbox.log'}")
    app.out.print("sandbox stopped" if outcome else "no sandbox running")


@sandbox.command("status")
@global_options
@click.pass_context
def sandbox_status(ctx: click.Context) -> None:
    """Is the sandbox running, and where."""
    from ..sandbox import control as box_module

    app = make_app(ctx)
    box = box_module.find()
    app.out.document(
        {
            "running": box is not None,
            "url": box.url if box else None,
            "pid": box.pid if box else None,
            "database": _database(box) if box else None,
        }
    )
    app.out.print(f"sandbox running on {box.url} (pid {box.pid})" if box else "no sandbox running")
    if box is not None:
        app.out.print(box.database_line)


@sandbox.command("seed")
@global_options
@click.pass_context
def sandbox_seed(ctx: click.Context) -> None:
    """Create what a real account already has: source cluster + snapshot, target, KMS key
    (and, with PostgreSQL, the source cluster's database full of fake personal data)."""
    from ..sandbox import control as box_module
    from ..sandbox.seed import seed

    app = make_app(ctx)
    app.options.local = True
    context = app.context()
    changes = seed(context)
    app.out.changes(
        f"Sandbox seed — {app.settings.environment}",
        changes,
        {"command": "sandbox seed", "env": app.settings.environment, "ok": True},
    )
    box = box_module.find()
    if box is not None:
        app.out.info(box.database_line)

