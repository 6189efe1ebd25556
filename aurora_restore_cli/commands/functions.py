"""test-functions: every deployed function's health check, answered from inside its runtime."""

from __future__ import annotations

import click

from ..face.app import CommandFailure, global_options, make_app
from ..face.output import health_table


@click.command("test-functions")
@global_options
@click.pass_context
def test_functions(ctx: click.Context) -> None:
    """Invoke every deployed function with a health check; each answers from inside its own
    runtime: is its code what setup packages now, is its environment complete, may its role
    make its step's first read call, and (database steps) does the target answer `SELECT 1`
    over verified TLS. One row per function; exit 1 if any fails. Changes nothing."""
    from ..operations.health import check_functions

    app = make_app(ctx)
    context = app.context()
    with app.out.spinner("invoking every function's health check"):
        rows = check_functions(context)
    ok = all(row.ok for row in rows)
    app.out.document({"command": "test-functions", "env": app.env, "ok": ok,
                      "functions": [row.to_json() for row in rows]})
    title = f"Functions — {context.settings.environment} ({context.names.account_id}, " \
            f"{context.settings.region})"
    app.out.rows(health_table(title, rows))
    if not ok:
        failed = [f"{row.function}: {'; '.join(row.problems)}" for row in rows if not row.ok]
        raise CommandFailure(f"{len(failed)} of {len(rows)} functions failed their health "
                             "check: " + " | ".join(failed))
    app.out.info(f"all {len(rows)} functions healthy")
