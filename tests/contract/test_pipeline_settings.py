"""The settings document the state machine carries and the rendered definition: contract shape,
account ids (sandbox vs config), SQL file names, no secrets, no placeholder left, every Task on
one of this env's functions, and clear errors for a template that does not fit."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.settings import WAIT_LOOP_DEFAULTS
from aurora_restore_cli.contract import definition
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.contract.pipeline_settings import (
    definition_values,
    function_arns,
    packaged_sql_names,
    pipeline_block,
    pipeline_settings,
    render_definition,
    render_drill_definition,
)
from handlers import STEPS
from handlers.lib import polling

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT, edit_config

SANDBOX = Names("dev", "us-east-1", MOTO_ACCOUNT)


def dev() -> Any:
    return load_settings(CONFIG_DIR, "dev")


def test_document_has_the_contract_shape() -> None:
    document = pipeline_settings(dev(), SANDBOX)
    assert set(document) == {
        "env",
        "region",
        "account_id",
        "source",
        "target",
        "database",
        "masking",
        "quarantine",
        "parity",
        "audit_ttl_days",
    }
    masking = document["masking"]
    assert masking["sql_files"] == "after" and masking["scan"] == {"sample_rows": 1000}
    assert {"schema": "public", "table": "customers", "column": "email", "transformer": "email",
            "argument": None} in masking["rules"]
    assert (document["env"], document["region"]) == ("dev", "us-east-1")
    assert document["source"] == {
        "cluster_id": "prod-orders",
        "region": "us-west-2",
        "account_id": "222222222222",
        "snapshot_type": "any",
        "max_age_hours": 48,
        "kms_key_id": "arn:aws:kms:us-west-2:222222222222:key/5e6f7a8b-1111-2222-3333-444455556666",
        # auto, and the source is in another region: only a snapshot can reach the target
        "restore_from": "auto",
        "restore_paths": ["snapshot"],
    }
    assert set(document["target"]) == {
        "cluster_id", "engine", "engine_version", "allow_major_version_upgrade",
        "instance_class", "serverless", "instance_count",
        "subnet_group", "security_group_ids", "kms_key_id", "port", "parameter_group",
        "iam_auth", "log_exports", "deletion_protection", "strategy", "final_snapshot",
        "delete_copied_snapshot", "protected_cluster_ids", "final_snapshot_retention_days",
        "failed_run_expiry_hours",
    }  # fmt: skip
    assert document["target"]["protected_cluster_ids"] == ["prod-orders", "dev-shared-reporting"]
    assert document["database"] == {
        "name": "orders",
        "connect_timeout_seconds": 10,
        "schemas": ["public"],
        "users": [
            {"name": "orders_app", "privilege": "read-write"},
            {"name": "orders_readonly", "privilege": "read-only"},
        ],
        "post_restore_sql": ["01_scrub_notes.sql"],
        "verify": {
            "expected_tables": [
                {"name": "public.customers", "min_rows": 1},
                {"name": "public.orders", "min_rows": 0},
            ]
        },
    }
    assert document["audit_ttl_days"] == 365
    json.dumps(document)  # plain JSON, nothing else


def test_document_is_secret_free_and_small() -> None:
    text = json.dumps(pipeline_settings(dev(), SANDBOX)).lower()
    for word in ("password", "secret", "token", "credential"):
        assert word not in text
    assert len(text) < 4096


def test_account_ids_follow_the_account_we_talk_to() -> None:
    settings = dev()
    # Real AWS: the CLI checked that the caller's account is the config's.
    real = pipeline_settings(settings, Names("dev", "us-east-1", settings.account_id))
    assert real["account_id"] == "111111111111"
    assert real["source"]["account_id"] == "222222222222"
    # Sandbox: the target lives in the sandbox account; a foreign source account stays.
    sandbox = pipeline_settings(settings, SANDBOX)
    assert sandbox["account_id"] == MOTO_ACCOUNT
    assert sandbox["source"]["account_id"] == "222222222222"


def test_same_account_source_follows_the_target_account(config_dir: Path) -> None:
    edit_config(
        config_dir,
        "dev",
        lambda d: d["source"].update(account_id="111111111111", kms_key_id=None),
    )
    document = pipeline_settings(load_settings(config_dir, "dev"), SANDBOX)
    assert document["account_id"] == document["source"]["account_id"] == MOTO_ACCOUNT


def test_sql_files_are_numbered_in_configured_order(config_dir: Path) -> None:
    (config_dir / "sql" / "zz_first.sql").write_text("SELECT 1;\n")
    (config_dir / "sql" / "aa_last.sql").write_text("SELECT 2;\n")
    edit_config(
        config_dir,
        "dev",
        lambda d: d["database"].update(
            post_restore_sql=["sql/zz_first.sql", "sql/scrub_notes.sql", "sql/aa_last.sql"]
        ),
    )
    settings = load_settings(config_dir, "dev")
    expected = ["01_zz_first.sql", "02_scrub_notes.sql", "03_aa_last.sql"]
    assert packaged_sql_names(settings) == expected
    assert pipeline_settings(settings, SANDBOX)["database"]["post_restore_sql"] == expected


def test_rendered_definition_is_complete_and_only_calls_our_functions() -> None:
    text = render_definition(dev(), SANDBOX)
    assert "${" not in text
    document = json.loads(text)
    ours = set(function_arns(SANDBOX).values())
    assert len(ours) == len(STEPS)
    assert all(arn.startswith(f"arn:aws:lambda:us-east-1:{MOTO_ACCOUNT}:function:") for arn in ours)
    called = set()
    for state in document["States"].values():
        if state["Type"] != "Task":
            continue
        target = state["Resource"]
        if target == definition.LAMBDA_INVOKE:
            target = state["Parameters"]["FunctionName"]
        assert target in ours
        called.add(target)
    drill = json.loads(render_drill_definition(dev(), SANDBOX))["States"].values()
    called |= {s["Parameters"]["FunctionName"] for s in drill if s["Type"] == "Task"}
    assert called == ours  # every step's function is used by the refresh or the drill
    assert document["TimeoutSeconds"] == 86400
    assert definition.validate(text, ours) == []


def test_pipeline_numbers_come_from_config(config_dir: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["pipeline"] = {
            "timeout_seconds": 100000,
            "poll_growth_percent": 1,
            "waits": {"rename": {"first_seconds": 30, "poll_seconds": 3, "max_seconds": 300}},
        }

    edit_config(config_dir, "dev", edit)
    settings = load_settings(config_dir, "dev")
    document = json.loads(render_definition(settings, SANDBOX))
    assert document["TimeoutSeconds"] == 100000
    block = document["States"]["Initialize"]["Parameters"]["pipeline"]
    assert block == pipeline_block(settings)
    assert (block["timeout_seconds"], block["poll_growth_percent"]) == (100000, 1)
    # 30 s, then every 3 s (1% of < 300 s is less): the 91st check has waited 300 s.
    assert block["waits"]["rename"] == {
        "first_seconds": 30,
        "poll_seconds": 3,
        "max_seconds": 300,
        "max_polls": 91,
    }
    # Loops the file does not mention keep their defaults.
    copy = WAIT_LOOP_DEFAULTS["copy"]
    assert block["waits"]["copy"]["first_seconds"] == copy.first_seconds
    assert set(block["waits"]) == set(polling.LOOPS) == set(WAIT_LOOP_DEFAULTS)
    texts = json.dumps(document)
    assert '"${' not in texts


def test_max_polls_reach_max_seconds_with_growth() -> None:
    block = pipeline_block(dev())
    growth = block["poll_growth_percent"]
    assert growth > 0
    for key, loop in block["waits"].items():
        waited = list(
            itertools.islice(
                polling.schedule(loop["first_seconds"], loop["poll_seconds"], growth),
                loop["max_polls"],
            )
        )
        assert waited[-1] >= loop["max_seconds"] > waited[-2], key
    # A 10-hour copy bound costs a few hundred checks, not 1,800 at a fixed 20 s.
    assert block["waits"]["copy"]["max_polls"] < 300


def test_settings_are_placed_by_the_definition() -> None:
    document = json.loads(render_definition(dev(), SANDBOX))
    placed = [s for s in document["States"].values() if s.get("ResultPath") == "$.settings"]
    assert [s["Result"] for s in placed] == [pipeline_settings(dev(), SANDBOX)]


def test_values_cover_exactly_the_template_placeholders() -> None:
    values = definition_values(dev(), SANDBOX)
    assert sorted(values) == definition.placeholders()


def test_unknown_placeholder_is_an_error() -> None:
    template = definition.load_template().replace(
        '"StartAt"', '"Unknown": "${SomethingNew}", "StartAt"', 1
    )
    with pytest.raises(ValueError, match="SomethingNew"):
        render_definition(dev(), SANDBOX, template)


def test_task_outside_our_functions_is_rejected() -> None:
    template = definition.load_template().replace(
        "${FindSnapshotFunctionArn}",
        "arn:aws:lambda:us-east-1:999999999999:function:not-ours",
    )
    with pytest.raises(ValueError, match="not one of our functions"):
        render_definition(dev(), SANDBOX, template)


def test_dangling_next_is_rejected() -> None:
    document = json.loads(definition.load_template())
    first = document["StartAt"]
    document["States"][first]["Next"] = "NoSuchState"
    with pytest.raises(ValueError, match="NoSuchState"):
        render_definition(dev(), SANDBOX, json.dumps(document))
