"""The fast paths end to end (issue 18): a copy-on-write clone and a point-in-time restore of
the production cluster instead of a snapshot copy and restore, on our real definition run by
moto's interpreter with the AWS-rules layer and the ownership rule on. What the pipeline asks
AWS is recorded at the client (every RDS request of every step, whatever thread runs it).

Everything after the restore is the snapshot path's (instances, password, users, masking, the
PII gate, verify, swap, delete); its failure paths run for every path in test_never_lose.py
and test_recovery.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.client
import pytest

from handlers.lib import naming, secrets

from . import support
from .support import SOURCE, TARGET, World

pytestmark = pytest.mark.usefixtures("router")

SNAPSHOT_CALLS = {"CopyDBClusterSnapshot", "RestoreDBClusterFromSnapshot"}


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(operation, parameters) of every RDS request any client makes during the test."""
    seen: list[tuple[str, dict[str, Any]]] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: Any) -> Any:
        if client.meta.service_model.service_name == "rds":
            seen.append((operation, dict(params)))
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield seen


def named(requests: list[tuple[str, dict[str, Any]]], operation: str) -> list[dict[str, Any]]:
    return [params for name, params in requests if name == operation]


def trail(operation_id: str) -> list[dict[str, Any]]:
    return sorted(support.audit_items(operation_id), key=lambda item: item["timestamp"])


def facts_of(world: World) -> tuple[str, dict[str, Any]]:
    sent = support.notifications(world.topic_arn)[-1]
    return sent["subject"], dict(json.loads(sent["message"].split("\n\n", 1)[1]))


def run_path(
    world: World,
    path: str,
    name: str,
    request: dict[str, Any] | None = None,
    seen: list[tuple[str, dict[str, Any]]] | None = None,
    **target: Any,
) -> dict[str, Any]:
    """Deploy for `path` and run; `seen` (the recorded requests) is cleared first: what the
    test set up is not the pipeline's."""
    settings = support.path_settings(world, path, **target)
    machine = support.deploy(world, settings=settings)
    if seen is not None:
        seen.clear()
    return support.run(
        machine, name, {"snapshot_id": None, "requested_by": "tests", **(request or {})}
    )


