"""`aurora-restore preflight`: will a refresh work? Read-only; exit 0 when nothing failed."""

from __future__ import annotations

from typing import Any

import click

from ..face.app import App, CommandFailure, UsageFailure, global_options, make_app


@click.command()
@click.option("--snapshot", metavar="ID", help="Check this snapshot (id or ARN), not the newest.")
@click.option(
    "--to-time",
    metavar="TIME",
    help="Check a point-in-time restore to TIME (ISO 8601, or 'latest'), as `run --to-time`.",
)
@global_options
@click.pass_context
def preflight(ctx: click.Context, snapshot: str | None, to_time: str | None) -> None:
    """Check, without changing anything, that a refresh would work: account, setup, the way
    it restores (snapshot, clone, point in time) and why, the snapshot or source cluster it
    would use, what the Lambda role may do (IAM policy simulator), the target, the network,
    the CA bundle. One row per check with its fix; exit 1 if any fails."""
    app = make_app(ctx)
    run_preflight(app, snapshot, command="preflight", to_time=checked_time(app, snapshot, to_time))


def checked_time(app: App, snapshot: str | None, to_time: str | None) -> str | None:
    """`--to-time` as the pipeline takes it, or exit 2: not a time, given with --snapshot,
    or a config that does not allow a point-in-time restore."""
    from ..operations.runs import normalise_time

    if to_time is None:
        return None
    if snapshot:
        raise UsageFailure("--to-time and --snapshot exclude each other: a point in time is "
                           "restored from the source cluster, not from a snapshot")
    try:
        normalised = normalise_time(to_time)
    except ValueError:
        raise UsageFailure(f"--to-time {to_time!r}: expected an ISO-8601 time such as "
                           "2026-01-31T13:45:00Z (no offset: UTC), or 'latest'") from None
    # The settings as they apply (in the sandbox, its one account holds source and target).
    paths = app.context().settings.restore_paths
    if "point_in_time" not in paths:
        raise UsageFailure(
            f"--to-time: source.restore_from is {app.settings.source.restore_from}, which "
            f"allows {', '.join(paths)} only (a point-in-time restore needs the source in "
            "this region and account, and restore_from point_in_time or auto)"
        )
    return normalised


def run_preflight(
    app: App,
    snapshot: str | None,
    command: str,
    to_time: str | None = None,
    restore_from: str | None = None,
) -> list[Any]:
    """Run every check, render them, raise CommandFailure (exit 1) if any failed."""
    from ..face.output import checks_table
    from ..operations.preflight import preflight
    from ..operations.preflight_checks import FAIL, passed

    context = app.context()
    with app.out.spinner("preflight"):
        checks = preflight(
            context,
            snapshot,
            app.out.debug,
            drill=command == "drill",
            to_time=to_time,
            restore_from=restore_from,
        )
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


def preflight_first(
    app: App,
    snapshot: str | None,
    command: str,
    to_time: str | None = None,
    restore_from: str | None = None,
) -> None:
    """Before `run` or `drill` starts anything: every check, one summary line if all passed
    (the table only when one failed: exit 1, nothing started), and the way it restores."""
    checks = run_preflight(app, snapshot, command, to_time, restore_from)
    unknown = sum(1 for c in checks if c.status != "pass")
    app.out.info(
        f"preflight: {len(checks) - unknown} checks passed"
        + (f", {unknown} not checkable here" if unknown else "")
    )
    path = next((c for c in checks if c.name == "restore path"), None)
    if path is not None:
        app.out.info(f"restores from: {path.detail}")
