"""`demo`: the whole life cycle on a private sandbox, no AWS account needed."""

from __future__ import annotations

import os

import click

from ..bundled import example_config_dir
from ..face.app import Options, UsageFailure, global_options, make_app


@click.command()
@click.option("--keep", is_flag=True, help="Leave the sandbox running at the end (to look around).")
@click.option("--engine", type=click.Choice(["aurora-postgresql", "aurora-mysql"]),
              help="Which shipped example to run: dev (aurora-postgresql, the default) or "
                   "dev-mysql (aurora-mysql). With --env, that config's engine.")
@click.option("--postgres", metavar="auto|off|DSN",
              help="Where the database steps run: a private server if one is installed (auto, "
                   "the default), none (off), or your server [env: AURORA_RESTORE_SANDBOX_POSTGRES].")
@click.option("--mysql", metavar="auto|off|DSN",
              help="The same for aurora-mysql envs: a private MariaDB (auto), none (off), or your "
                   "server mysql://USER:PASSWORD@HOST:PORT/?ssl_ca=CA.pem "
                   "[env: AURORA_RESTORE_SANDBOX_MYSQL].")
@global_options
@click.pass_context
def demo(ctx: click.Context, keep: bool, engine: str | None, postgres: str | None,
         mysql: str | None) -> None:
    """The whole life cycle on a fresh sandbox, no AWS account needed (about half a minute).

    Starts a private sandbox, seeds it (a production cluster with a snapshot in another
    region, the target cluster, a KMS key), runs setup, runs a refresh with live progress,
    shows the audit trail and the notification that was sent, runs a restore drill (RTO by
    phase), runs cleanup, and stops the sandbox. Uses the shipped example config (env dev) unless --config-dir is given.

    With PostgreSQL installed (initdb/postgres on PATH or in /usr/lib/postgresql/*/bin) the
    sandbox starts a private server for the run: the production cluster holds fake personal
    data, and the refresh really resets the users, masks the rows and verifies the tables;
    the demo shows rows before and after. Without it those steps are skipped.
    `--engine aurora-mysql` does the same for an Aurora MySQL env on a private MariaDB
    (Debian's mariadb-server; docs/mysql.md).

    The first run also downloads the pinned database driver wheels for the Lambda packages
    from the package index (once; see the README to pre-seed that cache offline).
    """
    from ..face.demo import run_demo

    options = ctx.find_object(Options) or Options()
    default_env = "dev-mysql" if engine == "aurora-mysql" else "dev"
    options.env = options.env or os.environ.get("AURORA_RESTORE_ENV") or default_env
    if options.endpoint_url:
        raise UsageFailure("demo always runs on its own sandbox; drop --endpoint-url")
    options.local = True
    # the shipped example env unless the user points at their own config
    options.config_dir = options.config_dir or example_config_dir()
    app = make_app(ctx)
    if engine is not None and app.settings.target.engine != engine:
        raise UsageFailure(f"env {app.env} is an {app.settings.target.engine} config, not "
                           f"{engine}: drop --engine or pick another --env")
    run_demo(app, keep, postgres, mysql)

