"""Operating what is deployed, on the sandbox: `logs` (one run's lines across its functions)
and `test-functions` (every function's health check from inside its runtime)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from aurora_restore_cli.sandbox import control as sandbox

from ..conftest import ROOT


def cli_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, **(env or {})})


def local(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return cli_run("--local", "--env", "dev", *args, env=env)


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox of this module's own, without PostgreSQL, seeded and set up for env dev."""
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path_factory.mktemp("operate-sandbox")),
           "AURORA_RESTORE_SANDBOX_POSTGRES": "off"}
    try:
        for args in (["sandbox", "seed"], ["setup"]):
            done = local(*args, env=env)
            assert done.returncode == 0, done.stderr
        yield env
    finally:
        saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        sandbox.stop()
        if saved is None:
            os.environ.pop("AURORA_RESTORE_SANDBOX_DIR", None)
        else:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def run_to_the_end(env: dict[str, str]) -> dict[str, Any]:
    done = local("run", "--wait", "--skip-preflight", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


# --- logs ------------------------------------------------------------------------------------


def test_logs_of_a_run_hold_every_step_that_ran_labelled_and_no_other_run(
    provisioned: dict[str, str]
) -> None:
    first = run_to_the_end(provisioned)["operation_id"]
    second = run_to_the_end(provisioned)["operation_id"]

    done = local("logs", first, "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    lines = json.loads(done.stdout)["lines"]
    assert {line["operation_id"] for line in lines} == {first}
    assert not any(second in json.dumps(line) for line in lines)
    trail = json.loads(local("history", first, "-o", "json", env=provisioned).stdout)["events"]
    # every step that ran wrote its audit item (and notify-success the run's summary item)
    ran = {event["step"] for event in trail} - {"pipeline"}
    assert {line["step"] for line in lines} == ran
    for step in ran:  # each step: when it started, and how it ended
        messages = [line["message"] for line in lines if line["step"] == step]
        assert "started" in messages and ({"SUCCEEDED", "SKIPPED"} & set(messages)), step
    assert [line["time"] for line in lines] == sorted(line["time"] for line in lines)

    text = local("logs", first, env=provisioned)
    assert text.returncode == 0, text.stderr
    printed = text.stdout.splitlines()
    assert len(printed) == len(lines)
    assert all(line.split()[1] in ran for line in printed)  # time, step, level, message
    assert any("find-snapshot" in line and "SUCCEEDED" in line and "prod-orders-sandbox-seed"
               in line for line in printed)
    assert all(line == line.rstrip() for line in printed)

    latest = local("logs", "-o", "json", env=provisioned)  # no OP_ID: the latest run
    assert json.loads(latest.stdout)["run"]["operation_id"] == second
    assert f"latest run: {second} (refresh, SUCCEEDED)" in local("logs", env=provisioned).stderr


def test_logs_of_one_step_and_of_a_step_that_does_not_exist(provisioned: dict[str, str]) -> None:
    operation = run_to_the_end(provisioned)["operation_id"]
    done = local("logs", operation, "--step", "check_restore", "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    lines = json.loads(done.stdout)["lines"]
    assert {line["step"] for line in lines} == {"check-restore"}
    # one function serves three wait loops: each outcome says which
    assert {line["details"].get("what") for line in lines if line["message"] == "SUCCEEDED"} == {
        "restore", "instances", "password"}

    typo = local("logs", operation, "--step", "find-snapshots", env=provisioned)
    assert typo.returncode == 2
    assert "no step 'find-snapshots'; steps: " in typo.stderr and "find-snapshot" in typo.stderr

    unknown = local("logs", "dev-20200101-000000-abcdef", "-o", "json", env=provisioned)
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["error"] == (
        "no run dev-20200101-000000-abcdef in env dev; see `aurora-restore executions`")


def test_logs_follow_a_run_to_its_end(provisioned: dict[str, str]) -> None:
    started = local("run", "--skip-preflight", "-o", "json", env=provisioned)
    assert started.returncode == 0, started.stderr
    operation = json.loads(started.stdout)["operation_id"]
    done = local("logs", operation, "--follow", "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["run"]["status"] == "SUCCEEDED"
    steps = [line["step"] for line in result["lines"]]
    assert steps[0] == "acquire-lock" and steps[-1] == "notify-success"
    assert len({(line["time"], line["step"], line["message"]) for line in result["lines"]}) == len(
        steps)  # each line once, however many passes read it
