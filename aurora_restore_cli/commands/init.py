"""`init`: write a commented starter config (and the example SQL) for a new env."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from ..face.app import DEFAULT_CONFIG_DIR, UsageFailure, global_options, make_app


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write ENV.yaml and sql/ (default: --config-dir, else ./config).")
@click.option("--engine", type=click.Choice(["aurora-postgresql", "aurora-mysql"]),
              default="aurora-postgresql", show_default=True,
              help="The target cluster's engine (Aurora MySQL 3: aurora-mysql).")
@global_options
@click.pass_context
def init(ctx: click.Context, directory: Path | None, engine: str) -> None:
    """Write a commented starter config ENV.yaml (default env: dev) and its example SQL.

    The starter validates as written, so it runs on the sandbox at once:

    \b
      aurora-restore init --env qa [--engine aurora-mysql]
      aurora-restore --local sandbox seed --env qa
      aurora-restore --local setup --env qa
      aurora-restore --local run --wait --env qa

    Existing files are never overwritten.
    """
    from ..face.starter import StarterRefused, write_starter

    app = make_app(ctx)
    env = app.options.env or os.environ.get("AURORA_RESTORE_ENV") or "dev"
    target = directory or app.options.config_dir or DEFAULT_CONFIG_DIR
    try:
        written = write_starter(env, target, engine)
    except StarterRefused as exc:
        raise UsageFailure(str(exc)) from None
    dir_flag = "" if target == DEFAULT_CONFIG_DIR else f" --config-dir {shlex.quote(str(target))}"
    following = [
        f"aurora-restore validate --env {env}{dir_flag}",
        f"aurora-restore --local sandbox seed --env {env}{dir_flag}",
        f"aurora-restore --local setup --env {env}{dir_flag}",
        f"aurora-restore --local run --wait --env {env}{dir_flag}",
    ]
    app.out.document({
        "command": "init",
        "env": env,
        "engine": engine,
        "files": [{"path": str(w.path), "action": w.action} for w in written],
        "next": following,
    })
    for w in written:
        app.out.print(f"[green]{w.action}[/green] {w.path}")
    app.out.print("It validates as written; edit it for your account, then:")
    for line in following:
        app.out.print(f"  {line}")
