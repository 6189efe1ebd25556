"""The shared application context of every command: options, settings, clients, output,
and the two failure types the root group turns into exit codes (2 usage/config, 1 AWS/pipeline)
— one line on stderr, never a traceback, and with `--output json` exactly one JSON document on
stdout whatever happens (`{"error": …, "exit_code": …}` merged into the result, if any).

Global options work before or after the subcommand (`aurora-restore --env dev setup` and
`aurora-restore setup --env dev`): each position stores into one `Options` object, and
`make_app` builds the `App` once the subcommand's options are parsed. boto3 is only imported
once a command talks to AWS.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click

from ..config.fields import ENV_NAME
from ..config.load import config_file, load_settings
from ..config.reader import ConfigError
from ..config.settings import Settings
from ..contract.time_limits import within_limits
from .output import Output

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG_DIR = Path("config")
OUTPUT_KEY = "aurora_restore.output"  # ctx.meta: the command's Output, for failures in JSON
RAW_ARGS_KEY = "aurora_restore.args"  # ctx.meta: the arguments as given (JSON requested?)


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
        self.out = Output(options.output or "text", options.verbose, defer=True)
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
            self._settings = within_limits(self.loaded_settings())
        return self._settings

    def loaded_settings(self) -> Settings:
        """The validated config, before the time limits are checked (validate lists them)."""
        self._require_config_file()
        settings = load_settings(self.config_dir, self.env)
        region = self.options.region
        if region and region != settings.region:
            raise UsageFailure(
                f"--region {region} disagrees with region {settings.region} in {settings.file}"
            )
        return settings

    def _require_config_file(self) -> None:
        """A missing ENV.yaml: say which environments this directory does have."""
        env, directory = self.env, self.config_dir
        if not re.fullmatch(ENV_NAME, env) or config_file(directory, env).is_file():
            return  # a bad name or an existing file: load_settings says what is wrong
        wanted = config_file(directory, env)
        if not directory.is_dir():
            raise UsageFailure(
                f"{wanted}: no such file (there is no directory {directory}/ here); pass "
                f"--config-dir DIR, or write a starter with `aurora-restore init --env {env}`"
            )
        found = sorted(
            p.stem for p in directory.glob("*.yaml") if re.fullmatch(ENV_NAME, p.stem)
        )
        listing = ", ".join(found) if found else "none"
        raise UsageFailure(
            f"no environment {env!r}: {wanted} does not exist (environments in {directory}/: "
            f"{listing}); write one with `aurora-restore init --env {env}`"
        )

    def context(self, **flags: Any) -> Any:
        """The resource context (clients, names with the real account id)."""
        from ..aws import Clients
        from ..contract.naming import Names
        from ..resources.base.resource import Context

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
                from ..sandbox.seed import for_sandbox, seeded_source_key

                source_key = seeded_source_key(clients, settings.source.region)
                settings = self._settings = for_sandbox(settings, account, source_key)
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
            from ..sandbox import control as sandbox

            with self.out.spinner("starting the sandbox"):
                box, started = sandbox.start()
            if started:
                self.out.info(f"sandbox started on {box.url}; {box.database_line}")
            return box.url, True
        if self.options.endpoint_url:
            return checked_endpoint(self.options.endpoint_url, "--endpoint-url"), False
        if os.environ.get("AWS_ENDPOINT_URL"):  # botocore reads it itself: check it first
            checked_endpoint(os.environ["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL")
        return None, False


def checked_endpoint(url: str, source: str) -> str:
    """`url` if it is an http(s) URL with a host (and a valid port); else exit 2 naming `source`."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise UsageFailure(
            f"{source} {url!r} is not an endpoint URL: expected http(s)://HOST[:PORT], "
            "e.g. http://127.0.0.1:5000"
        )
    return url


def make_app(ctx: click.Context) -> App:
    """The App for this invocation (global options from either position)."""
    app = App(ctx.find_object(Options) or Options())
    ctx.find_root().meta[OUTPUT_KEY] = app.out
    return app


class Group(click.Group):
    """Turns failures into one line on stderr and an exit code (never a traceback); with
    `--output json`, stdout gets exactly one JSON document either way (the result, or
    `{"error": …, "exit_code": …}` merged into whatever the command had to say)."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        given = list(args)  # click's parser consumes the list it is handed
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:  # bad global options: before any ctx exists
            if wants_json(given):
                Output("json").fail(exc.format_message(), exc.exit_code)
                raise click.exceptions.Exit(exc.exit_code) from None
            raise
        ctx.meta[RAW_ARGS_KEY] = given
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        ctx.ensure_object(Options)
        try:
            result = super().invoke(ctx)
        except (ConfigError, UsageFailure) as exc:
            fail(ctx, str(exc), 2)
        except CommandFailure as exc:
            fail(ctx, str(exc), 1)
        except click.exceptions.Exit:
            _output(ctx).flush()
            raise
        except click.ClickException as exc:  # a subcommand's bad option or argument
            if not _output(ctx).json:
                raise
            fail(ctx, exc.format_message(), exc.exit_code)
        except KeyboardInterrupt:
            fail(ctx, "interrupted; re-run the same command to finish (every step is idempotent)",
                 130)
        except Exception as exc:  # AWS errors and the like: one line, no traceback
            message = _aws_message(exc)
            if message is None:
                raise
            fail(ctx, message, 1)
        _output(ctx).flush()
        return result


def wants_json(args: Sequence[str]) -> bool:
    """Whether the raw arguments ask for `--output json` (in any spelling click accepts)."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("-o", "--output") and i + 1 < len(args):
            if args[i + 1] == "json":
                return True
        elif arg in ("-ojson", "--output=json"):
            return True
    return False


def _output(ctx: click.Context) -> Output:
    """The command's Output (it may hold the JSON document), or one that fits the arguments."""
    root = ctx.find_root()
    found = root.meta.get(OUTPUT_KEY)
    if isinstance(found, Output):
        return found
    options = root.find_object(Options) or Options()
    json_mode = options.output == "json" or wants_json(root.meta.get(RAW_ARGS_KEY, []))
    out = Output("json" if json_mode else "text")
    root.meta[OUTPUT_KEY] = out
    return out


def fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    _output(ctx).fail(message, code)
    raise click.exceptions.Exit(code)


def _aws_message(exc: Exception) -> str | None:
    if "botocore" not in sys.modules and "aurora_restore_cli.sandbox.control" not in sys.modules:
        return None
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from ..sandbox.control import SandboxError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE or pass --profile (or try --local)"
    if isinstance(exc, (ClientError, BotoCoreError, SandboxError)):
        return str(exc)
    return None

