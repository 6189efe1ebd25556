"""Operating what is deployed, on the sandbox: `logs` (one run's lines across its functions)
and `test-functions` (every function's health check from inside its runtime)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_restore_cli.contract.naming import step_function_name
from aurora_restore_cli.sandbox import control as sandbox
from handlers import DATABASE_STEPS, FUNCTIONS

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


# --- test-functions ----------------------------------------------------------------------------


def sandbox_client(env: dict[str, str], service: str) -> Any:
    import boto3

    state = json.loads((Path(env["AURORA_RESTORE_SANDBOX_DIR"]) / "sandbox.json").read_text())
    return boto3.client(service, endpoint_url=state["url"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def audit_items(env: dict[str, str]) -> int:
    table = "aurora-restore-audit-dev"
    return int(sandbox_client(env, "dynamodb").scan(TableName=table, Select="COUNT")["Count"])


def test_every_function_answers_its_health_check(provisioned: dict[str, str]) -> None:
    before = audit_items(provisioned)
    done = local("test-functions", "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is True
    rows = {row["function"]: row for row in result["functions"]}
    assert set(rows) == {f"aurora-restore-{step_function_name(f)}-dev" for f in FUNCTIONS}
    assert {(r["code"], r["environment"], r["role"]) for r in rows.values()} == {
        ("pass", "pass", "pass")}
    assert rows["aurora-restore-check-target-dev"]["action"] == "rds:DescribeDBClusters"
    assert rows["aurora-restore-recover-execution-dev"]["action"] == "states:DescribeExecution"
    assert {rows[f"aurora-restore-{step_function_name(s)}-dev"]["database"]
            for s in DATABASE_STEPS} == {"skipped"}  # this sandbox has no PostgreSQL
    assert audit_items(provisioned) == before  # it changes nothing

    text = local("test-functions", env=provisioned)
    assert text.returncode == 0, text.stderr
    assert len([line for line in text.stdout.splitlines() if "aurora-restore-" in line]) == len(
        FUNCTIONS)
    assert f"all {len(FUNCTIONS)} functions healthy" in text.stderr


def test_a_role_without_an_rds_action_fails_the_functions_that_need_it(
    provisioned: dict[str, str]
) -> None:
    """moto does not enforce IAM: the sandbox decides the probe against the role's policies."""
    iam, role = sandbox_client(provisioned, "iam"), "aurora-restore-lambda-role-dev"
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for statement in document["Statement"]:
            if statement.get("Sid") == "RdsDescribe":
                statement["Action"].remove("rds:DescribeDBInstances")
                iam.put_role_policy(RoleName=role, PolicyName=name,
                                    PolicyDocument=json.dumps(document))
    try:
        done = local("test-functions", "-o", "json", env=provisioned)
        assert done.returncode == 1
        result = json.loads(done.stdout)
        failed = {row["function"]: row for row in result["functions"] if not row["ok"]}
        assert set(failed) == {"aurora-restore-create-instances-dev"}
        assert failed["aurora-restore-create-instances-dev"]["role"] == "fail"
        assert "rds:DescribeDBInstances" in result["error"]
        assert result["error"].startswith(
            f"1 of {len(FUNCTIONS)} functions failed their health check: aurora-restore-create-instances-dev: "
            "role: AccessDenied")
    finally:
        assert local("setup", "roles", env=provisioned).returncode == 0  # put it back
    assert local("test-functions", env=provisioned).returncode == 0


