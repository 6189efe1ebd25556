"""recover: finish the failure path of a run that timed out, was aborted, or failed mid-undo."""

from __future__ import annotations

from typing import Any

import click

from ..face.app import App, CommandFailure, global_options, make_app


@click.command()
@click.argument("operation_id")
@click.option(
    "--wait-seconds",
    type=click.IntRange(0, 24 * 3600),
    default=1800,
    show_default=True,
    help="How long to keep going while clusters are still renaming or being restored.",
)
@global_options
@click.pass_context
def recover(ctx: click.Context, operation_id: str, wait_seconds: int) -> None:
    """Undo a run that ended without finishing its failure path (timed out, aborted, …).

    Renames the old target back (or keeps the verified new one, or brings the target back from
    its final snapshot), records FAILED, releases the lock and notifies — what the failure path
    does. Idempotent: run it again and nothing more changes. Refused while the run is in flight.
    """
    from ..operations import recovery

    app = make_app(ctx)
    context = app.context()
    try:
        with app.out.spinner(f"recovering {operation_id}"):
            answer = recovery.recover(
                context, operation_id, wait_seconds,
                lambda a: app.out.debug(f"pass: {a['status']}"),
            )
    except recovery.RecoveryFailed as exc:
        app.out.document({"command": "recover", "operation_id": operation_id})
        if exc.error_type == "ExecutionDoesNotExist":  # neither a refresh's nor a drill's
            raise CommandFailure(
                f"no run {operation_id} in env {app.env}; see `aurora-restore executions`"
            ) from None
        raise CommandFailure(str(exc)) from None
    app.out.document({"command": "recover", **answer})
    _render(app, answer)
    status = answer.get("status")
    if status == "refused":
        raise CommandFailure(str(answer.get("reason")))
    if status == "pending":
        pending = "; ".join((answer.get("undo") or {}).get("pending") or [])
        raise CommandFailure(
            f"not finished after {wait_seconds}s: waiting for {pending}; run "
            f"`aurora-restore recover {operation_id}` again (the lock stays until then)"
        )


def _render(app: App, answer: dict[str, Any]) -> None:
    undo = answer.get("undo") or {}
    status = answer.get("status")
    app.out.print(
        f"{answer.get('operation_id')}: {status} (execution {answer.get('execution_status')})"
    )
    if undo:
        app.out.print(f"serving under the target id: {undo.get('serving_under_target')}")
        for title in ("undone", "left", "pending"):
            for line in undo.get(title) or []:
                app.out.print(f"  {title}: {line}")
