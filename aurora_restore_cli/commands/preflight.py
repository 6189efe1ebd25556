"""`aurora-restore preflight`: will a refresh work? Read-only; exit 0 when nothing failed."""

from __future__ import annotations

from typing import Any

import click

from ..face.app import App, CommandFailure, global_options, make_app


@click.command()
@click.option("--snapshot", metavar="ID", help="Check this snapshot (id or ARN), not the newest.")
@global_options
@click.pass_context
def preflight(ctx: click.Context, snapshot: str | None) -> None:
    """Check, without changing anything, that a refresh would work: account, setup, the
    snapshot it would use, what the Lambda role may do (IAM policy simulator), the target,
    the network, the CA bundle. One row per check with its fix; exit 1 if any fails."""
    run_preflight(make_app(ctx), snapshot, command="preflight")


def run_preflight(app: App, snapshot: str | None, command: str) -> list[Any]:
    """Run every check, render them, raise CommandFailure (exit 1) if any failed."""
    from ..face.output import checks_table
    from ..operations.preflight import preflight
    from ..operations.preflight_checks import FAIL, passed

    context = app.context()
    with app.out.spinner("preflight"):
        checks = preflight(context, snapshot, app.out.debug, drill=command == "drill")
    ok = passed(checks)
    settings = context.settings
    if command == "preflight" or not ok:
        app.out.document(
            {
                "command": command,
                "env": settings.environment,
                "ok": ok,
                "checks": [c.to_json() for c in checks],
            }
        )
    title = f"Preflight — {settings.environment} ({context.names.account_id}, {settings.region})"
    if command == "preflight" or not ok:
        app.out.rows(checks_table(title, checks))
    if not ok:  # the failing rows again, whole: a wide table may have folded or hidden them
        failed = [_failure(c) for c in checks if c.status == FAIL]
        raise CommandFailure(f"preflight failed: {'; '.join(failed)}")
    return checks


def _failure(check: Any) -> str:
    found = f"{check.area}: {check.name}: {check.detail}"
    return f"{found} (fix: {check.fix})" if check.fix else found


def preflight_first(app: App, snapshot: str | None, command: str) -> None:
    """Before `run` or `drill` starts anything: every check, one summary line if all passed
    (the table only when one failed: exit 1, nothing started)."""
    checks = run_preflight(app, snapshot, command)
    unknown = sum(1 for c in checks if c.status != "pass")
    app.out.info(
        f"preflight: {len(checks) - unknown} checks passed"
        + (f", {unknown} not checkable here" if unknown else "")
    )
