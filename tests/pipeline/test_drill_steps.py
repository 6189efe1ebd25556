"""The drill steps and drill mode of the shared steps, one handler at a time (moto, no state
machine): the guard allows a drill only its own cluster, never the target; drill_prepare's keep
time and expiry; drill_cleanup deletes only what this drill made, and waits when AWS says
"not yet"; the shared steps refuse drill-only work outside a drill."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import pytest
from moto.rds.exceptions import InvalidDBClusterStateFault
from moto.rds.models import RDSBackend

from handlers import (
    acquire_lock,
    copy_snapshot,
    create_instances,
    drill_cleanup,
    drill_prepare,
    drill_report,
    find_snapshot,
    release_lock,
    reset_master_password,
    restore_cluster,
)
from handlers.lib import drill, guards, naming
from handlers.lib.errors import RestoreFailed, SettingsInvalid, UnsafeTarget

from . import drill_support, support
from .support import MANAGED_TAGS, TARGET, DocumentFactory, World

OP = "op-unit"
DRILL_ID = naming.drill_cluster_id(TARGET, OP)


def drill_document(make_document: DocumentFactory, **request: Any) -> dict[str, Any]:
    document = make_document(OP, mode="drill")
    document["settings"]["drill"] = drill_support.drill_settings()
    document["request"].update(request)
    document["marks"] = {}
    return document


def prepared(make_document: DocumentFactory, **request: Any) -> dict[str, Any]:
    return drill_prepare.handler(drill_document(make_document, **request), None)


def restored(make_document: DocumentFactory) -> dict[str, Any]:
    document = prepared(make_document)
    for step in (find_snapshot, copy_snapshot, restore_cluster, create_instances):
        document = step.handler(document, None)
    return document


def cleaned(document: dict[str, Any], passes: int = 3) -> dict[str, Any]:
    for _ in range(passes):
        document = drill_cleanup.handler(document, None)
        if document["poll"]["ready"]:
            break
    return document


# --- ids, guard, lock -------------------------------------------------------------------------


def test_drill_ids_and_the_work_cluster() -> None:
    assert naming.drill_cluster_id("dev-orders", OP) == f"dev-orders-drill-{naming.token(OP)}"
    longest = naming.drill_cluster_id("a" * 40, "x" * 80)
    assert len(longest) <= 63 and not longest.endswith("-")
    base = {"operation_id": OP, "settings": {"target": {"cluster_id": TARGET}}}
    assert naming.work_cluster_id(base) == naming.staging_cluster_id(TARGET, OP)
    replace = copy.deepcopy(base)
    replace["settings"]["target"]["strategy"] = "replace"
    assert naming.work_cluster_id(replace) == TARGET
    assert naming.lock_subject(replace) == TARGET
    in_drill = {**copy.deepcopy(replace), "mode": "drill"}  # even with strategy replace
    assert naming.work_cluster_id(in_drill) == DRILL_ID
    assert naming.lock_subject(in_drill) == DRILL_ID


def test_in_a_drill_the_guard_allows_only_the_drill_cluster(
    world: World, make_document: DocumentFactory
) -> None:
    document = drill_document(make_document)
    assert guards.allowed_ids(document) == {DRILL_ID}
    target = support.cluster(TARGET)
    assert target is not None
    tags = {t["Key"]: t["Value"] for t in target["TagList"]}
    for action in ("rename", "delete", "modify"):
        with pytest.raises(UnsafeTarget, match=f"refusing to {action} {TARGET}"):
            guards.check_cluster(document, target, tags, action)
    # The same target, the same tags: a refresh may replace it, a drill never.
    guards.check_cluster(make_document(OP), target, tags, "delete")
    staging = {"DBClusterIdentifier": naming.staging_cluster_id(TARGET, OP)}
    with pytest.raises(UnsafeTarget):
        guards.check_cluster(document, staging, tags, "delete")


def test_a_drill_locks_its_own_cluster_id(world: World, make_document: DocumentFactory) -> None:
    document = acquire_lock.handler(prepared(make_document), None)
    assert document["lock"]["key"] == f"lock#{DRILL_ID}"
    assert support.lock_item() is None  # the target's lock is free for a refresh
    release_lock.handler(document, None)
    assert drill_support_lock(DRILL_ID) is None


def drill_support_lock(cluster_id: str) -> Any:
    key = {"operation_id": {"S": f"lock#{cluster_id}"}, "timestamp": {"S": "LOCK"}}
    return support.client("dynamodb").get_item(TableName=support.TABLE, Key=key).get("Item")


# --- drill_prepare -----------------------------------------------------------------------------


def test_prepare_sets_id_keep_time_and_expiry(world: World, make_document: DocumentFactory) -> None:
    before = datetime.now(timezone.utc)
    document = prepared(make_document, keep_minutes=30)
    assert document["drill"]["cluster_id"] == DRILL_ID
    assert document["drill"]["keep_seconds"] == 1800
    expires = drill.parse_time(document["drill"]["expires_at"])
    assert expires is not None
    assert (expires - before).total_seconds() >= 1800 + 21600 - 1  # keep + margin


def test_prepare_clamps_and_defaults_and_refuses_nonsense(
    world: World, make_document: DocumentFactory
) -> None:
    assert prepared(make_document, keep_minutes=100_000)["drill"]["keep_seconds"] == 720 * 60
    note = next(i for i in support.audit_items(OP) if i["step"] == "drill-prepare")["details"][
        "note"
    ]
    assert note == "keep_minutes 100000 clamped to the maximum 720"
    document = drill_document(make_document)
    document["settings"]["drill"]["keep_minutes"] = 5
    assert drill_prepare.handler(document, None)["drill"]["keep_seconds"] == 300
    for bad in (-1, "10", True, 1.5):
        with pytest.raises(SettingsInvalid, match="keep_minutes"):
            prepared(make_document, keep_minutes=bad)


def test_prepare_applies_the_drill_instance_class(
    world: World, make_document: DocumentFactory
) -> None:
    document = drill_document(make_document)
    document["settings"]["drill"]["instance_class"] = "db.t4g.medium"
    for step in (drill_prepare, find_snapshot, copy_snapshot, restore_cluster, create_instances):
        document = step.handler(document, None)
    instance = support.rds().describe_db_instances(
        DBInstanceIdentifier=naming.instance_id(TARGET, OP, 1)
    )["DBInstances"][0]
    assert instance["DBInstanceClass"] == "db.t4g.medium"
    assert instance["DBClusterIdentifier"] == DRILL_ID


def test_drill_steps_refuse_to_run_outside_a_drill(
    world: World, make_document: DocumentFactory
) -> None:
    for step in (drill_prepare, drill_cleanup, drill_report):
        with pytest.raises(SettingsInvalid, match="only in a restore drill"):
            step.handler(make_document(OP), None)


# --- restore, password ---------------------------------------------------------------------------


def test_restore_refuses_a_foreign_cluster_at_the_drill_id(
    world: World, make_document: DocumentFactory
) -> None:
    support.create_cluster(DRILL_ID, support.REGION, tags=MANAGED_TAGS)
    document = prepared(make_document)
    for step in (find_snapshot, copy_snapshot):
        document = step.handler(document, None)
    with pytest.raises(RestoreFailed, match="already exists"):
        restore_cluster.handler(document, None)


def test_the_drill_password_never_touches_the_master_secret(
    world: World, make_document: DocumentFactory
) -> None:
    drill_support.ensure_drill_secret()
    document = restored(make_document)
    master = drill_support.secret_versions(support.MASTER_SECRET)
    first = reset_master_password.handler(copy.deepcopy(document), None)
    again = reset_master_password.handler(copy.deepcopy(document), None)  # a retried call
    assert drill_support.secret_versions(support.MASTER_SECRET) == master
    versions = drill_support.secret_versions(support.DRILL_SECRET)
    assert drill.password_version(OP) in versions  # one version for this drill, reused
    assert len(versions) == 2  # the initial value and this drill's
    assert first["poll"]["what"] == again["poll"]["what"] == "password"


# --- drill_cleanup -------------------------------------------------------------------------------


def test_cleanup_deletes_instances_cluster_and_copy_then_reports_done(
    world: World, make_document: DocumentFactory
) -> None:
    document = restored(make_document)
    copy_id = naming.copy_snapshot_id(TARGET, OP)
    assert DRILL_ID in support.cluster_ids()
    document = cleaned(document)
    assert document["poll"]["ready"] is True and document["cleanup"]["done"] is True
    assert support.cluster_ids() == {TARGET}
    snapshots = support.rds().describe_db_cluster_snapshots()["DBClusterSnapshots"]
    assert copy_id not in {s["DBClusterSnapshotIdentifier"] for s in snapshots}
    assert support.rds().describe_db_instances(DBInstanceIdentifier=f"{TARGET}-1")["DBInstances"]


def test_cleanup_waits_while_aws_says_not_yet(
    world: World, make_document: DocumentFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS refuses DeleteDBCluster while an instance is still being created; the step reports
    "waiting" (poll not ready) and the next pass deletes it."""
    document = restored(make_document)
    original = RDSBackend.delete_db_cluster
    refusals: list[str] = []

    def not_yet(self: Any, cluster_identifier: str, *args: Any, **kwargs: Any) -> Any:
        if not refusals:
            refusals.append(cluster_identifier)
            raise InvalidDBClusterStateFault("instance dev-orders-x-1 is still creating")
        return original(self, cluster_identifier, *args, **kwargs)

    monkeypatch.setattr(RDSBackend, "delete_db_cluster", not_yet)
    first = drill_cleanup.handler(document, None)
    poll = first["poll"]
    assert (poll["what"], poll["attempt"], poll["ready"]) == ("cleanup", 0, False)  # started
    assert poll["status"] == "cluster waiting (available), copy deleting"
    assert poll["wait_seconds"] == document["pipeline"]["waits"]["delete"]["first_seconds"]
    assert DRILL_ID in support.cluster_ids()
    done = cleaned(first)
    assert done["poll"]["ready"] is True and done["poll"]["attempt"] == 2  # deleting, gone
    assert support.cluster_ids() == {TARGET} and refusals == [DRILL_ID]


