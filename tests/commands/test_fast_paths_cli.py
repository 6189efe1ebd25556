"""The fast paths from the CLI on the sandbox (issue 18's "done when"): a config whose source
is in the target's region (the shipped staging.yaml: the sandbox maps its accounts to one).
`run --wait` with `restore_from: clone` clones the source (the moto server's own recording of
every request shows a copy-on-write RestoreDBClusterToPointInTime of prod-orders, and no
snapshot copy or restore); with `auto` it clones and says why; `--to-time` carries the time;
a time outside the source's restorable window is refused before anything starts;
`drill --from point_in_time` reports production's RPO. The shipped cross-region dev.yaml
restores a snapshot under auto (tests/commands/test_runs.py)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
import yaml

from aurora_restore_cli.sandbox import control as sandbox

from ..conftest import CONFIG_DIR, ROOT

# staging: restore_from clone; qa: a copy of staging with auto (another target, same sandbox)
ENVS = {"staging": "clone", "qa": "auto"}


def cli_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env={**os.environ, **env})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One sandbox (no PostgreSQL: the database steps are skipped) with staging and qa seeded
    and set up, recording every request the moto server answers."""
    root = tmp_path_factory.mktemp("fast-paths")
    config_dir = root / "config"
    shutil.copytree(CONFIG_DIR, config_dir)
    for env, restore_from in ENVS.items():
        data = yaml.safe_load((CONFIG_DIR / "staging.yaml").read_text())
        data["environment"] = env
        data["target"]["cluster_id"] = f"{env}-orders"
        data["target"]["subnet_group"] = f"{env}-db-subnets"
        data["notifications"]["kms_key_id"] = f"alias/aurora-restore-{env}-notifications"
        data["source"]["restore_from"] = restore_from
        data["drill"] = {"checks_sql": None, "rpo_alarm_minutes": 60}
        (config_dir / f"{env}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    recording = root / "recording.jsonl"
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(root / "sandbox"),
           "AURORA_RESTORE_SANDBOX_POSTGRES": "off", "MOTO_RECORDER_FILEPATH": str(recording)}
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
    try:
        for name in ENVS:
            for args in (["sandbox", "seed"], ["setup"]):
                done = cli_run("--local", "--env", name, "--config-dir", str(config_dir), *args,
                               env=env)
                assert done.returncode == 0, done.stderr
        box = sandbox.find()
        assert box is not None
        yield {"env": env, "config_dir": config_dir, "recording": recording, "url": box.url}
    finally:
        sandbox.stop()
        if saved is None:
            os.environ.pop("AURORA_RESTORE_SANDBOX_DIR", None)
        else:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def local(world: dict[str, Any], env: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cli_run("--local", "--env", env, "--config-dir", str(world["config_dir"]), *args,
                   env=world["env"])


def recorded(world: dict[str, Any], run: Any) -> list[dict[str, list[str]]]:
    """The RDS (query protocol) requests the server answered while `run()` ran."""
    def post(what: str) -> None:
        request = urllib.request.Request(f"{world['url']}/moto-api/recorder/{what}", method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    world["recording"].unlink(missing_ok=True)
    post("start-recording")
    try:
        run()
    finally:
        post("stop-recording")
    found = []
    lines = world["recording"].read_text().splitlines() if world["recording"].exists() else []
    for line in lines:
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        params = parse_qs(body)
        if params.get("Version") == ["2014-10-31"]:  # RDS
            found.append(params)
    return found


def actions(requests: list[dict[str, list[str]]], name: str) -> list[dict[str, list[str]]]:
    return [r for r in requests if r.get("Action") == [name]]


def rds(world: dict[str, Any]) -> Any:
    return boto3.client("rds", region_name="us-east-1", endpoint_url=world["url"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_run_wait_with_restore_from_clone_clones_the_source(world: dict[str, Any]) -> None:
    result: dict[str, Any] = {}

    def run() -> None:
        result["done"] = local(world, "staging", "run", "--wait", "-o", "json")

    requests = recorded(world, run)
    done = result["done"]
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["status"] == "SUCCEEDED"
    assert output["restored_from"] == {
        "path": "clone", "reason": "source.restore_from: clone", "source": "prod-orders"
    }
    (clone,) = actions(requests, "RestoreDBClusterToPointInTime")
    assert clone["RestoreType"] == ["copy-on-write"]
    assert clone["UseLatestRestorableTime"] == ["true"]
    assert clone["SourceDBClusterIdentifier"] == ["prod-orders"]
    assert clone["DBClusterIdentifier"][0].startswith("staging-orders-stg-")
    assert "RestoreToTime" not in clone
    assert actions(requests, "CopyDBClusterSnapshot") == []
    assert actions(requests, "RestoreDBClusterFromSnapshot") == []
    # the source is only read
    writes = {r["Action"][0] for r in requests
              if "prod-orders" in r.get("DBClusterIdentifier", [])}
    assert writes <= {"DescribeDBClusters"}, writes


def test_auto_clones_a_same_region_source_and_says_why(world: dict[str, Any]) -> None:
    done = local(world, "qa", "run", "--wait")
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    reason = "auto: the source prod-orders is in us-east-1 like the target"
    assert f"restores from: clone: {reason}" in " ".join(said.split())  # before it starts
    assert "a clone of prod-orders → qa-orders" in said  # and when it is done
    latest = json.loads(local(world, "qa", "executions", "-o", "json").stdout)["executions"][0]
    trail = json.loads(local(world, "qa", "history", latest["operation_id"], "-o", "json").stdout)
    chosen = next(i for i in trail["events"] if i["step"] == "choose-source")
    assert chosen["details"]["path"] == "clone" and chosen["details"]["configured"] == "auto"


def test_to_time_carries_the_time_and_one_outside_the_window_starts_nothing(
    world: dict[str, Any],
) -> None:
    window = rds(world).describe_db_clusters(DBClusterIdentifier="prod-orders")["DBClusters"][0]
    earliest = window["EarliestRestorableTime"].astimezone(timezone.utc)
    moment = (earliest + timedelta(seconds=2)).replace(microsecond=0)
    asked = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = {}

    def run() -> None:
        result["done"] = local(world, "qa", "run", "--to-time", asked, "--wait", "-o", "json")

    requests = recorded(world, run)
    done = result["done"]
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["restored_from"] == {
        "path": "point_in_time", "reason": f"a point in time ({asked}) is asked for",
        "source": "prod-orders", "to_time": asked,
        "rpo_seconds": output["restored_from"]["rpo_seconds"],
    }
    (restore,) = actions(requests, "RestoreDBClusterToPointInTime")
    assert restore["RestoreType"] == ["full-copy"] and "UseLatestRestorableTime" not in restore
    assert datetime.fromisoformat(restore["RestoreToTime"][0].replace("Z", "+00:00")) == moment

    before = json.loads(local(world, "qa", "executions", "-o", "json").stdout)["executions"]
    too_early = (earliest - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    refused = local(world, "qa", "run", "--to-time", too_early, "--wait")
    assert refused.returncode == 1
    assert "RestoreTimeOutsideWindow" in refused.stderr and "restorable window" in refused.stderr
    after = json.loads(local(world, "qa", "executions", "-o", "json").stdout)["executions"]
    assert len(after) == len(before)  # nothing started, nothing created

    bad = local(world, "qa", "run", "--to-time", "yesterday")
    assert bad.returncode == 2 and "ISO-8601" in bad.stderr
    no_pitr = local(world, "staging", "run", "--to-time", "latest")  # restore_from: clone
    assert no_pitr.returncode == 2 and "allows clone only" in no_pitr.stderr


def test_drill_from_point_in_time_reports_the_rpo(world: dict[str, Any]) -> None:
    done = local(world, "qa", "drill", "--from", "point_in_time", "--wait", "-o", "json")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["status"] == "SUCCEEDED"
    summary = output["drill"]
    assert summary["restored_from"] == "point_in_time"
    assert isinstance(summary["rpo_seconds"], (int, float)) and summary["rpo_seconds"] >= 0
    listed = json.loads(local(world, "qa", "drills", "-o", "json").stdout)["drills"]
    mine = next(d for d in listed if d["operation_id"] == output["operation_id"])
    assert mine["restored_from"] == "point_in_time" and mine["rpo_seconds"] is not None
    text = local(world, "qa", "drills")
    assert "RPO" in text.stdout
    metrics = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=world["url"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    names = {m["MetricName"] for m in metrics.list_metrics(Namespace="AuroraRestore")["Metrics"]}
    assert "DrillRpoSeconds" in names
    alarms = metrics.describe_alarms(AlarmNames=["aurora-restore-drill-rpo-qa"])["MetricAlarms"]
    assert alarms and alarms[0]["MetricName"] == "DrillRpoSeconds"


def test_clone_share_prints_the_production_commands(world: dict[str, Any]) -> None:
    done = local(world, "staging", "clone-share", "-o", "json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["cluster_arn"].endswith(":cluster:prod-orders")
    assert any(c.startswith("aws ram create-resource-share") for c in found["production_commands"])
    assert found["key_statement"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "rds.us-east-1.amazonaws.com"}
    }


def test_the_shipped_configs_paths(world: dict[str, Any]) -> None:
    """auto on the shipped dev.yaml (source in us-west-2) can only restore a snapshot; the
    preflight row says so, without any AWS call needed to know it."""
    done = local(world, "dev", "run", "--to-time", "latest")
    assert done.returncode == 2 and "allows snapshot only" in done.stderr


def test_a_full_clone_group_refuses_a_clone_naming_the_quota(world: dict[str, Any]) -> None:
    """The sandbox counts the source's clone group as AWS does (CloneGroupId): with 15 clones
    of prod-orders there, `run` with restore_from clone is refused by preflight, naming the
    quota, and starts nothing; `auto` would restore a snapshot instead, and says why."""
    client = rds(world)

    def clone(name: str) -> None:
        client.restore_db_cluster_to_point_in_time(
            DBClusterIdentifier=name, SourceDBClusterIdentifier="prod-orders",
            RestoreType="copy-on-write", UseLatestRestorableTime=True)

    staged = ["prod-orders-busy-0"]
    clone(staged[0])
    source = client.describe_db_clusters(DBClusterIdentifier="prod-orders")["DBClusters"][0]
    group = [c for c in client.describe_db_clusters()["DBClusters"]
             if c.get("CloneGroupId") == source["CloneGroupId"]
             and c["DBClusterIdentifier"] != "prod-orders"]
    try:
        for n in range(1, 16 - len(group)):
            staged.append(f"prod-orders-busy-{n}")
            clone(staged[-1])
        before = json.loads(local(world, "staging", "executions", "-o", "json").stdout)
        refused = local(world, "staging", "run", "--wait")
        assert refused.returncode == 1
        said = " ".join(refused.stderr.split())
        assert "copy-on-write clones of the source (ClonesPerSource): 15 of 15 used, the run " \
               "needs 1 more" in said
        after = json.loads(local(world, "staging", "executions", "-o", "json").stdout)
        assert len(after["executions"]) == len(before["executions"])  # nothing started

        checked = json.loads(local(world, "qa", "preflight", "-o", "json").stdout)
        (path,) = [c for c in checked["checks"] if c["name"] == "restore path"]
        assert path["status"] == "pass" and path["detail"].startswith("snapshot: auto: no clone")
        assert "ClonesPerSource): 15 of 15 used" in path["detail"]
    finally:
        for name in staged:
            client.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
