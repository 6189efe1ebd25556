"""The `settings` document the state machine carries (handlers/CONTRACT.md), and the rendered
definition that embeds it.

The document is built from the validated config only: it is small, holds no secret (passwords
live in Secrets Manager) and is placed by the definition itself, so an execution input cannot
override the guard values in it.

Account ids: the functions, state machine and target live in the account the CLI talks to,
which is `names.account_id` (the caller's account; in the sandbox, the sandbox's account, not
the config's). So `account_id` is always `names.account_id`. `source.account_id` keeps the
config's value (a production account elsewhere) unless the config says the source lives in the
target account (`source.account_id == account_id`); then it follows `names.account_id` too, so
a same-account setup stays same-account in the sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import bundled
from ..config.settings import MAX_DRILL_KEEP_MINUTES, Settings
from . import definition
from .naming import DRILL_METRIC_NAMESPACE, Names


def packaged_sql_name(index: int, path: Path) -> str:
    """Name of the `index`-th (0-based) post-restore SQL file under `handlers/sql/` in the
    mask_data zip: `01_mask_pii.sql`, `02_…` (the prefix keeps the configured order)."""
    return f"{index + 1:02d}_{path.name}"


def packaged_sql_names(settings: Settings) -> list[str]:
    return [packaged_sql_name(i, p) for i, p in enumerate(settings.database.post_restore_sql)]


def pipeline_settings(settings: Settings, names: Names) -> dict[str, Any]:
    """The CONTRACT.md `settings` document for this env."""
    source, target, db = settings.source, settings.target, settings.database
    source_account = (
        names.account_id if source.account_id == settings.account_id else source.account_id
    )
    return {
        "env": settings.environment,
        "region": settings.region,
        "account_id": names.account_id,
        "source": {
            "cluster_id": source.cluster_id,
            "region": source.region,
            "account_id": source_account,
            "snapshot_type": source.snapshot_type,
            "max_age_hours": source.max_age_hours,
            "kms_key_id": source.kms_key_id,
            # how a run gets production's data, and the paths its role is granted
            # (handlers/choose_source.py; docs/fast-paths.md)
            "restore_from": source.restore_from,
            "restore_paths": list(settings.restore_paths),
        },
        "target": {
            "cluster_id": target.cluster_id,
            "engine": target.engine,
            "engine_version": target.engine_version,
            "allow_major_version_upgrade": target.allow_major_version_upgrade,
            "instance_class": target.instance_class,
            "serverless": None
            if target.serverless is None
            else {
                "min_capacity": target.serverless.min_capacity,
                "max_capacity": target.serverless.max_capacity,
            },
            "instance_count": target.instance_count,
            "subnet_group": target.subnet_group,
            "security_group_ids": list(target.security_group_ids),
            "kms_key_id": target.kms_key_id,
            "port": target.port,
            "parameter_group": target.parameter_group,
            "iam_auth": target.iam_auth,
            "log_exports": list(target.log_exports),
            "deletion_protection": target.deletion_protection,
            "strategy": target.strategy,
            "final_snapshot": target.final_snapshot,
            "final_snapshot_retention_days": target.final_snapshot_retention_days,
            "failed_run_expiry_hours": target.failed_run_expiry_hours,
            "delete_copied_snapshot": target.delete_copied_snapshot,
            "protected_cluster_ids": list(target.protected_cluster_ids),
        },
        "database": {
            "name": db.name,
            "connect_timeout_seconds": db.connect_timeout_seconds,
            "schemas": list(db.schemas),
            "users": [{"name": u.name, "privilege": u.privilege} for u in db.users],
            "post_restore_sql": packaged_sql_names(settings),
            "verify": {
                "expected_tables": [
                    {"name": t.name, "min_rows": t.min_rows} for t in db.expected_tables
                ]
            },
        },
        "masking": masking_settings(settings),
        "quarantine": quarantine_settings(settings),
        "parity": {"pin": list(settings.parity.pin)},
        "audit_ttl_days": settings.audit.ttl_days,
    }


def masking_settings(settings: Settings) -> dict[str, Any]:
    """`settings.masking`: the declared rules as handlers/lib/masking_rules.rule_from_json
    reads them, the SQL files' turn, the batch size and the PII gate's sample."""
    masking = settings.masking
    return {
        "rules": [
            {"schema": r.schema, "table": r.table, "column": r.column,
             "transformer": r.transformer, "argument": r.argument}
            for r in masking.rules
        ],
        "sql_files": masking.sql_files,
        "batch_rows": masking.batch_rows,
        "scan": {"sample_rows": "all" if masking.sample_rows is None else masking.sample_rows},
    }


def quarantine_settings(settings: Settings) -> dict[str, Any]:
    """`settings.quarantine`: the declared rules as handlers/lib/quarantine_rules.rule_from_json
    reads them, and the hosts foreign servers may name besides the cluster's own."""
    quarantine = settings.quarantine
    return {
        "rules": [
            {"name": r.name, "sql": list(r.statements), "check": r.check, "repeat": r.repeat}
            for r in quarantine.rules
        ],
        "allowed_hosts": list(quarantine.allowed_hosts),
    }