@pytest.mark.parametrize("problem", ["another operation", "no drill marker", "protected"])
def test_cleanup_refuses_what_is_not_this_drills(
    world: World, make_document: DocumentFactory, problem: str
) -> None:
    document = restored(make_document)
    rds = support.rds()
    arn = support.cluster(DRILL_ID)["DBClusterArn"]  # type: ignore[index]
    if problem == "another operation":
        rds.add_tags_to_resource(
            ResourceName=arn, Tags=[{"Key": "aurora-restore:operation", "Value": "someone-else"}]
        )
    elif problem == "no drill marker":
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-restore:drill"])
    else:
        rds.modify_db_cluster(DBClusterIdentifier=DRILL_ID, DeletionProtection=True)
    with pytest.raises(UnsafeTarget):
        drill_cleanup.handler(document, None)
    assert DRILL_ID in support.cluster_ids()
    assert support.cluster(DRILL_ID)["DBClusterMembers"]  # type: ignore[index]


def test_cleanup_of_a_drill_that_made_nothing_is_done_at_once(
    world: World, make_document: DocumentFactory
) -> None:
    document = drill_cleanup.handler(prepared(make_document), None)
    assert document["cleanup"] == {
        "cluster_id": DRILL_ID,
        "cluster": "gone",
        "copy": "gone",
        "done": True,
    }


