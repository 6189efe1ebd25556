"""render: what setup would send — IAM documents, definitions, settings, function
configuration — from the config alone, without any AWS call."""

from __future__ import annotations

import click

from ..face.app import global_options, make_app
from ..face.output import rendered_lines

SECTIONS = ("iam", "definitions", "settings", "functions")  # provisioning.render.SECTIONS


@click.command()
@click.argument("sections", nargs=-1, type=click.Choice(SECTIONS), metavar="[SECTION]...")
@global_options
@click.pass_context
def render(ctx: click.Context, sections: tuple[str, ...]) -> None:
    """Print what setup would send: the IAM roles' trust and inline policies and the managed
    policies, the rendered state machine definitions, the settings document, and each Lambda
    function's configuration. No AWS call (like validate). SECTION: iam, definitions,
    settings, functions (default: all). --output json prints one document."""
    from ..provisioning.render import render as render_documents

    app = make_app(ctx)
    rendered = render_documents(app.settings)
    chosen = {k: v for k, v in rendered.items() if not sections or k in sections}
    app.out.document({"command": "render", "env": app.settings.environment, **chosen})
    for line in rendered_lines(chosen):
        app.out.print(line)
