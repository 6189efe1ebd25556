"""quarantine plan: production's side effects and how the quarantine makes them harmless."""

from __future__ import annotations

import click

from ..face.app import global_options, make_app


@click.group("quarantine")
def quarantine_group() -> None:
    """The quarantine before the swap (config: quarantine) and its built-in checks."""


@quarantine_group.command("plan")
@global_options
@click.pass_context
def plan(ctx: click.Context) -> None:
    """The declared rules, their checks and the built-in checks, as they will run before the
    swap. No AWS call."""
    from ..face.output import quarantine_plan_rows
    from ..operations import quarantine

    app = make_app(ctx)
    settings = app.settings
    found = quarantine.plan(settings)
    app.out.document({"command": "quarantine plan", "env": settings.environment,
                      **found.to_json()})
    if not found.rules:
        app.out.print("no declared rules (quarantine.rules): the built-in checks still run")
    app.out.rows(quarantine_plan_rows(f"quarantine of {settings.environment} ({found.engine}), "
                                      "before the swap", found))
    for rule in found.rules:
        statements = ";\n".join(rule.sql)
        app.out.print(f"\n-- rule {rule.name}: runs {rule.runs}\n{statements};\n"
                      f"-- check (no row, or one row holding true):\n{rule.check};")
    app.out.print(f"\nforeign servers may name: {'; '.join(found.allowed_hosts)}")
    app.out.print(f"all of it within quarantine.max_minutes: {found.max_minutes}; any failure "
                  "stops the run before the swap, the target untouched")