# --- left behind: the expiry sweep ------------------------------------------------------------


def test_the_sweep_removes_an_expired_drill_cluster_and_keeps_the_rest(
    world: World, make_document: DocumentFactory
) -> None:
    """A drill cluster whose cleanup never finished (say, its recovery was refused) carries
    `expires-at`: the next refresh, drill failure or recovery sweeps it once that has passed —
    only ours (env tags), only expired."""
    from handlers.lib import expiry, tags

    def drill_cluster(op: str, expiry_at: str, managed: bool = True) -> str:
        cluster_id = naming.drill_cluster_id(TARGET, op)
        extra = [
            {"Key": tags.EXPIRES_KEY, "Value": expiry_at},
            {"Key": drill.DRILL_KEY, "Value": "true"},
            {"Key": tags.OPERATION_KEY, "Value": op},
        ]
        support.create_cluster(
            cluster_id, support.REGION, tags=[*(MANAGED_TAGS if managed else []), *extra]
        )
        return cluster_id

    expired = drill_cluster("drill-a", "2020-01-01T00:00:00Z")
    current = drill_cluster("drill-b", "2999-01-01T00:00:00Z")
    foreign = drill_cluster("drill-c", "2020-01-01T00:00:00Z", managed=False)
    swept = expiry.sweep(make_document("op-sweep"), support.rds())
    assert swept.get("deleted") == [expired]
    assert support.cluster_ids() == {TARGET, current, foreign}
