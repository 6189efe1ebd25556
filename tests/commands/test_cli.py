"""The CLI end to end: through CliRunner and as a real subprocess against a moto server on
127.0.0.1, with `--output json` parsed; global options before or after the subcommand;
lean start-up (no boto3 for --help)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.sandbox import control as sandbox

from ..conftest import CONFIG_DIR, ApiCallRecorder

STEPS = ["table", "topic"]
SUBCOMMANDS = [
    "setup",
    "plan",
    "status",
    "cleanup",
    "validate",
    "deploy-lambdas",
    "logs",
    "test-functions",
    "render",
    "sandbox",
    "sandbox start",
    "sandbox stop",
    "sandbox status",
]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_setup_status_cleanup_json(reset_moto: str, moto_config_dir: Path) -> None:
    base = ["--config-dir", str(moto_config_dir), "--endpoint-url", reset_moto, "-o", "json"]
    code, out, err = invoke("--env", "dev", "setup", *STEPS, *base)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["command"] == "setup" and doc["ok"] is True
    # the table, the topic's own KMS key, the topic
    assert [c["action"] for c in doc["changes"]] == ["created"] * 3

    # options after the subcommand work the same
    code, out, err = invoke("setup", *STEPS, "--env", "dev", *base)
    doc = json.loads(out)
    assert code == 0
    assert [c["action"] for c in doc["changes"]] == ["unchanged"] * 3
    assert doc["api_calls"]["writes"] == 0

    code, out, _ = invoke("status", "--env", "dev", *base)
    statuses = {c["name"]: c["action"] for c in json.loads(out)["changes"]}
    assert statuses["aurora-restore-audit-dev"] == "present"
    assert statuses["aurora-restore-notifications-dev"] == "present"

    code, out, _ = invoke("cleanup", *STEPS, "--yes", "--env", "dev", *base)
    assert code == 0
    assert [c["action"] for c in json.loads(out)["changes"]] == ["deleted"] * 3
    code, out, _ = invoke("cleanup", *STEPS, "--yes", "--env", "dev", *base)
    assert code == 0
    assert [c["action"] for c in json.loads(out)["changes"]] == ["absent"] * 3


def test_plan_shows_would_create_and_writes_nothing(reset_moto: str, moto_config_dir: Path) -> None:
    code, out, err = invoke(
        "setup",
        "table",
        "topic",
        "--dry-run",
        "--env",
        "dev",
        "--config-dir",
        str(moto_config_dir),
        "--endpoint-url",
        reset_moto,
    )
    assert code == 0, err
    assert "would-create" in out
    code, out, _ = invoke(
        "status",
        "--env",
        "dev",
        "--config-dir",
        str(moto_config_dir),
        "--endpoint-url",
        reset_moto,
        "-o",
        "json",
    )
    missing = {c["name"] for c in json.loads(out)["changes"] if c["action"] == "missing"}
    assert {"aurora-restore-audit-dev", "aurora-restore-notifications-dev"} <= missing


def test_cleanup_without_yes_and_without_terminal_is_refused(reset_moto: str) -> None:
    code, _, err = invoke(
        "cleanup", "--env", "dev", "--config-dir", str(CONFIG_DIR), "--endpoint-url", reset_moto
    )
    assert code == 2
    assert "--yes" in err


def test_foreign_table_exit_1(reset_moto: str, moto_config_dir: Path) -> None:
    import boto3

    boto3.client("dynamodb", "us-east-1", endpoint_url=reset_moto).create_table(
        TableName="aurora-restore-audit-dev",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "operation_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "operation_id", "KeyType": "HASH"}],
    )
    code, out, err = invoke(
        "cleanup",
        "table",
        "--yes",
        "--env",
        "dev",
        "--config-dir",
        str(moto_config_dir),
        "--endpoint-url",
        reset_moto,
    )
    assert code == 1
    assert "not ours" in err
    assert "foreign" in out


def test_wrong_account_is_refused(reset_moto: str, tmp_path: Path) -> None:
    # Against an endpoint that is not the sandbox the config's account must match (moto: 123456789012).
    code, _, err = invoke(
        "setup",
        "table",
        "--env",
        "staging",
        "--config-dir",
        str(CONFIG_DIR),
        "--endpoint-url",
        reset_moto,
    )
    assert code == 2
    assert "333333333333" in err and "123456789012" in err


def test_region_disagreeing_with_config_is_a_usage_error() -> None:
    code, _, err = invoke(
        "validate", "--env", "dev", "--region", "eu-west-1", "--config-dir", str(CONFIG_DIR)
    )
    assert code == 2
    assert "eu-west-1" in err


def test_validate_makes_no_aws_call(api_calls: object) -> None:
    code, out, err = invoke(
        "validate", "--local", "--env", "prod", "--config-dir", str(CONFIG_DIR), "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    assert api_calls.calls == []  # type: ignore[attr-defined]


def _subprocess(
    *args: str, env: dict[str, str] | None = None, cwd: Path = CONFIG_DIR.parent
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aurora_restore_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_subprocess_against_moto_server(reset_moto: str, moto_config_dir: Path) -> None:
    # run from the directory holding config/, as a user would (default --config-dir is ./config)
    cwd = moto_config_dir.parent
    done = _subprocess(
        "--env",
        "dev",
        "--endpoint-url",
        reset_moto,
        "setup",
        "table",
        "topic",
        "--output",
        "json",
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    assert {c["action"] for c in json.loads(done.stdout)["changes"]} == {"created"}
    # AWS_ENDPOINT_URL is honoured like in the AWS CLI
    done = _subprocess(
        "status", "--env", "dev", "-o", "json", env={"AWS_ENDPOINT_URL": reset_moto}, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    assert {c["action"] for c in json.loads(done.stdout)["changes"] if c["step"] in STEPS} == {
        "present"
    }
    done = _subprocess(
        "cleanup", "table", "topic", "--yes", "--env", "dev", "--endpoint-url", reset_moto, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    assert "deleted" in done.stdout


def test_bad_config_in_subprocess_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "dev.yaml").write_text("environment: dev\nregion: [\n")
    done = _subprocess("plan", "--env", "dev", "--config-dir", str(tmp_path))
    assert done.returncode == 2
    assert "invalid YAML" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["", *SUBCOMMANDS])
def test_help_does_not_import_boto3(command: str) -> None:
    code = (
        "import sys\n"
        "from aurora_restore_cli.cli import cli\n"
        f"try:\n    cli.main(args={[*command.split(), '--help']!r}, standalone_mode=False)\n"
        "finally:\n"
        "    heavy = sorted(m for m in ('boto3', 'botocore', 'moto') if m in sys.modules)\n"
        "    print('IMPORTED', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    imported = done.stdout.split("IMPORTED", 1)[1]
    for heavy in ("boto3", "botocore", "moto"):
        assert heavy not in imported


def test_sandbox_lifecycle_with_local_flag(tmp_path: Path) -> None:
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path)}
    try:
        done = _subprocess(
            "--local", "setup", "table", "topic", "--env", "dev", "-o", "json", env=env
        )
        assert done.returncode == 0, done.stderr
        assert {c["action"] for c in json.loads(done.stdout)["changes"]} == {"created"}
        state = json.loads((tmp_path / "sandbox.json").read_text())
        done = _subprocess("status", "--local", "--env", "dev", "-o", "json", env=env)
        assert done.returncode == 0, done.stderr
        present = {
            c["name"] for c in json.loads(done.stdout)["changes"] if c["action"] == "present"
        }
        assert {"aurora-restore-audit-dev", "aurora-restore-notifications-dev"} <= present
        done = _subprocess("--local", "cleanup", "table", "topic", "--yes", "--env", "dev", env=env)
        assert done.returncode == 0, done.stderr
    finally:
        stopped = _subprocess("sandbox", "stop", env=env)
    assert stopped.returncode == 0
    assert "sandbox stopped" in stopped.stdout
    assert not sandbox.process_alive(state["pid"])


def test_aws_cli_sees_what_setup_created(reset_moto: str, moto_config_dir: Path) -> None:
    """An independent client (the AWS CLI) against the same moto server sees our resources."""
    code, _, err = invoke("setup", "--env", "dev", "--config-dir", str(moto_config_dir),
                          "--endpoint-url", reset_moto, "-o", "json")
    assert code == 0, err

    def aws(*args: str) -> Any:
        done = subprocess.run(["aws", "--endpoint-url", reset_moto, "--region", "us-east-1",
                               "--output", "json", *args], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "AWS_ACCESS_KEY_ID": "testing",
                                               "AWS_SECRET_ACCESS_KEY": "testing"})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    table = aws("dynamodb", "describe-table", "--table-name", "aurora-restore-audit-dev")
    assert table["Table"]["KeySchema"][0]["AttributeName"] == "operation_id"
    topics = [t["TopicArn"] for t in aws("sns", "list-topics")["Topics"]]
    assert any(t.endswith(":aurora-restore-notifications-dev") for t in topics)
    assert aws("iam", "get-role", "--role-name", "aurora-restore-lambda-role-dev")["Role"]
    function = aws("lambda", "get-function", "--function-name", "aurora-restore-find-snapshot-dev")
    assert function["Configuration"]["Handler"] == "handlers.find_snapshot.handler"
    machines = aws("stepfunctions", "list-state-machines")["stateMachines"]
    assert sorted(m["name"] for m in machines) == [
        "aurora-restore-drill-dev",
        "aurora-restore-pipeline-dev",
        "aurora-restore-recovery-dev",
    ]
    alarms = aws("cloudwatch", "describe-alarms", "--alarm-names",
                 "aurora-restore-pipeline-failures-dev")["MetricAlarms"]
    assert alarms[0]["MetricName"] == "ExecutionsFailed"
    secret = aws("secretsmanager", "describe-secret", "--secret-id", "aurora-restore/dev/master")
    assert secret["Name"] == "aurora-restore/dev/master"


def test_quarantine_plan_lists_rules_and_built_in_checks_without_aws(
    api_calls: ApiCallRecorder,
) -> None:
    result = CliRunner().invoke(
        cli, ["quarantine", "plan", "--env", "dev", "--config-dir", str(CONFIG_DIR), "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    assert api_calls.calls == []
    plan = json.loads(result.stdout)
    assert plan["command"] == "quarantine plan" and plan["engine"] == "aurora-postgresql"
    (rule,) = plan["rules"]
    assert rule["name"] == "outbound-email" and rule["sql"] == ["TRUNCATE public.outbound_email"]
    assert rule["check"] == "SELECT 1 FROM public.outbound_email LIMIT 1"
    builtins = {b["name"]: b for b in plan["builtins"]}
    assert set(builtins) == {"pg_cron", "subscriptions", "replication_slots", "foreign_servers",
                             "event_triggers", "publications"}
    assert builtins["foreign_servers"]["fails_the_run"]
    assert not builtins["publications"]["fails_the_run"]
    assert all(b["fix"] for b in plan["builtins"] if b["fails_the_run"])  # each says its fix
    text = CliRunner().invoke(cli, ["quarantine", "plan", "--env", "dev", "--config-dir",
                                    str(CONFIG_DIR)])
    assert "-- rule outbound-email: runs once" in text.stdout
    assert "built-in  foreign_servers" in text.stdout


def test_masking_plan_lists_the_rules_and_their_sql_without_aws(api_calls: ApiCallRecorder) -> None:
    result = CliRunner().invoke(
        cli, ["masking", "plan", "--env", "dev", "--config-dir", str(CONFIG_DIR), "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    assert api_calls.calls == []
    plan = json.loads(result.stdout)
    tables = {t["table"]: t for t in plan["tables"]}
    assert set(tables) == {"public.customers", "public.orders", "public.outbound_email"}
    assert {"column": "email", "transformer": "email"} in tables["public.customers"]["rules"]
    assert tables["public.customers"]["sql"].startswith('UPDATE "public"."customers" SET')
    assert "sha256(:opad || sha256(:ipad" in tables["public.customers"]["sql"]  # keyed, in SQL
    assert plan["post_restore_sql"] == ["scrub_notes.sql"] and plan["sql_files"] == "after"


def test_setup_help_lists_every_step() -> None:
    from aurora_restore_cli.resources import STEPS

    code, out, _ = invoke("setup", "--help")
    assert code == 0
    assert f"Steps run in dependency order: {' '.join(STEPS)}." in " ".join(out.split())
    assert "drill" in STEPS
