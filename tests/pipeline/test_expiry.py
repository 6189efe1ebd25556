"""What a failed run keeps goes once it expires — only ours, only expired — and our final
snapshots go past their retention (the newest always stays): lib/expiry, run by finalize, the
failure path and recovery. End to end: a failed nightly run's staging cluster is removed by
the next successful run once expired, so failures never accumulate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from handlers.lib import expiry, naming, tags

from . import support
from .support import MANAGED_TAGS, REGION, TARGET, DocumentFactory, World

pytestmark = pytest.mark.usefixtures("router")

PAST = "2020-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


def stg(operation_id: str) -> str:
    return naming.staging_cluster_id(TARGET, operation_id)


def old(operation_id: str) -> str:
    return naming.old_cluster_id(TARGET, operation_id)


def cluster_with(
    cluster_id: str,
    extra: list[dict[str, str]] | None,
    managed: bool = True,
    owner: dict[str, str] | None = None,
) -> None:
    owned = [{"Key": k, "Value": v} for k, v in (owner or {}).items()]
    support.create_cluster(
        cluster_id, REGION, tags=[*(MANAGED_TAGS if managed else []), *owned, *(extra or [])]
    )


def restored_by(operation_id: str) -> dict[str, str]:
    return {tags.OPERATION_KEY: operation_id}


def expires(at: str) -> list[dict[str, str]]:
    return [{"Key": tags.EXPIRES_KEY, "Value": at}]


def test_sweep_deletes_only_our_expired_clusters_and_copies(
    world: World, make_document: DocumentFactory
) -> None:
    cluster_with(stg("op-1"), expires(PAST), owner=restored_by("op-1"))  # ours, expired: goes
    cluster_with(stg("op-2"), expires(FUTURE), owner=restored_by("op-2"))  # ours, not yet
    cluster_with(stg("op-3"), None, owner=restored_by("op-3"))  # never marked: not the sweep's
    cluster_with(stg("op-4"), expires(PAST), managed=False, owner=restored_by("op-4"))  # not ours
    cluster_with(stg("op-5"), expires(PAST))  # our tags but no operation id: not provably ours
    cluster_with(stg("op-6"), expires(PAST), owner=restored_by("op-x"))  # another run's id
    # An old target kept after a failure: the run that swapped it out marked it.
    cluster_with(old("op-7"), expires(PAST), owner={tags.SWAPPED_OUT_KEY: "op-7"})
    cluster_with("dev-reporting", expires(PAST))  # not one of our derived ids
    rds = support.rds()
    copy = naming.copy_snapshot_id
    for snapshot_id, snapshot_tags in (
        (copy(TARGET, "op-8"), [*MANAGED_TAGS, *expires(PAST), *owner_tags("op-8")]),
        (copy(TARGET, "op-9"), [*MANAGED_TAGS, *expires(FUTURE), *owner_tags("op-9")]),
        (copy(TARGET, "op-10"), [*expires(PAST), *owner_tags("op-10")]),
        (copy(TARGET, "op-11"), [*MANAGED_TAGS, *expires(PAST)]),
    ):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=TARGET, DBClusterSnapshotIdentifier=snapshot_id, Tags=snapshot_tags
        )
    document = make_document()
    swept = expiry.sweep(document, rds)
    old_final = naming.final_snapshot_for(TARGET, old("op-7"))
    assert sorted(swept["deleted"]) == sorted([stg("op-1"), old("op-7"), copy(TARGET, "op-8")])
    assert sorted(swept["left_alone"]) == sorted([stg("op-4"), stg("op-5"), stg("op-6")])
    assert support.cluster_ids() == {
        TARGET,
        stg("op-2"),
        stg("op-3"),
        stg("op-4"),
        stg("op-5"),
        stg("op-6"),
        "dev-reporting",
    }
    snapshots = support.manual_snapshots()
    assert set(snapshots) == {
        copy(TARGET, "op-9"),
        copy(TARGET, "op-10"),
        copy(TARGET, "op-11"),
        old_final,
    }
    # The old target went with a final snapshot (config: final_snapshot), tagged ours and
    # named after the run that swapped it out.
    assert snapshots[old_final][tags.KIND_KEY] == tags.FINAL_SNAPSHOT_KIND
    assert snapshots[old_final][tags.OPERATION_KEY] == "op-7"
    assert tags.is_managed(snapshots[old_final], "dev")


def owner_tags(operation_id: str) -> list[dict[str, str]]:
    return [{"Key": tags.OPERATION_KEY, "Value": operation_id}]


def final_snapshot(operation_id: str, age_days: float, kind: bool = True) -> str:
    snapshot_id = naming.final_snapshot_id(TARGET, operation_id)
    extra = [{"Key": tags.KIND_KEY, "Value": tags.FINAL_SNAPSHOT_KIND}] if kind else []
    support.rds().create_db_cluster_snapshot(
        DBClusterIdentifier=TARGET,
        DBClusterSnapshotIdentifier=snapshot_id,
        Tags=[*MANAGED_TAGS, *owner_tags(operation_id), *extra],
    )
    support.age_snapshot(snapshot_id, age_days * 24, region=REGION)
    return snapshot_id


def test_final_snapshots_past_retention_are_deleted_but_the_newest_stays(
    world: World, make_document: DocumentFactory
) -> None:
    recent = final_snapshot("op-a", 1)
    old_one = final_snapshot("op-b", 10)
    older = final_snapshot("op-c", 30)
    untagged_kind = final_snapshot("op-d", 30, kind=False)  # not provably a final of ours
    document = make_document()
    assert document["settings"]["target"]["final_snapshot_retention_days"] == 7
    swept = expiry.sweep(document, support.rds())
    assert sorted(swept["deleted"]) == sorted([old_one, older])
    assert set(support.manual_snapshots()) == {recent, untagged_kind}
    # Only ancient ones left: the newest is still kept (the last copy of the data before).
    support.rds().delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=recent)
    lone = final_snapshot("op-e", 400)
    assert expiry.sweep(document, support.rds()) == {}
    assert lone in support.manual_snapshots()


def test_a_failed_nightly_runs_staging_is_removed_by_the_next_run_once_expired(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.verify
    from handlers.lib.errors import VerificationFailed
    from handlers.lib.step import pipeline_step

    real_verify = handlers.verify.handler

    @pipeline_step("verify")
    def failing(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise VerificationFailed("public.customers has 0 rows, expected 1")

    monkeypatch.setattr(handlers.verify, "handler", failing)
    machine = support.deploy(world)
    night1 = support.run(machine, "night-1")
    assert night1["status"] == "FAILED"
    staging = naming.staging_cluster_id(TARGET, "night-1")
    assert support.cluster_ids() == {TARGET, staging}
    kept_until = {t["Key"]: t["Value"] for t in support.cluster(staging)["TagList"]}[  # type: ignore[index]
        tags.EXPIRES_KEY
    ]
    expected = datetime.now(timezone.utc) + timedelta(hours=24)
    assert abs(
        datetime.strptime(kept_until, tags.EXPIRY_FORMAT).replace(tzinfo=timezone.utc) - expected
    ) < timedelta(minutes=5)

    # A day later (the tag moved into the past), the next nightly run succeeds and sweeps.
    support.rds().add_tags_to_resource(
        ResourceName=support.cluster(staging)["DBClusterArn"],  # type: ignore[index]
        Tags=expires(PAST),
    )
    monkeypatch.setattr(handlers.verify, "handler", real_verify)
    night2 = support.run(machine, "night-2")
    assert night2["status"] == "SUCCEEDED", night2.get("cause")
    assert support.cluster_ids() == {TARGET}
    finalize = next(i for i in support.audit_items("night-2") if i["step"] == "finalize")
    assert finalize["details"]["swept"]["deleted"] == [staging]