def quarantine_invocations(settings: Settings) -> int:
    """The quarantine loop's bound: `quarantine.max_minutes` of invocations at the Lambda
    timeout."""
    seconds = settings.quarantine.max_minutes * 60
    return max(1, -(-seconds // settings.lambda_.timeout_seconds))


def masking_invocations(settings: Settings) -> int:
    """The masking loop's bound: `masking.max_minutes` of invocations at the Lambda timeout."""
    seconds = settings.masking.max_minutes * 60
    return max(1, -(-seconds // settings.lambda_.timeout_seconds))


def pipeline_block(settings: Settings) -> dict[str, Any]:
    """The CONTRACT.md `pipeline` document (`${Pipeline}`, placed by the Initialize state):
    each wait loop's schedule and its bound in checks (`max_polls`, what the loop's Choice
    compares `poll.attempt` with), derived from `max_seconds` by the handlers' own schedule."""
    polling = bundled.polling()
    pipeline = settings.pipeline
    growth = pipeline.poll_growth_percent
    waits: dict[str, Any] = {}
    for key, loop in pipeline.waits.items():
        checks, _ = polling.checks_within(
            loop.first_seconds, loop.poll_seconds, growth, loop.max_seconds
        )
        waits[key] = {
            "first_seconds": loop.first_seconds,
            "poll_seconds": loop.poll_seconds,
            "max_seconds": loop.max_seconds,
            "max_polls": checks,
        }
    return {
        "timeout_seconds": pipeline.timeout_seconds,
        "poll_growth_percent": growth,
        "waits": waits,
        "masking": {"max_invocations": masking_invocations(settings)},
        "quarantine": {"max_invocations": quarantine_invocations(settings)},
    }


def function_arns(names: Names) -> dict[str, str]:
    """Step module → this env's function ARN, for every step in `handlers.STEPS`."""
    from ..bundled import handler_steps

    return {step: names.function_arn(step) for step in handler_steps()}


def definition_values(
    settings: Settings, names: Names, template: str | None = None
) -> dict[str, definition.Value]:
    """A value for every placeholder the template declares (and only those: `render` rejects
    unused values). An unknown placeholder is an error, never left in the upload."""
    text = definition.load_template() if template is None else template
    known: dict[str, definition.Value] = {
        definition.function_arn_placeholder(step): arn for step, arn in function_arns(names).items()
    }
    known.update(
        {
            "Settings": pipeline_settings(settings, names),
            "Pipeline": pipeline_block(settings),
            "TimeoutSeconds": settings.pipeline.timeout_seconds,
            "DrillSettings": drill_settings(settings),
            "DrillPipeline": drill_pipeline_block(settings),
            "DrillTimeoutSeconds": drill_timeout_seconds(settings),
        }
    )
    wanted = definition.placeholders(text)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"the definition template declares placeholder(s) we have no value for: {', '.join(unknown)}"
        )
    return {name: known[name] for name in wanted}


# --- restore drills (definitions/drill.asl.json) ---------------------------------------------

DRILL_CHECKS_NAME = "drill_checks.sql"  # the drill checks file inside the verify zip


def drill_settings(settings: Settings) -> dict[str, Any]:
    """`settings.drill` of a drill's state document (handlers/lib/drill.py reads it)."""
    drill = settings.drill
    return {
        "keep_minutes": drill.keep_minutes,
        "max_keep_minutes": MAX_DRILL_KEEP_MINUTES,
        # What a drill may still take after its keep time: anything of it left after that
        # (its `expires-at`) is an orphan.
        "expiry_margin_seconds": drill_timeout_seconds(settings) - MAX_DRILL_KEEP_MINUTES * 60,
        "checks_sql": DRILL_CHECKS_NAME if drill.checks_sql else None,
        "instance_class": drill.instance_class,
        "metric_namespace": DRILL_METRIC_NAMESPACE,
    }


def drill_timeout_seconds(settings: Settings) -> int:
    """The drill's execution timeout. Its path to success has the refresh's loops but the
    renames (copy, restore, instances, password — all inside the refresh's validated
    `timeout_seconds`), plus the longest keep time and, at worst, two cleanups (the `delete`
    loop's bound each: after the drill and on the failure path)."""
    polling = bundled.polling()

    pipeline = settings.pipeline
    delete = pipeline.waits["delete"]
    _, cleanup = polling.checks_within(
        delete.first_seconds, delete.poll_seconds, pipeline.poll_growth_percent, delete.max_seconds
    )
    return pipeline.timeout_seconds + MAX_DRILL_KEEP_MINUTES * 60 + 2 * cleanup


def drill_pipeline_block(settings: Settings) -> dict[str, Any]:
    """The drill's `pipeline` document: the refresh's wait loops (its cleanup waits like the
    `delete` loop) under the drill's own timeout (the lock is held that long)."""
    return {**pipeline_block(settings), "timeout_seconds": drill_timeout_seconds(settings)}


def render_drill_definition(settings: Settings, names: Names) -> str:
    return render_definition(
        settings, names, definition.load_template(definition.DRILL_TEMPLATE_PATH)
    )


def render_definition(settings: Settings, names: Names, template: str | None = None) -> str:
    """The definition to upload: every placeholder filled, then validated (JSON, every `Next`
    exists, every Task invokes one of this env's functions). Raises ValueError listing problems."""
    text = definition.load_template() if template is None else template
    rendered = definition.render(text, definition_values(settings, names, text))
    problems = definition.validate(rendered, set(function_arns(names).values()))
    if problems:
        raise ValueError("the rendered state machine definition is invalid: " + "; ".join(problems))
    return rendered
