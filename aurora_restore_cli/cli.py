"""`aurora-restore`: the command-line surface (DESIGN.md §3).

Global options work before or after the subcommand (`aurora-restore --env dev setup` and
`aurora-restore setup --env dev`). Exit codes: 0 done, 1 AWS/pipeline failure, 2 bad usage
or bad config. boto3 is only imported once a command talks to AWS.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .config import ConfigError, Settings, load_settings
from .output import LiveRun, Output, audit_table
from .resources import STEPS

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG_DIR = Path("config")


class UsageFailure(Exception):
    """Bad usage or config: exit 2."""


class CommandFailure(Exception):
    """Something failed in AWS or the pipeline: exit 1."""


@dataclass
class Options:
    env: str | None = None
    config_dir: Path | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    local: bool = False
    output: str | None = None
    verbose: int = 0


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> None:
        if value is None or value is False or value == 0:
            return  # not given here: keep what the other position set
        options = ctx.ensure_object(Options)
        if name == "verbose":
            options.verbose += value
        else:
            setattr(options, name, value)

    return callback


def global_options(func: F) -> F:
    """Attach the global options; used on the group and on every subcommand."""
    decorators = [
        click.option(
            "--env",
            "-e",
            metavar="ENV",
            expose_value=False,
            callback=_store("env"),
            help="Environment: reads config/ENV.yaml [env: AURORA_RESTORE_ENV].",
        ),
        click.option(
            "--config-dir",
            type=click.Path(file_okay=False, path_type=Path),
            metavar="DIR",
            expose_value=False,
            callback=_store("config_dir"),
            help="Directory holding ENV.yaml (default: ./config).",
        ),
        click.option(
            "--profile",
            metavar="P",
            expose_value=False,
            callback=_store("profile"),
            help="AWS profile [env: AWS_PROFILE].",
        ),
        click.option(
            "--region",
            metavar="R",
            expose_value=False,
            callback=_store("region"),
            help="AWS region; must agree with the config's region.",
        ),
        click.option(
            "--endpoint-url",
            metavar="URL",
            expose_value=False,
            callback=_store("endpoint_url"),
            help="Send every AWS call here [env: AWS_ENDPOINT_URL].",
        ),
        click.option(
            "--local",
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_store("local"),
            help="Use the embedded sandbox (started on demand); no AWS account needed.",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Choice(["text", "json"]),
            expose_value=False,
            callback=_store("output"),
            help="text (default) or one JSON document on stdout.",
        ),
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_store("verbose"),
            help="More detail on stderr (API call counts, ARNs). Never shows secrets.",
        ),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


class App:
    """What a command needs, built lazily from the options: settings, clients, output."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.out = Output(options.output or "text", options.verbose)
        self._settings: Settings | None = None
        self._context: Any = None

    @property
    def env(self) -> str:
        env = self.options.env or os.environ.get("AURORA_RESTORE_ENV")
        if not env:
            raise UsageFailure("no environment: pass --env ENV or set AURORA_RESTORE_ENV")
        return env

    @property
    def config_dir(self) -> Path:
        return self.options.config_dir or DEFAULT_CONFIG_DIR

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_dir, self.env)
            region = self.options.region
            if region and region != self._settings.region:
                raise UsageFailure(
                    f"--region {region} disagrees with region {self._settings.region} in {self._settings.file}"
                )
        return self._settings

    def context(self, **flags: Any) -> Any:
        """The resource context (clients, names with the real account id)."""
        from .aws import Clients
        from .naming import Names
        from .resources.base import Context

        if self._context is None:
            settings = self.settings  # validate before any AWS call
            endpoint, sandbox = self.endpoint()
            clients = Clients(settings.region, self.options.profile, endpoint, sandbox=sandbox)
            with self.out.spinner("checking credentials"):
                account = clients.account_id()
            if not sandbox and account != settings.account_id:
                raise UsageFailure(
                    f"the credentials belong to account {account}, but {settings.file} says "
                    f"account_id {settings.account_id}; refusing to touch the wrong account"
                )
            if sandbox:
                from .sandbox_seed import for_sandbox

                settings = self._settings = for_sandbox(settings, account)
            names = Names(settings.environment, settings.region, account)
            self._context = Context(
                settings=settings, names=names, clients=clients, sandbox=sandbox
            )
        for key, value in flags.items():
            setattr(self._context, key, value)
        return self._context

    def endpoint(self) -> tuple[str | None, bool]:
        if self.options.local:
            if self.options.endpoint_url:
                raise UsageFailure("--local and --endpoint-url exclude each other")
            from . import sandbox

            with self.out.spinner("starting the sandbox"):
                box, started = sandbox.start()
            if started:
                self.out.info(f"sandbox started on {box.url}")
            return box.url, True
        return self.options.endpoint_url, False