def test_a_clone_refresh_clones_the_source_and_copies_no_snapshot(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    support.add_same_region_source(world)
    source_before = support.source_fingerprint()
    execution = run_path(world, "clone", "clone-1", seen=requests)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")

    (clone,) = named(requests, "RestoreDBClusterToPointInTime")
    assert clone["RestoreType"] == "copy-on-write" and clone["UseLatestRestorableTime"] is True
    assert clone["SourceDBClusterIdentifier"] == SOURCE and "RestoreToTime" not in clone
    assert clone["DBClusterIdentifier"] == naming.staging_cluster_id(TARGET, "clone-1")
    assert clone["DeletionProtection"] is False and "EngineVersion" not in clone
    assert {t["Key"] for t in clone["Tags"]} >= {"aurora-restore:operation"}
    assert not {name for name, _ in requests} & SNAPSHOT_CALLS
    # Nothing of the source changed; the refreshed target has this run's password, not its.
    assert support.source_fingerprint() == source_before
    assert support.master_password_of(TARGET) != support.PROD_MASTER_PASSWORD
    current = support.client("secretsmanager").get_secret_value(SecretId=support.MASTER_SECRET)
    assert json.loads(current["SecretString"])["password"] == support.master_password_of(TARGET)
    assert current["VersionId"] == secrets.master_version_id("clone-1")

    steps = [(i["step"], i["status"]) for i in trail("clone-1")]
    assert ("choose-source", "SUCCEEDED") in steps and ("find-snapshot", "SUCCEEDED") not in steps
    assert not {s for s, _ in steps} & {"find-snapshot", "copy-snapshot", "check-copy"}
    chosen = next(i for i in trail("clone-1") if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "clone" and chosen["reason"] == "source.restore_from: clone"
    restored = next(i for i in trail("clone-1") if i["step"] == "restore-cluster")["details"]
    assert restored["path"] == "clone" and restored["source"] == SOURCE
    subject, facts = facts_of(world)
    assert subject == f"aurora-restore [dev] SUCCEEDED: {TARGET} refreshed from a clone of {SOURCE}"
    assert facts["restored_from"] == "clone" and facts["source_snapshot"] is None
    assert json.loads(execution["output"])["result"]["restored_from"] == "clone"
    entered = support.entered_states(execution["executionArn"])
    assert "CloneReady" in entered and "ClusterReady" not in entered


def test_a_point_in_time_refresh_carries_the_time_asked_for(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    support.add_same_region_source(world)
    support.age_source(hours=3)
    moment = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
    asked = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    execution = run_path(world, "point_in_time", "pitr-1", {"to_time": asked}, requests)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    (restore,) = named(requests, "RestoreDBClusterToPointInTime")
    assert restore["RestoreType"] == "full-copy" and restore["RestoreToTime"] == moment
    assert "UseLatestRestorableTime" not in restore
    assert not {name for name, _ in requests} & SNAPSHOT_CALLS
    chosen = next(i for i in trail("pitr-1") if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "point_in_time" and chosen["to_time"] == asked
    assert chosen["reason"] == f"a point in time ({asked}) is asked for"
    assert float(chosen["rpo_seconds"]) >= 0
    subject, facts = facts_of(world)
    assert subject.endswith(f"refreshed from {SOURCE} at {asked}")
    assert facts["restored_to_time"] == asked and facts["restored_from"] == "point_in_time"
    assert support.master_password_of(TARGET) != support.PROD_MASTER_PASSWORD


def test_a_time_outside_the_window_is_refused_before_anything_is_created(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    support.add_same_region_source(world)
    support.age_source(hours=2)
    clusters_before = support.cluster_ids()
    too_early = (datetime.now(timezone.utc) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    execution = run_path(
        world, "point_in_time", "pitr-early", {"to_time": too_early}, requests
    )
    assert execution["status"] == "FAILED" and execution["error"] == "RestoreTimeOutsideWindow"
    writes = {name for name, _ in requests if not name.startswith(("Describe", "List"))}
    assert writes == set(), writes  # not one RDS write: nothing was created, nothing undone
    assert support.cluster_ids() == clusters_before and support.lock_item() is None
    failed = next(i for i in trail("pitr-early") if i["step"] == "choose-source")
    assert failed["status"] == "FAILED"
    assert "outside prod-orders's restorable window" in failed["details"]["message"]
    _, facts = facts_of(world)
    assert facts["error"] == "RestoreTimeOutsideWindow" and facts["undone"] == []


AUTO_HERE = ["snapshot", "clone", "point_in_time"]  # Settings.restore_paths: same region, account


def test_auto_clones_a_same_region_source(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    support.add_same_region_source(world)
    here = support.path_settings(world, "clone")
    here["source"].update(restore_from="auto", restore_paths=AUTO_HERE)
    machine = support.deploy(world, settings=here)
    requests.clear()
    assert support.run(machine, "auto-here")["status"] == "SUCCEEDED"
    chosen = next(i for i in trail("auto-here") if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "clone" and chosen["configured"] == "auto"
    assert chosen["reason"].startswith(f"auto: the source {SOURCE} is in {support.REGION}")
    assert len(named(requests, "RestoreDBClusterToPointInTime")) == 1
    assert not {name for name, _ in requests} & SNAPSHOT_CALLS


def test_auto_copies_a_snapshot_from_another_region(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    elsewhere = support.make_settings(world.target_kms, world.source_kms)
    elsewhere["source"].update(restore_from="auto", restore_paths=["snapshot"])
    machine = support.deploy(world, settings=elsewhere)
    assert support.run(machine, "auto-elsewhere")["status"] == "SUCCEEDED"
    chosen = next(i for i in trail("auto-elsewhere") if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "snapshot"
    assert "us-west-2" in chosen["reason"] and "clones only within a region" in chosen["reason"]
    assert named(requests, "RestoreDBClusterToPointInTime") == []
    assert named(requests, "CopyDBClusterSnapshot") and named(requests, "RestoreDBClusterFromSnapshot")


def test_auto_falls_back_to_a_snapshot_when_the_source_cannot_be_cloned(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    """A same-region source without an instance cannot be cloned (AWS): auto says so and
    restores a snapshot (in place: same region and account)."""
    local = support.add_same_region_source(world)
    support.rds().delete_db_instance(DBInstanceIdentifier=f"{SOURCE}-1")
    support.rds().create_db_cluster_snapshot(
        DBClusterIdentifier=SOURCE, DBClusterSnapshotIdentifier="prod-orders-here-1"
    )
    settings = support.path_settings(world, "clone")
    settings["source"].update(restore_from="auto", restore_paths=AUTO_HERE)
    assert local["kms"] == settings["source"]["kms_key_id"]
    machine = support.deploy(world, settings=settings)
    requests.clear()
    execution = support.run(machine, "auto-fallback")
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    chosen = next(i for i in trail("auto-fallback") if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "snapshot" and "has no DB instance" in chosen["reason"]
    assert named(requests, "RestoreDBClusterToPointInTime") == []


def test_a_path_the_config_does_not_allow_is_refused(world: World) -> None:
    execution = run_path(world, "clone", "clone-given-snapshot", {"snapshot_id": world.snapshot_id})
    assert execution["status"] == "FAILED" and execution["error"] == "RestorePathRefused"
    failed = next(i for i in trail("clone-given-snapshot") if i["step"] == "choose-source")
    assert "source.restore_from is clone" in failed["details"]["message"]
    assert support.cluster_ids() == {TARGET, SOURCE}


def test_a_serverless_target_from_a_clone(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    scaling = {"min_capacity": 0.5, "max_capacity": 4}
    execution = run_path(
        world,
        "clone",
        "clone-serverless",
        seen=requests,
        instance_class="db.serverless",
        serverless=scaling,
    )
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    (clone,) = named(requests, "RestoreDBClusterToPointInTime")
    assert clone["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4.0}
    (instance,) = named(requests, "CreateDBInstance")
    assert instance["DBInstanceClass"] == "db.serverless"


def test_a_cross_account_clone_of_a_cluster_shared_through_ram(
    world: World, requests: list[tuple[str, dict[str, Any]]]
) -> None:
    import os

    other = "222222222222"
    os.environ["MOTO_ACCOUNT_ID"] = other
    try:
        key = support.client("kms").create_key()["KeyMetadata"]["Arn"]
        cluster = support.create_cluster(
            SOURCE, support.REGION, tags=[], kms=key, password=support.PROD_MASTER_PASSWORD
        )
        support.client("ram").create_resource_share(
            name="prod-orders", resourceArns=[cluster["DBClusterArn"]], principals=[support.ACCOUNT]
        )
    finally:
        del os.environ["MOTO_ACCOUNT_ID"]
    settings = support.make_settings(world.target_kms, key)
    settings["source"].update(
        region=support.REGION, account_id=other, restore_from="auto",
        restore_paths=["snapshot", "clone"],
    )
    machine = support.deploy(world, settings=settings)
    requests.clear()
    execution = support.run(machine, "clone-shared")
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    (clone,) = named(requests, "RestoreDBClusterToPointInTime")
    assert clone["SourceDBClusterIdentifier"] == cluster["DBClusterArn"]
    assert clone["RestoreType"] == "copy-on-write" and clone["KmsKeyId"] == world.target_kms
    described = named(requests, "DescribeDBClusters")
    assert {"DBClusterIdentifier": cluster["DBClusterArn"], "IncludeShared": True} in described
    chosen = next(i for i in trail("clone-shared") if i["step"] == "choose-source")["details"]
    assert chosen["path"] == "clone" and "shared with this account" in chosen["reason"]
    assert support.master_password_of(TARGET) != support.PROD_MASTER_PASSWORD
