"""Provisioning commands: setup, plan, deploy-lambdas, status, cleanup, validate."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..config.settings import Settings
from ..face.app import App, CommandFailure, UsageFailure, global_options, make_app
from ..resources import STEPS

F = TypeVar("F", bound=Callable[..., Any])


def steps_argument(func: F) -> F:
    return click.argument("steps", nargs=-1, type=click.Choice(STEPS), metavar="[STEP]...")(func)


def resolve_steps(steps: tuple[str, ...]) -> list[str]:
    from ..resources import available_steps

    available = available_steps()
    if not steps:
        return list(available)
    missing = [s for s in steps if s not in available]
    if missing:
        raise UsageFailure(f"step(s) not available in this build: {', '.join(missing)}")
    return [s for s in STEPS if s in steps]


def run_setup(app: App, steps: list[str], dry_run: bool, command: str) -> None:
    from ..config.database import require_ca_bundle
    from ..provisioning import engine

    if "lambdas" in steps and not app.options.local:
        # The database functions are packaged with the RDS CA bundle: against AWS it is
        # required (exit 2 before any AWS call); the sandbox skips the database steps.
        require_ca_bundle(app.settings)
    ctx = app.context()
    if "lambdas" in steps and "roles" not in steps and not dry_run:
        _require_roles(app, ctx)
    before = ctx.clients.counter.writes
    with app.out.spinner("reading current state") as _:
        report = engine.setup(ctx, steps, dry_run, app.out.debug)
    title = f"{'Plan' if dry_run else 'Setup'} — {ctx.settings.environment} ({ctx.names.account_id}, {ctx.settings.region})"
    report_changes(app, report, title, command, dry_run)
    app.out.debug(
        f"API calls: {ctx.clients.counter.reads} reads, {ctx.clients.counter.writes - before} writes"
    )


def _require_roles(app: App, ctx: Any) -> None:
    """The functions alone (deploy-lambdas, setup lambdas) need the Lambda role: before the
    first setup say so, as `run` does, instead of failing every function (and creating their
    log groups)."""
    iam = ctx.clients.get("iam")
    role = ctx.names.role("lambda")
    try:
        iam.get_role(RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        local = "--local " if ctx.sandbox else ""
        where = "the sandbox" if ctx.sandbox else (
            f"account {ctx.names.account_id}, {ctx.settings.region}")
        raise CommandFailure(
            f"env {app.env} is not set up in {where}: the role {role} does not exist; run "
            f"`aurora-restore {local}setup --env {app.env}` first"
        ) from None


def report_changes(app: App, report: Any, title: str, command: str, dry_run: bool = False) -> None:
    ctx = app.context()
    counter = ctx.clients.counter
    app.out.changes(
        title,
        report.changes,
        {
            "command": command,
            "env": ctx.settings.environment,
            "dry_run": dry_run,
            "ok": report.ok,
            "failures": report.failures,
            "api_calls": {"reads": counter.reads, "writes": counter.writes},
        },
    )
    if not report.ok:
        foreign = [c for c in report.changes if c.action.value == "foreign"]
        for change in foreign:
            app.out.error(f"{change.kind} {change.name} exists but is not ours ({change.detail})")
        raise CommandFailure(
            "; ".join(report.failures)
            or f"{len(foreign)} resource(s) not managed by aurora-restore"
        )


@click.command(help=(
    "Create or update every resource (or the named STEPs) to match the config.\n\n"
    f"Steps run in dependency order: {' '.join(STEPS)}. Re-running with nothing changed "
    "writes nothing."
))
@steps_argument
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@global_options
@click.pass_context
def setup(ctx: click.Context, steps: tuple[str, ...], dry_run: bool) -> None:
    app = make_app(ctx)
    run_setup(app, resolve_steps(steps), dry_run, "plan" if dry_run else "setup")


@click.command()
@global_options
@click.pass_context
def plan(ctx: click.Context) -> None:
    """What setup would create, update or leave alone (= setup --dry-run)."""
    app = make_app(ctx)
    run_setup(app, resolve_steps(()), True, "plan")


@click.command("deploy-lambdas")
@global_options
@click.pass_context
def deploy_lambdas(ctx: click.Context) -> None:
    """Update the Lambda functions after a code change (= setup lambdas)."""
    app = make_app(ctx)
    run_setup(app, resolve_steps(("lambdas",)), False, "deploy-lambdas")


@click.command()
@global_options
@click.pass_context
def status(ctx: click.Context) -> None:
    """Every resource: present / drifted / missing, with ARNs (-v)."""
    from ..provisioning import engine

    app = make_app(ctx)
    context = app.context()
    with app.out.spinner("reading current state"):
        report = engine.status(context, resolve_steps(()), app.out.debug)
    report_changes(
        app,
        report,
        f"Status — {context.settings.environment} ({context.names.account_id}, {context.settings.region})",
        "status",
    )


@click.command()
@steps_argument
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option(
    "--force-delete-secrets",
    is_flag=True,
    help="Delete secrets at once instead of scheduling deletion (recovery window).",
)
@global_options
@click.pass_context
def cleanup(
    ctx: click.Context, steps: tuple[str, ...], yes: bool, dry_run: bool, force_delete_secrets: bool
) -> None:
    """Delete what setup created, in reverse order.

    Only resources tagged aurora-restore:managed-by=aurora-restore and aurora-restore:env=ENV
    are deleted; a same-named resource without those tags is reported and left alone.
    """
    from ..provisioning import engine

    app = make_app(ctx)
    selected = resolve_steps(steps)
    settings = app.settings
    if not dry_run and not yes:
        _confirm_cleanup(app, settings, selected)
    context = app.context(force_delete_secrets=force_delete_secrets)
    with app.out.spinner("deleting"):
        report = engine.cleanup(context, list(reversed(selected)), dry_run, app.out.debug)
    report_changes(
        app,
        report,
        f"Cleanup — {settings.environment} ({context.names.account_id}, {settings.region})",
        "cleanup",
        dry_run,
    )


def _confirm_cleanup(app: App, settings: Settings, steps: list[str]) -> None:
    if not sys.stdin.isatty():
        raise UsageFailure(
            "cleanup deletes resources: pass --yes to confirm (no terminal to ask on)"
        )
    env = settings.environment
    click.echo(
        f"This deletes the aurora-restore resources of env {env!r} ({', '.join(steps)}).", err=True
    )
    if env in ("prod", "production"):
        typed = click.prompt(f"Type the environment name ({env}) to confirm", err=True, default="")
        if typed != env:
            raise UsageFailure("not confirmed; nothing deleted")
    elif not click.confirm("Continue?", err=True, default=False):
        raise UsageFailure("not confirmed; nothing deleted")


@click.command()
@global_options
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check the config (and what is rendered from it) without any AWS call; every problem
    is listed at once. Against AWS (no --local) it also requires what setup does there: the
    RDS CA bundle of the database steps."""
    from ..provisioning.validation import validate_all

    app = make_app(ctx)
    # What plan and setup require against AWS is required here too (not with --local).
    settings = app.loaded_settings()
    checks = validate_all(settings, against_aws=not app.options.local)
    app.out.document(
        {"command": "validate", "env": settings.environment, "ok": True, "checks": checks}
    )
    for check in checks:
        app.out.print(f"[green]ok[/green] {check}")

