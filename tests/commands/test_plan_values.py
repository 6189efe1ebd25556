"""`plan` shows what would change with its values: old → new for a scalar, a unified diff for
a document (policy, definition), as terraform plan and cdk diff do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from aurora_restore_cli.cli import cli

from ..conftest import edit_config


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_plan_after_a_memory_change_shows_both_values(
    reset_moto: str, moto_config_dir: Path
) -> None:
    base = ["--env", "dev", "--config-dir", str(moto_config_dir), "--endpoint-url", reset_moto]
    done = invoke("setup", "roles", "lambdas", "state-machine", *base)
    assert done.exit_code == 0, done.output

    def bigger(data: dict[str, Any]) -> None:
        data["lambda"]["memory_mb"] = 512
        data["pipeline"]["timeout_seconds"] = data["pipeline"].get("timeout_seconds", 86400) - 60

    edit_config(moto_config_dir, "dev", bigger)
    plan = invoke("plan", *base, "-o", "json")
    assert plan.exit_code == 0, plan.output
    changes = {c["name"]: c for c in json.loads(plan.stdout)["changes"]}
    function = changes["aurora-restore-find-snapshot-dev"]
    assert function["action"] == "would-update" and function["detail"] == "memory"
    assert function["values"] == [{"field": "memory", "old": 256, "new": 512, "document": False}]
    machine = changes["aurora-restore-pipeline-dev"]
    (definition,) = [v for v in machine["values"] if v["field"] == "definition"]
    assert definition["document"] is True
    assert definition["old"]["TimeoutSeconds"] == definition["new"]["TimeoutSeconds"] + 60

    text = invoke("plan", *base)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    at = lines.index("~ Lambda function aurora-restore-find-snapshot-dev")
    assert lines[at + 1] == "    memory: 256 → 512"
    diff = lines[lines.index("~ state machine aurora-restore-pipeline-dev"):]
    assert "      --- current" in diff and "      +++ config" in diff
    old, new = definition["old"]["TimeoutSeconds"], definition["new"]["TimeoutSeconds"]
    assert f'      -  "TimeoutSeconds": {old}' in diff and f'      +  "TimeoutSeconds": {new}' in diff
    assert all(line == line.rstrip() for line in lines)
