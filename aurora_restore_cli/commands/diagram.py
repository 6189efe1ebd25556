"""`diagram`: the state machine as a Mermaid flowchart (no AWS call)."""

from __future__ import annotations

from pathlib import Path

import click

from ..face.app import global_options, make_app


@click.command()
@click.option("--write", "readme", type=click.Path(dir_okay=False, path_type=Path),
              help="Update the diagram block in this Markdown file (e.g. README.md).")
@global_options
@click.pass_context
def diagram(ctx: click.Context, readme: Path | None) -> None:
    """The state machine as a Mermaid flowchart, generated from definitions/ (no AWS call)."""
    from ..face import diagram as diagram_module

    app = make_app(ctx)
    if readme is None:
        app.out.document({"command": "diagram", "mermaid": diagram_module.mermaid()})
        if not app.out.json:
            click.echo(diagram_module.mermaid(), nl=False)
        return
    changed = diagram_module.embed(readme)
    app.out.info(f"{readme}: {'updated' if changed else 'already up to date'}")

