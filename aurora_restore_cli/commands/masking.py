"""masking plan | masking scan: the declared masking rules, and the PII gate's scan."""

from __future__ import annotations

import click

from ..face.app import CommandFailure, global_options, make_app


@click.group("masking")
def masking_group() -> None:
    """Declared masking rules (config: masking.rules) and the PII gate."""


@masking_group.command("plan")
@global_options
@click.pass_context
def plan(ctx: click.Context) -> None:
    """The rules as they will run, and the SQL they compile to, for review. No AWS call."""
    from ..face.output import masking_plan_rows
    from ..operations import masking

    app = make_app(ctx)
    settings = app.settings
    plans = masking.plan(settings)
    app.out.document({
        "command": "masking plan",
        "env": settings.environment,
        "sql_files": settings.masking.sql_files,
        "post_restore_sql": [p.name for p in settings.database.post_restore_sql],
        "tables": [p.__dict__ for p in plans],
    })
    if not plans:
        app.out.print("no masking rules (masking.rules): the PII gate still scans before a swap")
    app.out.rows(masking_plan_rows(f"masking rules of {settings.environment}", plans))
    for table in plans:
        app.out.print(f"\n-- {table.table}: {table.batched}\n{table.sql}")
    if settings.database.post_restore_sql:
        files = ", ".join(p.name for p in settings.database.post_restore_sql)
        app.out.print(f"\nhand-written SQL ({settings.masking.sql_files} the rules): {files}")


@masking_group.command("scan")
@global_options
@click.pass_context
def scan(ctx: click.Context) -> None:
    """Scan the live target for personal data, read-only, through the deployed function.

    Lists every column with a finding and whether a rule covers it (the values are never
    shown). Exit 1 when a column no rule covers holds personal data: the next refresh would
    stop at the PII gate.
    """
    from ..face.output import pii_findings_rows
    from ..operations import masking

    app = make_app(ctx)
    context = app.context()
    with app.out.spinner(f"scanning {context.settings.target.cluster_id}"):
        try:
            report = masking.scan(context)
        except masking.ScanFailed as exc:
            raise CommandFailure(str(exc)) from None
    app.out.document({"command": "masking scan", **report})
    if report.get("skipped"):
        app.out.print(f"not scanned: {report['skipped']}")
        return
    app.out.rows(pii_findings_rows(f"PII scan of {context.settings.target.cluster_id}", report))
    app.out.print(
        f"{report.get('tables')} tables, {report.get('columns_scanned')} columns, "
        f"{report.get('rows_sampled')} rows sampled, {report.get('findings')} finding(s), "
        f"{report.get('uncovered')} without a rule"
    )
    if report.get("uncovered"):
        raise CommandFailure(
            f"{report['uncovered']} column(s) hold personal data no masking rule covers: add "
            "rules (masking.rules), or `keep` once reviewed"
        )
