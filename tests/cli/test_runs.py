"""run / executions / history on the sandbox (a real moto server process executing our
definition), as subprocesses and through CliRunner; and `demo` end to end."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurora_restore_cli import sandbox
from aurora_restore_cli.cli import cli

from ..conftest import ROOT

TASK_STATES = ["AcquireLock", "CheckTarget", "FindSnapshot", "CopySnapshot", "CheckCopy",
               "RestoreCluster", "CheckCluster", "CreateInstances", "CheckInstances",
               "ResetMasterPassword", "ResetAppUsers", "RunSql", "Verify", "SwapOutTarget",
               "SwapInStaging", "DeleteOldCluster", "Finalize", "ReleaseLock", "NotifySuccess"]


def cli_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox of this module's own, seeded and set up for env dev."""
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path_factory.mktemp("runs-sandbox"))}
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    try:
        for args in (["sandbox", "seed"], ["setup"]):
            done = cli_run("--local", "--env", "dev", *args, env=env)
            assert done.returncode == 0, done.stderr
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        yield env
    finally:
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        sandbox.stop()
        if saved is not None:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def test_run_to_success_then_executions_and_history(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "--env", "dev", "run", "--wait", "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    assert result["snapshot"] == "prod-orders-sandbox-seed"
    assert result["result"]["endpoint"].startswith("dev-orders.")
    assert set(TASK_STATES) <= set(result["steps"])
    operation = result["operation_id"]

    listed = CliRunner().invoke(cli, ["executions", "--local", "--env", "dev", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["operation_id"]: r for r in json.loads(listed.stdout)["executions"]}
    assert rows[operation]["status"] == "SUCCEEDED"
    assert rows[operation]["snapshot"] == "prod-orders-sandbox-seed"

    trail = CliRunner().invoke(cli, ["history", operation, "--local", "--env", "dev", "-o", "json"])
    assert trail.exit_code == 0, trail.output
    events = json.loads(trail.stdout)["events"]
    steps = [e["step"] for e in events]
    assert steps[0] == "acquire-lock" and steps[-1] == "notify-success"
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    skipped = {e["step"]: e for e in events if e["status"] == "SKIPPED"}
    assert set(skipped) == {"reset-app-users", "run-sql", "verify"}  # no database in the sandbox

    text = cli_run("--local", "--env", "dev", "history", operation, env=provisioned)
    assert text.returncode == 0 and "find-snapshot" in text.stdout


def test_run_refuses_to_start_when_preflight_fails(provisioned: dict[str, str]) -> None:
    before = CliRunner().invoke(cli, ["executions", "--local", "--env", "dev", "-o", "json"])
    done = cli_run("--local", "--env", "dev", "run", "--snapshot", "no-such-snapshot", "--wait",
                   "-o", "json", env=provisioned)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "run" and result["ok"] is False
    failed = [c for c in result["checks"] if c["status"] == "fail"]
    assert [(c["area"], c["name"]) for c in failed] == [("snapshot", "source snapshot")]
    assert "no-such-snapshot" in failed[0]["detail"]
    assert "preflight failed: snapshot: source snapshot" in done.stderr
    after = CliRunner().invoke(cli, ["executions", "--local", "--env", "dev", "-o", "json"])
    assert json.loads(after.stdout)["executions"] == json.loads(before.stdout)["executions"]


def test_run_to_failure_exits_1_with_the_error(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "--env", "dev", "run", "--snapshot", "no-such-snapshot", "--wait",
                   "--skip-preflight", "-o", "json", env=provisioned)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED"
    assert result["failure"]["error"] == "SnapshotNotFound"
    assert result["failure"]["step"] == "FindSnapshot"
    assert "no-such-snapshot" in result["failure"]["message"]
    assert "SnapshotNotFound" in done.stderr

    trail = CliRunner().invoke(cli, ["history", result["operation_id"], "--local", "--env", "dev",
                                     "-o", "json"])
    statuses = [(e["step"], e["status"]) for e in json.loads(trail.stdout)["events"]]
    assert ("find-snapshot", "FAILED") in statuses
    assert statuses[-1][0] == "notify-failure"


def test_run_without_wait_prints_the_operation(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "--env", "dev", "run", env=provisioned)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("dev-")


def test_history_of_unknown_operation_is_an_error(provisioned: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["history", "nope", "--local", "--env", "dev"])
    assert result.exit_code == 1
    assert "no audit items" in result.stderr


def test_demo_end_to_end(tmp_path: Path) -> None:
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path), "TMPDIR": str(tmp_path)}
    done = cli_run("demo", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    for state in TASK_STATES:
        assert state in output
    assert "refresh SUCCEEDED" in output
    assert "Audit trail" in output and "notify-success" in output
    assert "SNS" in output and "SUCCEEDED: dev-orders refreshed" in output
    assert "demo finished" in output
    # the private sandbox is gone: no state file left, no server process, no open port
    for state_file in tmp_path.glob("aurora-restore-demo-*/sandbox.json"):
        pytest.fail(f"sandbox state left behind: {state_file}")
    ports = [int(port) for port in re.findall(r"sandbox on http://127\.0\.0\.1:(\d+)", output)]
    assert ports
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", ports[0])) != 0
    left = subprocess.run(["pgrep", "-f", f"sandbox_server {tmp_path}"], capture_output=True)
    assert left.returncode == 1, left.stdout
