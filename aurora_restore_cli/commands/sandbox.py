"""`sandbox start|stop|status|seed`: the embedded moto server behind --local."""

from __future__ import annotations

import click

from ..app import global_options, make_app


@click.group()
def sandbox() -> None:
    """The embedded sandbox: a local moto server standing in for one AWS account."""


@sandbox.command("start")
@global_options
@click.pass_context
def sandbox_start(ctx: click.Context) -> None:
    """Start the sandbox (no-op when it is running)."""
    from .. import sandbox as box_module

    app = make_app(ctx)
    box, started = box_module.start()
    app.out.document({"url": box.url, "pid": box.pid, "started": started})
    app.out.print(
        f"sandbox {'started' if started else 'already running'} on {box.url} (pid {box.pid})"
    )


@sandbox.command("stop")
@global_options
@click.pass_context
def sandbox_stop(ctx: click.Context) -> None:
    """Stop the sandbox; everything in it is forgotten."""
    from .. import sandbox as box_module

    app = make_app(ctx)
    stopped = box_module.stop()
    app.out.document({"stopped": stopped})
    app.out.print("sandbox stopped" if stopped else "no sandbox running")


@sandbox.command("status")
@global_options
@click.pass_context
def sandbox_status(ctx: click.Context) -> None:
    """Is the sandbox running, and where."""
    from .. import sandbox as box_module

    app = make_app(ctx)
    box = box_module.find()
    app.out.document(
        {
            "running": box is not None,
            "url": box.url if box else None,
            "pid": box.pid if box else None,
        }
    )
    app.out.print(f"sandbox running on {box.url} (pid {box.pid})" if box else "no sandbox running")


@sandbox.command("seed")
@global_options
@click.pass_context
def sandbox_seed(ctx: click.Context) -> None:
    """Create what a real account already has: source cluster + snapshot, target, KMS key."""
    from ..sandbox_seed import seed

    app = make_app(ctx)
    app.options.local = True
    context = app.context()
    changes = seed(context)
    app.out.changes(
        f"Sandbox seed — {app.settings.environment}",
        changes,
        {"command": "sandbox seed", "env": app.settings.environment, "ok": True},
    )

