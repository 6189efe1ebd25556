"""clone-share: what the production account's operator runs so that this env may clone the
source cluster across accounts (an AWS RAM share, the key policy), from the config alone."""

from __future__ import annotations

import click

from ..face.app import global_options, make_app


@click.command("clone-share")
@global_options
@click.pass_context
def clone_share(ctx: click.Context) -> None:
    """Print the commands that let this env clone the production cluster from another account
    (source.restore_from clone or auto, docs/fast-paths.md): in the production account, an AWS
    RAM resource share of the cluster with this account and a key-policy statement for its KMS
    key; in this account, accepting the share. No AWS call: hand them to the production
    account's operator, then run `preflight`."""
    from rich.text import Text

    from ..contract.time_limits import config_names
    from ..documents.clone_share import as_text, instructions

    app = make_app(ctx)
    found = instructions(app.settings, config_names(app.settings))
    app.out.document({"command": "clone-share", "env": app.settings.environment,
                      **found.to_json()})
    for line in as_text(found).splitlines():
        app.out.print(Text(line))
