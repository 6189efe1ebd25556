"""`aurora-restore preflight` through the CLI on the sandbox (a moto server process): after
`sandbox seed` and `setup` it exits 0 — what the sandbox cannot answer says so, never a fake
pass — and with the target's managed tag removed it exits 1 naming the target check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from aurora_restore_cli.sandbox import control as sandbox

from ..conftest import ROOT


def cli_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, **env})


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path_factory.mktemp("preflight-sandbox"))}
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
    try:
        for args in (["sandbox", "seed"], ["setup"]):
            done = cli_run("--local", "--env", "dev", *args, env=env)
            assert done.returncode == 0, done.stderr
        yield env
    finally:
        sandbox.stop()
        if saved is not None:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def preflight(env: dict[str, str]) -> tuple[int, dict[str, object], str]:
    done = cli_run("--local", "preflight", "--env", "dev", "-o", "json", env=env)
    return done.returncode, json.loads(done.stdout), done.stderr


def test_preflight_passes_after_seed_and_setup(provisioned: dict[str, str]) -> None:
    code, doc, err = preflight(provisioned)
    assert code == 0, err
    assert doc["command"] == "preflight" and doc["ok"] is True
    checks = doc["checks"]
    assert isinstance(checks, list)
    by_name = {(c["area"], c["name"]): c for c in checks}
    assert {c["status"] for c in checks} <= {"pass", "not checkable"}
    # real answers from the sandbox
    for key in [("setup", "lambdas"), ("setup", "roles"), ("snapshot", "source snapshot"),
                ("target", "tagged as ours"), ("target", "available")]:
        assert by_name[key]["status"] == "pass", by_name[key]
    snapshot = by_name[("snapshot", "source snapshot")]["detail"]
    assert "prod-orders-sandbox-seed" in snapshot and "restored as 15.4" in snapshot
    assert "copied (another region" in snapshot
    db_steps = [c for c in checks if c["area"] == "database"]
    assert len(db_steps) == 5 and all(c["status"] == "pass" for c in db_steps)
    # never a fake pass for what moto cannot answer
    for area in ("account", "kms", "iam", "network", "tls"):
        rows = [c for c in checks if c["area"] == area]
        assert rows and all(c["status"] == "not checkable" for c in rows), area
        assert all("not checkable in the sandbox" in c["detail"] for c in rows)


def test_text_output_is_one_row_per_check(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "preflight", "--env", "dev", env=provisioned)
    assert done.returncode == 0, done.stderr
    assert "Preflight — dev" in done.stdout
    assert "source snapshot" in done.stdout and "not checkable" in done.stdout


def test_preflight_fails_naming_the_target_check_without_the_managed_tag(
    provisioned: dict[str, str],
) -> None:
    from aurora_restore_cli.sandbox.control import find

    box = find()
    assert box is not None
    rds = boto3.client("rds", "us-east-1", endpoint_url=box.url)
    arn = rds.describe_db_clusters(DBClusterIdentifier="dev-orders")["DBClusters"][0][
        "DBClusterArn"
    ]
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-restore:managed-by"])
    try:
        code, doc, err = preflight(provisioned)
    finally:
        rds.add_tags_to_resource(
            ResourceName=arn,
            Tags=[{"Key": "aurora-restore:managed-by", "Value": "aurora-restore"}],
        )
    assert code == 1
    assert doc["ok"] is False
    checks = doc["checks"]
    assert isinstance(checks, list)
    failed = [(c["area"], c["name"]) for c in checks if c["status"] == "fail"]
    assert failed == [("target", "tagged as ours")]
    row = next(c for c in checks if c["name"] == "tagged as ours")
    assert "add-tags-to-resource" in row["fix"]
    assert "preflight failed: target: tagged as ours" in err
