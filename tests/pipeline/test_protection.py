"""`target.deletion_protection: true`: restored clusters start unprotected, so that a failed
run's clean-up (the undo, the expiry sweep) can delete them; the refreshed target is protected
once it serves; a protected cluster of ours is unprotected before it is deleted (AWS refuses
DeleteDBCluster on a protected cluster: aws_rules `delete_protected`). End to end on moto's
interpreter with our definition."""

from __future__ import annotations

from typing import Any

import pytest

import handlers.verify
from handlers.lib import naming, tags
from handlers.lib.errors import VerificationFailed
from handlers.lib.step import pipeline_step

from . import faults, support
from .aws_rules import AwsRules
from .faults import BEFORE, Fault
from .guarantees import assert_never_lost, original_target, tags_of
from .support import TARGET, DocumentFactory, World

pytestmark = pytest.mark.usefixtures("router")

PAST = "2020-01-01T00:00:00Z"


def protected_settings(world: World, strategy: str = "swap") -> dict[str, Any]:
    return support.make_settings(
        world.target_kms, world.source_kms, strategy=strategy, deletion_protection=True
    )


def protection(cluster_id: str) -> bool:
    cluster = support.cluster(cluster_id)
    assert cluster is not None, cluster_id
    return bool(cluster["DeletionProtection"])


def fail_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    @pipeline_step("verify")
    def failing(document: dict[str, Any], context: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise VerificationFailed("public.customers has 0 rows, expected 1")

    monkeypatch.setattr(handlers.verify, "handler", failing)


def test_a_failed_runs_staging_is_swept_and_the_refreshed_target_is_protected(
    world: World, monkeypatch: pytest.MonkeyPatch, aws_rules: AwsRules
) -> None:
    machine = support.deploy(world, settings=protected_settings(world))
    real_verify = handlers.verify.handler
    fail_verify(monkeypatch)
    assert support.run(machine, "night-1")["status"] == "FAILED"
    staging = naming.staging_cluster_id(TARGET, "night-1")
    assert protection(staging) is False  # kept for inspection, deletable when it expires

    support.rds().add_tags_to_resource(
        ResourceName=support.cluster(staging)["DBClusterArn"],  # type: ignore[index]
        Tags=[{"Key": tags.EXPIRES_KEY, "Value": PAST}],
    )
    monkeypatch.setattr(handlers.verify, "handler", real_verify)
    night2 = support.run(machine, "night-2")
    assert night2["status"] == "SUCCEEDED", night2.get("cause")
    assert support.cluster_ids() == {TARGET}  # the expired staging cluster was swept
    assert protection(TARGET) is True  # the refreshed target, as configured

    # The next run swaps out a protected target of ours: lifted, then deleted.
    night3 = support.run(machine, "night-3")
    assert night3["status"] == "SUCCEEDED", night3.get("cause")
    assert support.cluster_ids() == {TARGET} and protection(TARGET) is True
    assert tags_of(support.cluster(TARGET) or {})[tags.OPERATION_KEY] == "night-3"
    assert aws_rules.fired["delete_protected"] == 0


def test_replace_parks_an_unverified_restore_that_the_sweep_can_delete_later(
    world: World, monkeypatch: pytest.MonkeyPatch, aws_rules: AwsRules
) -> None:
    """`replace` fails at Verify: the undo moves the unverified cluster off the target id (kept
    for inspection, unprotected) and brings the target back from its final snapshot, protected
    as configured; once the parked cluster expires, the next run's sweep deletes it."""
    support.rds().modify_db_cluster(
        DBClusterIdentifier=TARGET, DeletionProtection=True, ApplyImmediately=True
    )
    support.rds().add_tags_to_resource(  # protection that an earlier run of ours set
        ResourceName=support.cluster(TARGET)["DBClusterArn"],  # type: ignore[index]
        Tags=[{"Key": tags.OPERATION_KEY, "Value": "earlier-run"}],
    )
    machine = support.deploy(world, settings=protected_settings(world, "replace"))
    real_verify = handlers.verify.handler
    fail_verify(monkeypatch)
    op = "replace-unverified"
    assert support.run(machine, op)["status"] == "FAILED"
    parked = naming.staging_cluster_id(TARGET, op)
    assert protection(parked) is False
    target = support.cluster(TARGET)
    assert target is not None and target["DeletionProtection"] is True
    assert tags_of(target)[tags.RESTORED_FROM_KEY] == naming.final_snapshot_id(TARGET, op)

    support.rds().add_tags_to_resource(
        ResourceName=support.cluster(parked)["DBClusterArn"],  # type: ignore[index]
        Tags=[{"Key": tags.EXPIRES_KEY, "Value": PAST}],
    )
    monkeypatch.setattr(handlers.verify, "handler", real_verify)
    again = support.run(machine, "replace-again")
    assert again["status"] == "SUCCEEDED", again.get("cause")
    assert support.cluster_ids() == {TARGET} and protection(TARGET) is True
    assert aws_rules.fired["delete_protected"] == 0


def test_rolling_forward_protects_this_runs_cluster(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap-in happened, then the run failed: the undo keeps this run's cluster (rolls
    forward) and protects it, as finalize would have."""
    faults.inject(monkeypatch, Fault("DeleteOldCluster", BEFORE))
    machine = support.deploy(world, settings=protected_settings(world))
    op = "roll-forward"
    before = original_target()
    master_before = support.client("secretsmanager").get_secret_value(
        SecretId=support.MASTER_SECRET
    )["VersionId"]
    execution = support.run(machine, op)
    facts = assert_never_lost(
        world,
        op,
        execution,
        before=before,
        master_before=master_before,
        new_expected=True,
        error="InjectedFailure",
    )
    assert f"turned on deletion protection of {TARGET}" in facts["undone"]
    assert protection(TARGET) is True


def test_the_sweep_lifts_only_protection_that_aurora_restore_set(
    world: World, make_document: DocumentFactory, aws_rules: AwsRules
) -> None:
    """Expired and ours, but protected (a staging cluster an older version restored protected,
    or an old target this tool protected): the sweep lifts the protection and deletes it — when
    the config asks for protection, i.e. aurora-restore set it. Otherwise somebody protected it
    by hand: it stays, and the sweep says so."""
    from handlers.lib import expiry

    staging = naming.staging_cluster_id(TARGET, "op-old")
    support.create_cluster(
        staging,
        support.REGION,
        tags=[
            *support.MANAGED_TAGS,
            {"Key": tags.OPERATION_KEY, "Value": "op-old"},
            {"Key": tags.EXPIRES_KEY, "Value": PAST},
        ],
    )
    support.rds().modify_db_cluster(
        DBClusterIdentifier=staging, DeletionProtection=True, ApplyImmediately=True
    )
    by_hand = make_document()
    assert by_hand["settings"]["target"]["deletion_protection"] is False
    swept = expiry.sweep(by_hand, support.rds())
    assert swept["errors"] == [f"{staging}: UnsafeTarget"] and protection(staging) is True
    ours = make_document()
    ours["settings"]["target"]["deletion_protection"] = True
    swept = expiry.sweep(ours, support.rds())
    assert swept["deleted"] == [staging] and support.cluster(staging) is None
    assert aws_rules.fired["delete_protected"] == 0
