"""`aurora-restore`: the root command group (DESIGN.md §3) and the console entry point.

Each command group lives in its own module under `commands/`; the shared context (options,
settings, clients, output, failures → exit codes) is `face/app.py`. Exit codes: 0 done, 1 AWS or
pipeline failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import click

from . import __version__
from .commands import (
    demo,
    diagram,
    drill,
    functions,
    init,
    logs,
    masking,
    preflight,
    provisioning,
    quarantine,
    recover,
    render,
    runs,
    sandbox,
    secrets,
    share,
)
from .face.app import Group, Options, global_options


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(__version__, prog_name="aurora-restore")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Refresh a lower-environment Aurora PostgreSQL cluster from a production snapshot.

    Provisions the pipeline of the manual guide (secrets, IAM roles, audit table, topic,
    Lambda functions, state machine, alarms) idempotently from config/ENV.yaml, and runs it.

    \b
    Start here, no AWS account needed:
      aurora-restore demo
    Against AWS:
      aurora-restore plan --env dev        # what would change
      aurora-restore setup --env dev       # make it so
      aurora-restore status --env dev
      aurora-restore cleanup --env dev     # only what this tool created
    """
    ctx.obj = ctx.ensure_object(Options)


for command in (
    provisioning.setup,
    provisioning.plan,
    provisioning.deploy_lambdas,
    provisioning.status,
    provisioning.cleanup,
    provisioning.validate,
    render.render,
    preflight.preflight,
    runs.run,
    runs.executions,
    runs.history,
    logs.logs,
    drill.drill,
    drill.drills,
    share.clone_share,
    recover.recover,
    functions.test_functions,
    diagram.diagram,
    init.init,
    masking.masking_group,
    quarantine.quarantine_group,
    secrets.secrets_group,
    sandbox.sandbox,
    demo.demo,
):
    cli.add_command(command)


def main() -> None:
    """Console entry point."""
    cli(prog_name="aurora-restore")