def test_a_function_whose_code_is_not_what_setup_packages_is_stale(
    provisioned: dict[str, str]
) -> None:
    from aurora_restore_cli.documents.packaging import MANIFEST_NAME, deterministic_zip

    lam = sandbox_client(provisioned, "lambda")
    name = "aurora-restore-finalize-dev"
    old = {MANIFEST_NAME: json.dumps({"step": "finalize", "code_hash": "0" * 64}).encode(),
           "handlers/finalize.py": b"# an older release\n"}
    lam.update_function_code(FunctionName=name, ZipFile=deterministic_zip(old))
    try:
        done = local("test-functions", "-o", "json", env=provisioned)
        assert done.returncode == 1
        (row,) = [r for r in json.loads(done.stdout)["functions"] if not r["ok"]]
        assert (row["function"], row["code"]) == (name, "stale")
        assert "run `aurora-restore deploy-lambdas`" in row["problems"][0]
    finally:
        assert local("deploy-lambdas", env=provisioned).returncode == 0
    assert local("test-functions", env=provisioned).returncode == 0


# --- rough edges on the sandbox --------------------------------------------------------------


def test_recover_of_an_unknown_run_says_so_without_a_traceback(provisioned: dict[str, str]) -> None:
    done = local("recover", "dev-20200101-000000-abcdef", "-o", "json", env=provisioned)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert result["error"] == (
        "no run dev-20200101-000000-abcdef in env dev; see `aurora-restore executions`")
    assert result["exit_code"] == 1
    text = local("recover", "dev-20200101-000000-abcdef", env=provisioned)
    assert text.stderr.strip() == (
        "error: no run dev-20200101-000000-abcdef in env dev; see `aurora-restore executions`")


def test_a_mistyped_snapshot_is_named_not_the_seed(provisioned: dict[str, str]) -> None:
    done = local("run", "--wait", "--skip-preflight", "--snapshot", "nope", env=provisioned)
    assert done.returncode == 1
    assert "SnapshotNotFound" in done.stderr
    assert "is the snapshot id 'nope' right?" in done.stderr
    assert "sandbox seed" not in done.stderr


def test_a_fresh_sandbox_from_before_setup_to_a_clean_stop(tmp_path: Path) -> None:
    """deploy-lambdas before setup creates nothing; Ctrl-C while following a run still prints
    its JSON document; `sandbox stop` stops it cleanly and leaves no temporary files."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path / "state"),
           "AURORA_RESTORE_SANDBOX_POSTGRES": "off", "TMPDIR": str(scratch)}
    try:
        early = local("deploy-lambdas", env=env)
        assert early.returncode == 1
        assert early.stderr.strip().splitlines()[-1] == (
            "error: env dev is not set up in the sandbox: the role aurora-restore-lambda-role-dev "
            "does not exist; run `aurora-restore --local setup --env dev` first")
        logs = sandbox_client(env, "logs").describe_log_groups()["logGroups"]
        assert logs == [] and sandbox_client(env, "lambda").list_functions()["Functions"] == []

        for args in (["sandbox", "seed"], ["setup"]):
            assert local(*args, env=env).returncode == 0
        sfn = sandbox_client(env, "stepfunctions")
        machine = "arn:aws:states:us-east-1:123456789012:stateMachine:aurora-restore-pipeline-dev"
        following = subprocess.Popen(
            [sys.executable, "-m", "aurora_restore_cli", "--local", "--env", "dev", "run",
             "--wait", "--skip-preflight", "-o", "json"], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
        for _ in range(600):  # until the run has started (then the command is following it)
            if sfn.list_executions(stateMachineArn=machine)["executions"]:
                break
            time.sleep(0.05)
        following.send_signal(signal.SIGINT)
        out, _ = following.communicate(timeout=60)
        assert following.returncode == 130
        result = json.loads(out)
        (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
        assert result["operation_id"] == execution["name"]
        assert "still running" in result["message"] and result["status"] == "RUNNING"
        for _ in range(600):  # let it finish: a clean stop is not a stop mid-run
            if sfn.describe_execution(executionArn=execution["executionArn"])["status"] != \
                    "RUNNING":
                break
            time.sleep(0.1)
    finally:
        stopped = cli_run("sandbox", "stop", env=env)
    assert stopped.returncode == 0
    assert stopped.stdout.strip() == "sandbox stopped" and "killed" not in stopped.stderr
    assert not list(scratch.glob("aurora-restore-*"))  # the functions' unpacked files too
