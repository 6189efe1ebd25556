"""`aurora-restore demo`: the whole life cycle on a private, throw-away sandbox."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import engine, runs, sandbox
from .app import App, CommandFailure
from .output import LiveRun, audit_table, step_summary
from .resources import available_steps


@contextmanager
def private_sandbox(keep: bool) -> Iterator[sandbox.Sandbox]:
    """A sandbox of our own (its own state dir), so a user's running sandbox is untouched."""
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    directory = tempfile.mkdtemp(prefix="aurora-restore-demo-")
    os.environ["AURORA_RESTORE_SANDBOX_DIR"] = directory
    try:
        box, _ = sandbox.start()
        yield box
    finally:
        if not keep:
            sandbox.stop()
        if saved is None:
            os.environ.pop("AURORA_RESTORE_SANDBOX_DIR", None)
        else:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def run_demo(app: App, keep: bool) -> None:
    out = app.out
    began = time.monotonic()
    with private_sandbox(keep) as box:
        out.info(f"[bold]1/6 sandbox[/bold] on {box.url} (a moto server: one fake AWS account)")
        ctx = app.context()
        from .sandbox_seed import seed

        out.info("[bold]2/6 seed[/bold]: what a real account already has")
        out.changes("Seed", seed(ctx), {"command": "demo", "phase": "seed"})

        out.info("[bold]3/6 setup[/bold]: every step of the guide, idempotent")
        steps = list(available_steps())
        report = engine.setup(ctx, steps, False, out.debug)
        out.print(step_summary("Setup", report.changes))
        if not report.ok:
            raise CommandFailure("; ".join(report.failures) or "setup did not complete")

        queue_url = _listen_to_topic(ctx)
        out.info("[bold]4/6 run[/bold]: refresh the target from the newest snapshot")
        started = runs.start(ctx, None)
        out.info(f"operation {started['operation_id']}")
        with LiveRun(out) as live:
            view = runs.follow(ctx, started["execution_arn"], live.update, 0.3, 120)
        out.print(_run_summary(view))

        out.info("[bold]5/6 audit trail and notification[/bold]")
        out.print(audit_table("Audit trail", runs.audit_trail(ctx, started["operation_id"])))
        for message in _received(ctx, queue_url):
            out.print(f"[bold]SNS[/bold] {message.get('Subject')}")
            out.print(message.get("Message", ""))

        out.info("[bold]6/6 cleanup[/bold]: only what setup created")
        ctx.force_delete_secrets = True  # the sandbox is thrown away: no recovery window
        removed = engine.cleanup(ctx, list(reversed(steps)), False, out.debug)
        out.print(step_summary("Cleanup", removed.changes))
        out.info(f"demo finished in {time.monotonic() - began:.1f}s"
                 + ("; sandbox left running (aurora-restore sandbox stop)" if keep else ""))
        if view.status != "SUCCEEDED":
            failure = runs.failure_details(view)
            raise CommandFailure(f"the demo refresh {view.status.lower()}: {failure}")


def _listen_to_topic(ctx: Any) -> str:
    """Subscribe a queue to the topic so the demo can show the notification it receives."""
    sqs = ctx.clients.get("sqs")
    url = str(sqs.create_queue(QueueName=f"aurora-restore-demo-{ctx.env}")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ctx.clients.get("sns").subscribe(TopicArn=ctx.names.topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _received(ctx: Any, queue_url: str) -> list[dict[str, Any]]:
    sqs = ctx.clients.get("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def _run_summary(view: runs.ExecutionView) -> str:
    if view.status == "SUCCEEDED":
        output = view.output or {}
        snapshot = (output.get("snapshot") or {}).get("id")
        endpoint = (output.get("result") or {}).get("endpoint")
        return f"[green]refresh SUCCEEDED[/green]: snapshot {snapshot} → {endpoint}"
    return f"[red]refresh {view.status}[/red]: {runs.failure_details(view)}"
