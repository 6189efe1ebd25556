"""`secrets set master|app|masking`: real secret values from stdin or --file (never argv, never printed)."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..face.app import UsageFailure, global_options, make_app


@click.group("secrets")
def secrets_group() -> None:
    """Real values for the pipeline's secrets (never printed, never taken from argv)."""


@secrets_group.command("set")
@click.argument("which", type=click.Choice(["master", "app", "masking"]))
@click.option("--file", "source", type=click.File("r"), default="-", show_default="stdin",
              help="Read the JSON document from this file instead of stdin.")
@global_options
@click.pass_context
def secrets_set(ctx: click.Context, which: str, source: Any) -> None:
    """Store a new value of the master, app or masking secret (a new version; the old one is
    kept). A new masking key changes every masked value from the next refresh on (rotation).

    \b
    master:  {"username": "postgres", "password": "..."}
    app:     {"host": "", "port": 5432, "dbname": "orders", "users": {"orders_app": "..."}}
    masking: {"key": "<64 hex characters or more>"}   (e.g. from `openssl rand -hex 32`)
    Example: aurora-restore secrets set app --env dev < app.json
    """
    import json

    from ..resources.secrets import SecretValueError, set_secret_value

    app = make_app(ctx)
    if source.name == "<stdin>" and sys.stdin.isatty():
        raise UsageFailure(
            f"pipe the JSON document in (aurora-restore secrets set {which} --env {app.env} "
            f"< {which}.json) or pass --file PATH"
        )
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