pass_app = click.make_pass_decorator(App)


class Group(click.Group):
    """Builds the App once the (sub)command's options are all parsed."""

    def invoke(self, ctx: click.Context) -> Any:
        ctx.ensure_object(Options)
        try:
            return super().invoke(ctx)
        except (ConfigError, UsageFailure) as exc:
            _fail(str(exc), 2)
        except CommandFailure as exc:
            _fail(str(exc), 1)
        except KeyboardInterrupt:
            _fail("interrupted; re-run the same command to finish (every step is idempotent)", 130)
        except Exception as exc:  # AWS errors and the like: one line, no traceback
            message = _aws_message(exc)
            if message is None:
                raise
            _fail(message, 1)


def _fail(message: str, code: int) -> NoReturn:
    Output().error(message)
    raise click.exceptions.Exit(code)


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
    options = ctx.ensure_object(Options)
    ctx.obj = options


def _app(ctx: click.Context) -> App:
    options = ctx.find_object(Options) or Options()
    return App(options)


def _steps_argument(func: F) -> F:
    return click.argument("steps", nargs=-1, type=click.Choice(STEPS), metavar="[STEP]...")(func)


def _resolve_steps(steps: tuple[str, ...]) -> list[str]:
    from .resources import available_steps

    available = available_steps()
    if not steps:
        return list(available)
    missing = [s for s in steps if s not in available]
    if missing:
        raise UsageFailure(f"step(s) not available in this build: {', '.join(missing)}")
    return [s for s in STEPS if s in steps]


def _run_setup(app: App, steps: list[str], dry_run: bool, command: str) -> None:
    from . import engine

    ctx = app.context()
    before = ctx.clients.counter.writes
    with app.out.spinner("reading current state") as _:
        report = engine.setup(ctx, steps, dry_run, app.out.debug)
    title = f"{'Plan' if dry_run else 'Setup'} — {ctx.settings.environment} ({ctx.names.account_id}, {ctx.settings.region})"
    _report(app, report, title, command, dry_run)
    app.out.debug(
        f"API calls: {ctx.clients.counter.reads} reads, {ctx.clients.counter.writes - before} writes"
    )


def _report(app: App, report: Any, title: str, command: str, dry_run: bool = False) -> None:
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


@cli.command()
@_steps_argument
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@global_options
@click.pass_context
def setup(ctx: click.Context, steps: tuple[str, ...], dry_run: bool) -> None:
    """Create or update every resource (or the named STEPs) to match the config.

    Steps run in dependency order: secrets roles table topic lambdas state-machine alarms
    schedule. Re-running with nothing changed writes nothing.
    """
    app = _app(ctx)
    _run_setup(app, _resolve_steps(steps), dry_run, "plan" if dry_run else "setup")


@cli.command()
@global_options
@click.pass_context
def plan(ctx: click.Context) -> None:
    """What setup would create, update or leave alone (= setup --dry-run)."""
    app = _app(ctx)
    _run_setup(app, _resolve_steps(()), True, "plan")


