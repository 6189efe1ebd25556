"""`drill` and `drills` on the sandbox (a real moto server process executing our drill
definition), as subprocesses and through CliRunner: `--local drill --env dev --wait` exits 0
after `sandbox seed` and `setup` and leaves no drill cluster or snapshot; `drills` shows the
RTO; `history` shows the drill's audit trail; a failing drill exits 1 and still cleans up."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.sandbox import control as sandbox

from .test_runs import cli_run

PHASES = ["copy", "restore", "instances", "verification"]


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox of this module's own, seeded and set up for env dev."""
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path_factory.mktemp("drill-sandbox"))}
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


def rds() -> Any:
    box = sandbox.find()
    assert box is not None
    return boto3.client(
        "rds",
        region_name="us-east-1",
        endpoint_url=box.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def world() -> dict[str, Any]:
    """What the sandbox's target region holds: clusters, instances, snapshots."""
    client = rds()
    target = client.describe_db_clusters(DBClusterIdentifier="dev-orders")["DBClusters"][0]
    target.pop("LatestRestorableTime", None)
    return {
        "clusters": sorted(
            c["DBClusterIdentifier"] for c in client.describe_db_clusters()["DBClusters"]
        ),
        "instances": sorted(
            i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]
        ),
        "snapshots": sorted(
            s["DBClusterSnapshotIdentifier"]
            for s in client.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        ),
        "target": json.loads(json.dumps(target, default=str)),
    }


def test_local_drill_waits_exits_0_and_leaves_nothing(provisioned: dict[str, str]) -> None:
    before = world()
    done = cli_run("--local", "--env", "dev", "drill", "--wait", "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    operation = result["operation_id"]
    assert operation.startswith("dev-drill-")
    summary = result["drill"]
    assert summary["drill_cluster_id"].startswith("dev-orders-drill-")
    assert summary["snapshot_id"] == "prod-orders-sandbox-seed"
    assert set(summary["phases"]) == set(PHASES) and summary["rto_seconds"] > 0
    assert summary["cleanup"]["done"] is True
    # Nothing of the drill is left (cluster, instances, copy, automated backups) and the target
    # is exactly as it was.
    assert world() == before

    listed = CliRunner().invoke(cli, ["drills", "--local", "--env", "dev", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["operation_id"]: r for r in json.loads(listed.stdout)["drills"]}
    row = rows[operation]
    assert row["status"] == "SUCCEEDED" and row["snapshot"] == "prod-orders-sandbox-seed"
    assert row["rto_seconds"] == summary["rto_seconds"]
    assert set(row["phases"]) == set(PHASES) and all(v is not None for v in row["phases"].values())

    text = cli_run("--local", "--env", "dev", "drills", env={**provisioned, "COLUMNS": "200"})
    assert text.returncode == 0, text.stderr
    line = next(line for line in text.stdout.splitlines() if operation in line)
    assert "SUCCEEDED" in line and f"{summary['rto_seconds']:.1f}s" in line

    trail = CliRunner().invoke(cli, ["history", operation, "--local", "--env", "dev", "-o", "json"])
    assert trail.exit_code == 0, trail.output
    steps = [e["step"] for e in json.loads(trail.stdout)["events"]]
    assert steps[0] == "drill-prepare" and steps[-1] == "notify-success"
    assert steps.count("drill-phase") == 4 and "drill" in steps


def test_a_failing_drill_exits_1_names_the_error_and_cleans_up(
    provisioned: dict[str, str],
) -> None:
    before = world()
    done = cli_run(
        "--local",
        "--env",
        "dev",
        "drill",
        "--snapshot",
        "no-such-snapshot",
        "--skip-preflight",  # the execution's own failure path, not the preflight's refusal
        "--wait",
        "-o",
        "json",
        env=provisioned,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED"
    assert result["failure"]["error"] == "SnapshotNotFound"
    assert result["failure"]["step"] == "find-snapshot"  # as the audit trail names it
    assert "SnapshotNotFound" in done.stderr
    assert world() == before
    listed = CliRunner().invoke(cli, ["drills", "--local", "--env", "dev", "-o", "json"])
    row = next(
        r
        for r in json.loads(listed.stdout)["drills"]
        if r["operation_id"] == result["operation_id"]
    )
    assert (row["status"], row["error"], row["rto_seconds"]) == ("FAILED", "SnapshotNotFound", None)


def test_preflight_refuses_a_drill_that_would_fail_and_starts_nothing(
    provisioned: dict[str, str],
) -> None:
    before, drills_before = world(), listed_drills()
    done = cli_run(
        "--local", "--env", "dev", "drill", "--snapshot", "no-such-snapshot", "-o", "json",
        env=provisioned,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "preflight failed: snapshot: source snapshot" in done.stderr
    document = json.loads(done.stdout)
    assert document["command"] == "drill" and document["ok"] is False
    areas = {c["area"] for c in document["checks"]}
    assert "target" not in areas  # a drill never touches the target: its checks do not apply
    assert {"setup", "snapshot", "database"} <= areas
    failed = [c for c in document["checks"] if c["status"] == "fail"]
    assert [(c["area"], c["name"]) for c in failed] == [("snapshot", "source snapshot")]
    assert "SnapshotNotFound" in failed[0]["detail"]
    assert world() == before and listed_drills() == drills_before  # nothing started


def test_a_drill_runs_preflight_without_the_target_checks(provisioned: dict[str, str]) -> None:
    """The target's managed tag removed: a refresh's preflight fails on it, a drill's does
    not look at the target at all."""
    client = rds()
    arn = client.describe_db_clusters(DBClusterIdentifier="dev-orders")["DBClusters"][0][
        "DBClusterArn"
    ]
    tags = client.list_tags_for_resource(ResourceName=arn)["TagList"]
    client.remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-restore:env"])
    try:
        refresh = cli_run("--local", "--env", "dev", "preflight", env=provisioned)
        assert refresh.returncode == 1 and "target: tagged as ours" in refresh.stderr
        done = cli_run("--local", "--env", "dev", "drill", "--wait", env=provisioned)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "preflight:" in done.stderr and "checks passed" in done.stderr
    finally:
        client.add_tags_to_resource(ResourceName=arn, Tags=tags)


def listed_drills() -> list[str]:
    listed = CliRunner().invoke(cli, ["drills", "--local", "--env", "dev", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    return sorted(r["operation_id"] for r in json.loads(listed.stdout)["drills"])


def test_keep_minutes_out_of_range_is_bad_usage(provisioned: dict[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["drill", "--keep-minutes", "100000", "--local", "--env", "dev"]
    )
    assert result.exit_code == 2
    assert "--keep-minutes" in result.output


def test_drills_before_setup_says_what_to_do(reset_moto: str, moto_config_dir: Any) -> None:
    result = CliRunner().invoke(
        cli,
        ["drills", "--env", "dev", "--config-dir", str(moto_config_dir),
         "--endpoint-url", reset_moto],
    )
    assert result.exit_code == 1, result.output
    assert "no restore drill state machine (aurora-restore-drill-dev)" in result.stderr
    assert "setup --env dev" in result.stderr
