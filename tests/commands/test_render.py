"""`render`: what setup would send, without any AWS call — and it is what setup does send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from handlers import FUNCTIONS

from ..conftest import CONFIG_DIR, ApiCallRecorder


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_render_makes_no_aws_call_and_prints_every_section(api_calls: ApiCallRecorder) -> None:
    done = invoke("render", "--env", "dev", "--config-dir", str(CONFIG_DIR), "-o", "json")
    assert done.exit_code == 0, done.output
    assert api_calls.calls == []
    rendered = json.loads(done.stdout)
    assert {"iam", "definitions", "settings", "functions"} <= set(rendered)
    lambda_role = rendered["iam"]["aurora-restore-lambda-role-dev"]
    assert lambda_role["trust_policy"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"}
    assert set(lambda_role["inline_policies"]) >= {"aurora-restore-rds", "aurora-restore-network"}
    assert {"aurora-restore-lambda-logs-dev", "aurora-restore-lambda-data-dev"} <= set(
        lambda_role["managed_policies"])
    assert set(rendered["definitions"]) == {"aurora-restore-pipeline-dev",
                                            "aurora-restore-drill-dev",
                                            "aurora-restore-recovery-dev"}
    assert rendered["settings"]["target"]["cluster_id"] == "dev-orders"
    assert len(rendered["functions"]) == len(FUNCTIONS)
    assert "secret" not in json.dumps(rendered["settings"]).lower().replace("secret_id", "")

    text = invoke("render", "iam", "--env", "dev", "--config-dir", str(CONFIG_DIR))
    assert text.exit_code == 0, text.output
    assert "## aurora-restore-lambda-role-dev inline policy aurora-restore-rds" in text.stdout
    assert "# definitions" not in text.stdout  # only the section asked for


def test_what_render_prints_is_what_setup_sends(reset_moto: str, moto_config_dir: Path) -> None:
    base = ["--env", "dev", "--config-dir", str(moto_config_dir)]
    done = invoke("setup", "roles", "lambdas", "state-machine", *base, "--endpoint-url", reset_moto)
    assert done.exit_code == 0, done.output
    rendered = json.loads(invoke("render", *base, "-o", "json").stdout)

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=reset_moto, region_name="us-east-1")

    iam = client("iam")
    for role, documents in rendered["iam"].items():
        for name, document in documents["inline_policies"].items():
            sent = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            assert sent == document, (role, name)
    machine = client("stepfunctions").describe_state_machine(
        stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:aurora-restore-pipeline-dev")
    assert json.loads(machine["definition"]) == rendered["definitions"]["aurora-restore-pipeline-dev"]
    config = client("lambda").get_function_configuration(
        FunctionName="aurora-restore-verify-dev")
    wanted = rendered["functions"]["aurora-restore-verify-dev"]
    assert (config["MemorySize"], config["Timeout"], config["Role"], config["Handler"]) == (
        wanted["MemorySize"], wanted["Timeout"], wanted["Role"], wanted["Handler"])
    assert config["Environment"]["Variables"] == wanted["Environment"]["Variables"]