@cli.command("deploy-lambdas")
@global_options
@click.pass_context
def deploy_lambdas(ctx: click.Context) -> None:
    """Update the Lambda functions after a code change (= setup lambdas)."""
    app = _app(ctx)
    _run_setup(app, _resolve_steps(("lambdas",)), False, "deploy-lambdas")


@cli.command()
@global_options
@click.pass_context
def status(ctx: click.Context) -> None:
    """Every resource: present / drifted / missing, with ARNs (-v)."""
    from . import engine

    app = _app(ctx)
    context = app.context()
    with app.out.spinner("reading current state"):
        report = engine.status(context, _resolve_steps(()), app.out.debug)
    _report(
        app,
        report,
        f"Status — {context.settings.environment} ({context.names.account_id}, {context.settings.region})",
        "status",
    )


@cli.command()
@_steps_argument
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
    from . import engine

    app = _app(ctx)
    selected = _resolve_steps(steps)
    settings = app.settings
    if not dry_run and not yes:
        _confirm_cleanup(app, settings, selected)
    context = app.context(force_delete_secrets=force_delete_secrets)
    with app.out.spinner("deleting"):
        report = engine.cleanup(context, list(reversed(selected)), dry_run, app.out.debug)
    _report(
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


@cli.command()
@global_options
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check the config (and what is rendered from it) without any AWS call."""
    from .validation import validate_all

    app = _app(ctx)
    checks = validate_all(app.settings)
    app.out.document(
        {"command": "validate", "env": app.settings.environment, "ok": True, "checks": checks}
    )
    for check in checks:
        app.out.print(f"[green]ok[/green] {check}")


@cli.command()
@click.option("--snapshot", metavar="ID", help="Restore this snapshot (id or ARN), not the newest.")
@click.option(
    "--wait", is_flag=True, help="Follow the run live until it ends (exit 1 if it fails)."
)
@click.option(
    "--follow-timeout",
    type=int,
    metavar="SECONDS",
    help="Stop following after this long (default: the pipeline's own timeout).",
)
@global_options
@click.pass_context
def run(ctx: click.Context, snapshot: str | None, wait: bool, follow_timeout: int | None) -> None:
    """Start a refresh of the target cluster (an execution named by a new operation id)."""
    from . import runs

    app = _app(ctx)
    context = app.context()
    started = runs.start(context, snapshot)
    if context.sandbox:
        started.pop("console_url")
    app.out.info(f"operation [bold]{started['operation_id']}[/bold] started")
    app.out.info(f"execution {started['execution_arn']}")
    if "console_url" in started:
        app.out.info(f"console   {started['console_url']}")
    if not wait:
        app.out.document({"command": "run", **started})
        app.out.print(started["operation_id"])
        return
    interval = 0.5 if context.sandbox else 5.0
    limit = follow_timeout or context.settings.pipeline.timeout_seconds
    try:
        with LiveRun(app.out) as live:
            view = runs.follow(context, started["execution_arn"], live.update, interval, limit)
    except KeyboardInterrupt:
        app.out.info(
            "stopped following; the execution goes on "
            f"(aurora-restore history {started['operation_id']})"
        )
        raise click.exceptions.Exit(130) from None
    _finish_run(app, started, view)


def _finish_run(app: App, started: dict[str, Any], view: Any) -> None:
    from . import runs

    duration = (
        (view.stopped - view.started).total_seconds() if view.stopped and view.started else None
    )
    timings = {
        name: round(step.elapsed(view.stopped or view.started), 1)
        for name, step in view.steps.items()
    }
    doc: dict[str, Any] = {
        "command": "run",
        **started,
        "status": view.status,
        "duration_seconds": duration,
        "steps": timings,
    }
    if view.status == "SUCCEEDED":
        output = view.output or {}
        doc["snapshot"] = (output.get("snapshot") or {}).get("id")
        doc["result"] = output.get("result")
        app.out.document(doc)
        endpoint = (doc["result"] or {}).get("endpoint") or "-"
        app.out.print(
            f"[green]refresh succeeded[/green] in {duration or 0:.1f}s: snapshot "
            f"{doc['snapshot']} → {app.settings.target.cluster_id} ({endpoint})"
        )
        return
    if not view.done:
        app.out.document(doc)
        raise CommandFailure(
            f"stopped following after the time limit; the run is still {view.status}"
        )
    doc["failure"] = runs.failure_details(view)
    app.out.document(doc)
    failure = doc["failure"]
    raise CommandFailure(
        f"refresh {view.status.lower()} at {failure['step'] or 'unknown step'}: "
        f"{failure['error']}: {failure['message']}"
    )


@cli.command()
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@global_options
@click.pass_context
def executions(ctx: click.Context, limit: int) -> None:
    """Recent refreshes of this env: operation id, status, start, duration, snapshot."""
    from rich.table import Table

    from . import runs

    app = _app(ctx)
    rows = runs.recent(app.context(), limit)
    app.out.document({"command": "executions", "env": app.settings.environment, "executions": rows})
    table = Table(title=f"Executions — {app.settings.environment}", title_justify="left")
    for column in ("operation", "status", "started", "duration", "snapshot"):
        table.add_column(column)
    for row in rows:
        duration = "-" if row["duration_seconds"] is None else f"{row['duration_seconds']:.0f}s"
        table.add_row(
            row["operation_id"], row["status"], row["started"], duration, row["snapshot"] or "-"
        )
    app.out.print(table)


@cli.command()
@click.argument("operation_id")
@global_options
@click.pass_context
def history(ctx: click.Context, operation_id: str) -> None:
    """One run's audit trail from the audit table, step by step, in time order."""
    from . import runs

    app = _app(ctx)
    items = runs.audit_trail(app.context(), operation_id)
    if not items:
        raise CommandFailure(f"no audit items for operation {operation_id!r} in env {app.env}")
    app.out.document({"command": "history", "operation_id": operation_id, "events": items})
    app.out.print(audit_table(f"Audit trail — {operation_id}", items))


@cli.command()
@click.option("--write", "readme", type=click.Path(dir_okay=False, path_type=Path),
              help="Update the diagram block in this Markdown file (e.g. README.md).")
@global_options
@click.pass_context
def diagram(ctx: click.Context, readme: Path | None) -> None:
    """The state machine as a Mermaid flowchart, generated from definitions/ (no AWS call)."""
    from . import diagram as diagram_module

    app = _app(ctx)
    if readme is None:
        app.out.document({"command": "diagram", "mermaid": diagram_module.mermaid()})
        if not app.out.json:
            click.echo(diagram_module.mermaid(), nl=False)
        return
    changed = diagram_module.embed(readme)
    app.out.info(f"{readme}: {'updated' if changed else 'already up to date'}")


@cli.group("secrets")
def secrets_group() -> None:
    """Real values for the pipeline's secrets (never printed, never taken from argv)."""


@secrets_group.command("set")
@click.argument("which", type=click.Choice(["master", "app"]))
@click.option("--file", "source", type=click.File("r"), default="-", show_default="stdin",
              help="Read the JSON document from this file instead of stdin.")
@global_options
@click.pass_context
def secrets_set(ctx: click.Context, which: str, source: Any) -> None:
    """Store a new value of the master or app secret (a new version; the old one is kept).

    \b
    master: {"username": "postgres", "password": "..."}
    app:    {"host": "", "port": 5432, "dbname": "orders", "users": {"orders_app": "..."}}
    Example: aurora-restore secrets set app --env dev < app.json
    """
    import json

    from .resources.secrets import SecretValueError, set_secret_value

    app = _app(ctx)
    if source.name == "<stdin>" and sys.stdin.isatty():
        raise UsageFailure("pipe the JSON document in (… < app.json) or pass --file PATH")
    try:
        document = json.loads(source.read())
    except json.JSONDecodeError as exc:  # names a position, never the content
        raise UsageFailure(f"the {which} secret must be a JSON object: {exc.msg} "
                           f"(line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(document, dict):
        raise UsageFailure(f"the {which} secret must be a JSON object")
    settings = app.settings
    try:
        version = set_secret_value(app.context(), which, document)
    except SecretValueError as exc:
        raise UsageFailure(str(exc)) from None
    name = f"aurora-restore/{settings.environment}/{which}"
    app.out.document({"command": "secrets set", "secret": name, "version_id": version})
    app.out.print(f"{name}: new version {version} stored")


@cli.group()
def sandbox() -> None:
    """The embedded sandbox: a local moto server standing in for one AWS account."""


@sandbox.command("start")
@global_options
@click.pass_context
def sandbox_start(ctx: click.Context) -> None:
    """Start the sandbox (no-op when it is running)."""
    from . import sandbox as box_module

    app = _app(ctx)
    box, started = box_module.start()
    app.out.document({"url": box.url, "pid": box.pid, "started": started})
    app.out.print(
        f"sandbox {'started' if started else 'already running'} on {box.url} (pid {box.pid})"
    )


@sandbox.command("stop")
@global_options
@click.pass_context
def sandbox_stop(ctx: click.Context) -> None:
    """Stop the sandbox; everything in it is forgotten."""
    from . import sandbox as box_module

    app = _app(ctx)
    stopped = box_module.stop()
    app.out.document({"stopped": stopped})
    app.out.print("sandbox stopped" if stopped else "no sandbox running")


@sandbox.command("status")
@global_options
@click.pass_context
def sandbox_status(ctx: click.Context) -> None:
    """Is the sandbox running, and where."""
    from . import sandbox as box_module

    app = _app(ctx)
    box = box_module.find()
    app.out.document(
        {
            "running": box is not None,
            "url": box.url if box else None,
            "pid": box.pid if box else None,
        }
    )
    app.out.print(f"sandbox running on {box.url} (pid {box.pid})" if box else "no sandbox running")


@sandbox.command("seed")
@global_options
@click.pass_context
def sandbox_seed(ctx: click.Context) -> None:
    """Create what a real account already has: source cluster + snapshot, target, KMS key."""
    from .sandbox_seed import seed

    app = _app(ctx)
    app.options.local = True
    context = app.context()
    changes = seed(context)
    app.out.changes(
        f"Sandbox seed — {app.settings.environment}",
        changes,
        {"command": "sandbox seed", "env": app.settings.environment, "ok": True},
    )


@cli.command()
@click.option("--keep", is_flag=True, help="Leave the sandbox running at the end (to look around).")
@global_options
@click.pass_context
def demo(ctx: click.Context, keep: bool) -> None:
    """The whole life cycle on a fresh sandbox, no AWS account needed (about a minute).

    Starts a private sandbox, seeds it (a production cluster with a snapshot in another
    region, the target cluster, a KMS key), runs setup, runs a refresh with live progress,
    shows the audit trail and the notification that was sent, runs cleanup, and stops the
    sandbox.
    """
    from .demo import run_demo

    options = ctx.find_object(Options) or Options()
    options.env = options.env or os.environ.get("AURORA_RESTORE_ENV") or "dev"
    if options.endpoint_url:
        raise UsageFailure("demo always runs on its own sandbox; drop --endpoint-url")
    options.local = True
    app = App(options)
    app.settings  # noqa: B018 - validate the config before starting anything
    run_demo(app, keep)


def main() -> None:
    """Console entry point."""
    cli(prog_name="aurora-restore")


def _aws_message(exc: Exception) -> str | None:
    if "botocore" not in sys.modules and "aurora_restore_cli.sandbox" not in sys.modules:
        return None
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from .sandbox import SandboxError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE or pass --profile (or try --local)"
    if isinstance(exc, (ClientError, BotoCoreError, SandboxError)):
        return str(exc)
    return None
