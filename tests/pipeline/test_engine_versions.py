"""Engine versions are compared as versions, never as strings, for both engines — on real
Aurora version strings (handlers/lib/engine_versions.py, snapshots.restore_engine_version):
FindSnapshot never restores below the snapshot's version, keeps a snapshot newer than the
config's minimum, and changes the major version only when asked to."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import find_snapshot
from handlers.lib import engine_versions, restore, snapshots
from handlers.lib.errors import SnapshotIncompatible

from . import support
from .support import DocumentFactory, World

MYSQL, POSTGRESQL = "aurora-mysql", "aurora-postgresql"


@pytest.mark.parametrize(("engine", "text", "major", "family", "option_group"), [
    (MYSQL, "8.0.mysql_aurora.3.05.2", "8.0", "aurora-mysql8.0", "default:aurora-mysql-8-0"),
    (MYSQL, "5.7.mysql_aurora.2.11.2", "5.7", "aurora-mysql5.7", "default:aurora-mysql-5-7"),
    (POSTGRESQL, "15.4", "15", "aurora-postgresql15", "default:aurora-postgresql-15"),
    (POSTGRESQL, "16.1", "16", "aurora-postgresql16", "default:aurora-postgresql-16"),
])
def test_major_family_and_default_groups(engine: str, text: str, major: str, family: str,
                                         option_group: str) -> None:
    assert engine_versions.major(engine, text) == major
    assert engine_versions.family(engine, text) == family
    assert engine_versions.option_group(engine, text) == option_group


@pytest.mark.parametrize(("engine", "older", "newer"), [
    (MYSQL, "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.06.0"),
    (MYSQL, "8.0.mysql_aurora.3.09.1", "8.0.mysql_aurora.3.10.0"),
    (MYSQL, "8.0.mysql_aurora.3.04.9", "8.0.mysql_aurora.3.04.10"),  # as strings: the other way
    (MYSQL, "5.7.mysql_aurora.2.12.1", "8.0.mysql_aurora.3.01.0"),
    (POSTGRESQL, "15.9", "15.10"),  # as strings: the other way
    (POSTGRESQL, "9.6.22", "10.7"),
])
def test_versions_compare_as_versions(engine: str, older: str, newer: str) -> None:
    assert engine_versions.parse(engine, older) < engine_versions.parse(engine, newer)


@pytest.mark.parametrize(("engine", "text"), [
    (MYSQL, "8.0"), (MYSQL, "8.0.32"), (MYSQL, "15.4"), (MYSQL, "8.0.mysql_aurora.3.05"),
    (POSTGRESQL, "8.0.mysql_aurora.3.05.2"), (POSTGRESQL, "15.x"), (POSTGRESQL, ""),
])
def test_a_version_of_another_engine_or_form_is_not_read(engine: str, text: str) -> None:
    assert not engine_versions.is_version(engine, text)
    with pytest.raises(engine_versions.VersionError):
        engine_versions.parse(engine, text)


def target(engine: str, version: str, upgrade: bool = False) -> dict[str, Any]:
    return {"engine": engine, "engine_version": version, "allow_major_version_upgrade": upgrade}


@pytest.mark.parametrize(("snapshot", "configured", "restored"), [
    # production got a newer release than the config's minimum: kept (never restore below it)
    ("8.0.mysql_aurora.3.06.0", "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.06.0"),
    ("8.0.mysql_aurora.3.10.0", "8.0.mysql_aurora.3.09.1", "8.0.mysql_aurora.3.10.0"),
    # the config asks for newer than the snapshot: the config's
    ("8.0.mysql_aurora.3.04.0", "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.05.2"),
    ("8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.05.2"),
])
def test_mysql_restore_version_is_never_below_the_snapshots(snapshot: str, configured: str,
                                                            restored: str) -> None:
    assert snapshots.restore_engine_version("s", snapshot, target(MYSQL, configured)) == restored


def test_mysql_majors_must_match_unless_an_upgrade_is_asked_for() -> None:
    aurora2, aurora3 = "5.7.mysql_aurora.2.11.2", "8.0.mysql_aurora.3.05.2"
    with pytest.raises(SnapshotIncompatible, match=r"5\.7.*8\.0.*allow_major_version_upgrade"):
        snapshots.restore_engine_version("s", aurora2, target(MYSQL, aurora3))
    assert snapshots.restore_engine_version("s", aurora2, target(MYSQL, aurora3, True)) == aurora3
    with pytest.raises(SnapshotIncompatible, match="a newer major"):
        snapshots.restore_engine_version("s", aurora3, target(MYSQL, aurora2, True))


def test_a_version_that_cannot_be_read_is_refused_not_guessed() -> None:
    with pytest.raises(SnapshotIncompatible, match="cannot compare engine version"):
        snapshots.restore_engine_version("s", "8.0.32", target(MYSQL, "8.0.mysql_aurora.3.05.2"))


def test_the_undo_compares_majors_as_versions() -> None:
    from handlers.lib.undo import same_major

    assert same_major(MYSQL, "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.10.0")
    assert not same_major(MYSQL, "5.7.mysql_aurora.2.11.2", "8.0.mysql_aurora.3.05.2")
    assert same_major(POSTGRESQL, "15.4", "15.10") and not same_major(POSTGRESQL, "14.9", "15.4")


# --- through FindSnapshot, on an Aurora MySQL world -----------------------------------------


@pytest.fixture
def mysql_world(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    with support.engine(MYSQL):
        built = support.build_world()
        for name, value in support.lambda_environment(built).items():
            monkeypatch.setenv(name, value)
        yield built


def snapshot_at(version: str) -> str:
    from moto.rds.models import rds_backends

    support.create_cluster("prod-v", support.SOURCE_REGION, tags=None, instances=0)
    rds_backends[support.ACCOUNT][support.SOURCE_REGION].clusters["prod-v"].engine_version = version
    support.rds(support.SOURCE_REGION).create_db_cluster_snapshot(
        DBClusterIdentifier="prod-v", DBClusterSnapshotIdentifier="prod-v-1")
    return "prod-v-1"


def document_for(world: World, snapshot_id: str, configured: str, upgrade: bool = False) -> Any:
    document = DocumentFactory(world)(request={"snapshot_id": snapshot_id, "requested_by": "dba"})
    document["settings"]["source"]["cluster_id"] = "prod-v"
    document["settings"]["target"].update(engine_version=configured,
                                          allow_major_version_upgrade=upgrade)
    return document


def test_find_snapshot_keeps_a_snapshot_newer_than_the_configs_minimum(mysql_world: World) -> None:
    with support.engine(MYSQL):
        snapshot_id = snapshot_at("8.0.mysql_aurora.3.06.0")
        document = find_snapshot.handler(
            document_for(mysql_world, snapshot_id, "8.0.mysql_aurora.3.05.2"), None)
    assert document["snapshot"]["engine"] == MYSQL
    assert document["snapshot"]["restore_engine_version"] == "8.0.mysql_aurora.3.06.0"
    params = restore.restore_parameters(document, "x", "y")
    assert params["EngineVersion"] == "8.0.mysql_aurora.3.06.0"
    assert params["Engine"] == MYSQL and params["Port"] == 3306


def test_find_snapshot_refuses_an_aurora_2_snapshot_for_an_aurora_3_target(
    mysql_world: World,
) -> None:
    with support.engine(MYSQL):
        snapshot_id = snapshot_at("5.7.mysql_aurora.2.11.2")
        with pytest.raises(SnapshotIncompatible, match=r"5\.7\.mysql_aurora\.2\.11\.2.*the major"):
            find_snapshot.handler(document_for(mysql_world, snapshot_id, "8.0.mysql_aurora.3.05.2"),
                                  None)
