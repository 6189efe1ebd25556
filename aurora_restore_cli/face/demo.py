"""`aurora-restore demo`: the whole life cycle on a private, throw-away sandbox.

With a database server for the env's engine (sandbox/postgres.py; sandbox/mysql.py for an
aurora-mysql env: `demo --engine aurora-mysql`) the database steps run for real, and the demo
shows a few production rows before the refresh and the same rows in the refreshed, masked
target.
It first shows the PII gate at work: production gains a column of e-mail addresses that no
masking rule covers, the refresh stops before the swap (the target untouched), a rule is added
to the demo's own copy of the config, and the next refresh goes through. Then the quarantine:
production's outbound e-mail queue and its foreign server pointing at production, side by side
in production and in the refreshed target (emptied, refused).
With `--output json` it prints one document at the end (every phase's outcome).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.markup import escape

from ..operations import drills, runs
from ..provisioning import engine
from ..resources import available_steps
from ..sandbox import control as sandbox
from ..sandbox.databases import SandboxDatabase, for_engine, missing_note
from ..sandbox.mysql import ENV as MYSQL_ENV
from ..sandbox.postgres import ENV as POSTGRES_ENV
from .app import App, CommandFailure
from .output import LiveRun, Rows, audit_table, change_rows, rto_table, step_summary, summary_line


@contextmanager
def private_sandbox(
    keep: bool, postgres: str | None, mysql: str | None = None
) -> Iterator[sandbox.Sandbox]:
    """A sandbox of our own (its own state dir), so a user's running sandbox is untouched.
    Its directory goes with it, unless the sandbox is kept or the demo failed (then its log
    is the evidence: CommandFailure says where it is)."""
    saved = {k: os.environ.get(k)
             for k in ("AURORA_RESTORE_SANDBOX_DIR", POSTGRES_ENV, MYSQL_ENV)}
    directory = tempfile.mkdtemp(prefix="aurora-restore-demo-")
    os.environ["AURORA_RESTORE_SANDBOX_DIR"] = directory
    if postgres is not None:
        os.environ[POSTGRES_ENV] = postgres
    if mysql is not None:
        os.environ[MYSQL_ENV] = mysql
    failed = False
    try:
        box, _ = sandbox.start()
        yield box
    except CommandFailure as exc:
        failed = True
        raise CommandFailure(f"{exc} (the sandbox's log: {directory}/sandbox.log)") from None
    except BaseException:
        failed = True
        raise
    finally:
        if not keep:
            sandbox.stop()
            if not failed:
                shutil.rmtree(directory, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_demo(app: App, keep: bool, postgres: str | None = None, mysql: str | None = None) -> None:
    out = app.out
    began = time.monotonic()
    engine_name = app.settings.target.engine
    doc: dict[str, Any] = {"command": "demo", "env": app.env, "engine": engine_name}
    with private_sandbox(keep, postgres, mysql) as box:
        out.info(f"[bold]1/7 sandbox[/bold] on {box.url} (a moto server: one fake AWS account)")
        out.info(f"    {box.database_line}")
        doc["sandbox"] = {"url": box.url, "database": box.database_line}
        ctx = app.context()
        from ..sandbox.seed import seed

        out.info("[bold]2/7 seed[/bold]: what a real account already has")
        seeded = seed(ctx)
        out.rows(change_rows("Seed", seeded, with_arn=False))
        doc["seed"] = [c.to_json() for c in seeded]
        box = sandbox.find() or box  # read again: an aurora-mysql cluster started MySQL
        database = for_engine(box, engine_name)
        if database is not None:
            if database.engine != "aurora-postgresql":
                out.info(f"    {box.database_line}")
                doc["sandbox"]["database"] = box.database_line
            source = ctx.settings.source.cluster_id
            before = database.sample(source)
            out.rows(_rows_table(f"Production data ({source}), before the refresh", before))

        out.info("[bold]3/7 setup[/bold]: every step of the guide, idempotent")
        steps = list(available_steps())
        report = engine.setup(ctx, steps, False, out.debug)
        out.rows(step_summary("Setup", report.changes))
        doc["setup"] = summary_line(report.changes)
        if not report.ok:
            raise CommandFailure("; ".join(report.failures) or "setup did not complete")

        queue_url = _listen_to_topic(ctx)
        if database is not None:
            ctx = _pii_gate_story(app, database, ctx, doc)
        out.info("[bold]4/7 run[/bold]: refresh the target from the newest snapshot")
        started = runs.start(ctx, None)
        out.info(f"operation {started['operation_id']}")
        with LiveRun(out) as live:
            view = runs.follow(ctx, started["execution_arn"], live.update, 0.3, 120)
        out.print(_run_summary(view))
        doc["run"] = {"operation_id": started["operation_id"], "status": view.status,
                      "skipped_steps": [n for n, s in view.by_label().items()
                                        if s.status == "skipped"]}

        out.info("[bold]5/7 what the run did[/bold]: audit trail, database, notification")
        trail = runs.audit_trail(ctx, started["operation_id"])
        out.rows(audit_table("Audit trail", trail))
        doc["audit"] = trail
        if database is not None:
            target = ctx.settings.target.cluster_id
            after = database.sample(target)
            out.rows(_rows_table(f"Refreshed target ({target}), after masking", after))
            for line in _database_story(trail):
                out.print(line)
            effects = {"production": database.side_effects(ctx.settings.source.cluster_id),
                       "target": database.side_effects(target)}
            out.rows(_side_effects_table(effects, ctx.settings.source.cluster_id, target))
            doc["database"] = {"before": before, "after": after, "side_effects": effects}
        else:
            out.print(f"[dim]database steps SKIPPED: {missing_note(box, engine_name)}[/dim]")
        notifications = _received(ctx, queue_url)
        for message in notifications:
            out.print(f"[bold]SNS[/bold] {message.get('Subject')}")
            out.print(message.get("Message", ""))
        doc["notifications"] = [m.get("Subject") for m in notifications]

        out.info("[bold]6/7 drill[/bold]: prove the snapshot restores, and how fast, without "
                 "touching the target")
        drill = drills.start(ctx, None, None)
        with LiveRun(out) as live:
            drill_view = runs.follow(ctx, drill["execution_arn"], live.update, 0.3, 120)
        summary = drills.result(ctx, drill["operation_id"]) or {}
        out.rows(rto_table(f"Drill {drill_view.status}: restore time (RTO) by phase", summary))
        out.print(f"drill cluster {summary.get('drill_cluster_id')}: restored, verified "
                  f"({_checks(summary)}), deleted again; the target was not touched")
        doc["drill"] = {"operation_id": drill["operation_id"], "status": drill_view.status,
                        "rto_seconds": summary.get("rto_seconds")}

        out.info("[bold]7/7 cleanup[/bold]: only what setup created")
        ctx.force_delete_secrets = True  # the sandbox is thrown away: no recovery window
        removed = engine.cleanup(ctx, list(reversed(steps)), False, out.debug)
        out.rows(step_summary("Cleanup", removed.changes))
        doc["cleanup"] = summary_line(removed.changes)
        doc["seconds"] = round(time.monotonic() - began, 1)
        out.document(doc)
        out.info(f"demo finished in {doc['seconds']:.1f}s" + (
            f"; sandbox left running (AURORA_RESTORE_SANDBOX_DIR={os.environ.get('AURORA_RESTORE_SANDBOX_DIR')}"
            " aurora-restore sandbox stop)" if keep else ""))
        if view.status != "SUCCEEDED":
            failure = runs.failure_details(view)
            raise CommandFailure(f"the demo refresh {view.status.lower()}: {failure}")
        if drill_view.status != "SUCCEEDED":
            failure = runs.failure_details(drill_view)
            raise CommandFailure(f"the demo drill {drill_view.status.lower()}: {failure}")


NEW_COLUMN = "referral_email"


def _pii_gate_story(app: App, database: SandboxDatabase, ctx: Any, doc: dict[str, Any]) -> Any:
    """Production gains a personal column no rule covers: the gate stops the refresh before
    the swap; with a rule added (to the demo's own copy of the config) setup deploys it.
    Returns the context of the amended config."""
    out = app.out
    source, target = ctx.settings.source.cluster_id, ctx.settings.target.cluster_id
    new_rule = f"{database.schema(ctx.settings.database.name)}.customers.{NEW_COLUMN}"
    out.info(f"[bold]the PII gate[/bold]: production gained a column last week "
             f"({new_rule}, e-mail addresses) and no masking rule covers it yet")
    _add_production_column(database, ctx)
    before = _cluster_identity(ctx, target)
    started = runs.start(ctx, None)
    with LiveRun(out) as live:
        view = runs.follow(ctx, started["execution_arn"], live.update, 0.3, 120)
    untouched = _cluster_identity(ctx, target) == before
    failure = runs.failure_details(view)
    out.print(f"[red]refresh {view.status}[/red] at {failure['step']} ({failure['error']}), "
              f"before the swap: {escape(str(failure['message']))}")
    out.print(f"the target {target} was not touched: {'yes' if untouched else 'NO'}")
    amended = _config_with_rule(app, new_rule, "email")
    app2 = App(dataclasses.replace(app.options, config_dir=amended))
    ctx2 = app2.context()
    report = engine.setup(ctx2, ["state-machine"], False, out.debug)
    out.print(f"rule added ({new_rule}: email, in {amended}/{app.env}.yaml) and deployed: "
              f"{summary_line(report.changes)}; refresh again")
    doc["pii_gate"] = {"operation_id": started["operation_id"], "status": view.status,
                       "target_untouched": untouched, "source": source}
    return ctx2


def _cluster_identity(ctx: Any, cluster_id: str) -> tuple[str, str]:
    """What changes when another cluster takes the id: its resource id and creation time."""
    cluster = ctx.clients.get("rds").describe_db_clusters(DBClusterIdentifier=cluster_id)
    found = cluster["DBClusters"][0]
    return str(found.get("DbClusterResourceId")), str(found.get("ClusterCreateTime"))


def _add_production_column(database: SandboxDatabase, ctx: Any) -> None:
    """A new column in production, then the nightly snapshot that carries it."""
    source = ctx.settings.source
    database.add_column(source.cluster_id, NEW_COLUMN)
    rds = ctx.clients.get("rds", source.region)
    rds.create_db_cluster_snapshot(DBClusterIdentifier=source.cluster_id,
                                   DBClusterSnapshotIdentifier=f"{source.cluster_id}-nightly")


def _config_with_rule(app: App, column: str, transformer: str) -> Path:
    """A copy of the config directory beside the demo's sandbox, with one more rule."""
    copy = Path(os.environ["AURORA_RESTORE_SANDBOX_DIR"]) / "config"
    shutil.copytree(app.config_dir, copy, dirs_exist_ok=True)
    path = copy / f"{app.env}.yaml"
    rule = f"    {column}: {transformer}  # added by the demo after the PII gate caught it"
    text = re.sub(r"(?m)^(masking:.*\n(?:.*\n)*?  rules:.*\n)", lambda m: m.group(1) + rule + "\n",
                  path.read_text(encoding="utf-8"), count=1)
    path.write_text(text, encoding="utf-8")
    return copy


def _checks(summary: dict[str, Any]) -> str:
    verification = summary.get("verification") or {}
    if verification.get("skipped"):
        return f"database checks skipped: {verification['skipped']}"
    return (
        f"{verification.get('tables_ok', 0)} tables, "
        f"{verification.get('checks_ok', 0)} SQL checks"
    )


def _side_effects_table(effects: dict[str, dict[str, Any]], source: str, target: str) -> Rows:
    """Production's side effects: in production, and quarantined in the refreshed target
    (PostgreSQL's foreign server, MySQL's scheduled event)."""
    def link(found: dict[str, Any]) -> str:
        if "event" in found:
            event = found["event"]
            if not event:
                return "none"
            return f"{event['name']} ({'enabled' if event['enabled'] else 'disabled'})"
        server = found.get("foreign_server")
        if not server:
            return "none"
        return f"→ {server['host']} ({server['user_mappings']} user mapping(s))"

    mysql = "event" in effects["production"]
    rows = [[name, str(e["outbound_email"]), escape(link(e))]
            for name, e in ((f"production ({source})", effects["production"]),
                            (f"refreshed target ({target})", effects["target"]))]
    column = "scheduled event" if mysql else "foreign server"
    return Rows("The quarantine: production's side effects", ["database", "queued e-mails",
                column], rows, fold=(column,))


def _rows_table(title: str, rows: list[list[str]]) -> Rows:
    from ..sandbox.data import SAMPLE_COLUMNS

    return Rows(title, list(SAMPLE_COLUMNS), [[escape(c) for c in row] for row in rows],
                optional=("born", "phone"), fold=("shipping address", "order note"))


def _database_story(trail: list[dict[str, Any]]) -> list[str]:
    """What the three database steps did, from their audit items."""
    details = {e.get("step"): e.get("details") or {} for e in trail}
    users = details.get("reset-app-users", {}).get("users", [])
    masking = details.get("mask-data", {})
    scan = details.get("scan-pii", {})
    quarantined = details.get("quarantine", {})
    verify = details.get("verify", {})
    tables = masking.get("tables") or {}
    return [
        "users reset: " + (", ".join(f"{u['name']} ({u['privilege']}, {u['action']})"
                                     for u in users) or "none"),
        "masked by the declared rules: " + (", ".join(
            f"{name.removeprefix('table ')} ({t['rows']} rows)" for name, t in tables.items())
            or "nothing") + "; hand-written SQL: " + (", ".join(masking.get("files") or []) or "none"),
        f"PII gate passed: {scan.get('tables', 0)} tables, {scan.get('columns_scanned', 0)} "
        f"columns, {scan.get('rows_sampled', 0)} rows sampled, {scan.get('uncovered', 0)} "
        "personal column(s) without a rule",
        "quarantined: " + "; ".join(
            [f"rule {name}" + (f" ({r['rows']} rows)" if r.get("rows") else "")
             for name, r in (quarantined.get("rules") or {}).items()]
            + [item for b in (quarantined.get("builtins") or {}).values()
               for item in b.get("done", [])]) + f"; {len(quarantined.get('checks_passed') or [])}"
        " checks passed",
        f"verified as {verify.get('user', '-')}: {verify.get('tables_ok', 0)} of "
        f"{verify.get('tables_checked', 0)} expected tables present with their rows",
    ]


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
