"""The master and app secrets: generated values, never overwritten; zero writes on a re-run;
updates on tags / a new app user / the KMS key; cleanup with a recovery window or forced;
restore of a secret scheduled for deletion; a foreign secret left alone; set_secret_value;
and no secret value in anything the engine or the output layer could print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from aurora_restore_cli.face.output import Output
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import secrets
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.secrets import (
    EXCLUDED_CHARACTERS,
    SecretValueError,
    set_secret_value,
)

from ..conftest import edit_config, make_context

MASTER = "aurora-restore/dev/master"
APP = "aurora-restore/dev/app"
MASKING = "aurora-restore/dev/masking"  # the masking key: created like the others
STEPS = ["secrets"]


def _quiet(_: str) -> None:
    pass


def sm() -> Any:
    return boto3.client("secretsmanager", "us-east-1")


def value(name: str) -> dict[str, Any]:
    return dict(json.loads(sm().get_secret_value(SecretId=name)["SecretString"]))


def current_version(name: str) -> str:
    stages = sm().describe_secret(SecretId=name)["VersionIdsToStages"]
    return next(v for v, s in stages.items() if "AWSCURRENT" in s)


def tags_of(name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm().describe_secret(SecretId=name).get("Tags", [])}


def actions(report: engine.Report) -> dict[str, Action]:
    return {c.name: c.action for c in report.changes}


def setup(ctx: Any) -> engine.Report:
    return engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)


def cleanup(ctx: Any) -> engine.Report:
    return engine.cleanup(ctx, STEPS, dry_run=False, progress=_quiet)


def check_password(password: str) -> None:
    assert isinstance(password, str) and len(password) == secrets.PASSWORD_LENGTH
    assert not set(password) & set(EXCLUDED_CHARACTERS)
    assert "placeholder" not in password.lower() and "changeme" not in password.lower()


# ---------------------------------------------------------------------------------------


def test_create_generates_values_and_tags(aws: None) -> None:
    ctx = make_context()
    report = setup(ctx)
    assert actions(report) == {MASTER: Action.CREATED, APP: Action.CREATED, MASKING: Action.CREATED}
    assert report.ok

    master = value(MASTER)
    assert set(master) == {"username", "password"}
    assert master["username"] == "postgres"
    check_password(master["password"])

    app = value(APP)
    assert app["host"] == "" and app["port"] == 5432 and app["dbname"] == "orders"
    assert set(app["users"]) == {"orders_app", "orders_readonly"}
    for password in app["users"].values():
        check_password(password)
    passwords = [master["password"], *app["users"].values()]
    assert len(set(passwords)) == len(passwords)  # one generated password each
    key = value(MASKING)["key"]
    assert len(bytes.fromhex(key)) == 32 and key not in passwords

    for name in (MASTER, APP, MASKING):
        tags = tags_of(name)
        assert tags["aurora-restore:managed-by"] == "aurora-restore"
        assert tags["aurora-restore:env"] == "dev"
        assert tags["team"] == "platform"
        described = sm().describe_secret(SecretId=name)
        assert "aurora-restore dev" in described["Description"]
        assert "KmsKeyId" not in described  # config: null = aws/secretsmanager
    # Changes carry the real ARN.
    assert all(c.arn and ":secret:aurora-restore/dev/" in c.arn for c in report.changes)


def test_second_run_makes_zero_writes_and_keeps_versions(aws: None) -> None:
    setup(make_context())
    versions = {name: current_version(name) for name in (MASTER, APP, MASKING)}
    values = {name: value(name) for name in (MASTER, APP, MASKING)}

    again = make_context()
    report = setup(again)
    assert actions(report) == {MASTER: Action.UNCHANGED, APP: Action.UNCHANGED, MASKING: Action.UNCHANGED}
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()
    # read() never fetches the master value; the app value only to find missing users.
    calls = again.clients.counter.calls
    assert calls["secretsmanager.GetSecretValue"] == 1
    assert {name: current_version(name) for name in (MASTER, APP, MASKING)} == versions
    assert {name: value(name) for name in (MASTER, APP, MASKING)} == values


def test_dry_run_and_status_write_nothing(aws: None) -> None:
    ctx = make_context()
    report = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert set(actions(report).values()) == {Action.WOULD_CREATE}
    assert ctx.clients.counter.writes == 0
    status = engine.status(make_context(), STEPS, progress=_quiet)
    assert set(actions(status).values()) == {Action.MISSING}
    assert sm().list_secrets()["SecretList"] == []


def test_tag_change_updates_only_tags(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    versions = {name: current_version(name) for name in (MASTER, APP, MASKING)}

    def retag(data: dict[str, Any]) -> None:
        data["tags"] = {"team": "data", "owner": "dba"}

    edit_config(config_dir, "dev", retag)
    ctx = make_context(config_dir)
    assert engine.status(ctx, STEPS, progress=_quiet).changes[0].detail == "tags"
    report = setup(ctx)
    assert actions(report) == {MASTER: Action.UPDATED, APP: Action.UPDATED, MASKING: Action.UPDATED}
    assert {c.detail for c in report.changes} == {"tags"}
    assert set(ctx.clients.counter.write_calls()) == {
        "secretsmanager.TagResource",
        "secretsmanager.UntagResource",
    }
    for name in (MASTER, APP, MASKING):
        tags = tags_of(name)
        assert tags["team"] == "data" and tags["owner"] == "dba" and "cost-center" not in tags
        assert tags["aurora-restore:env"] == "dev"
    assert {name: current_version(name) for name in (MASTER, APP, MASKING)} == versions


def test_new_app_user_gets_a_password_and_others_are_kept(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    before = value(APP)
    master_version = current_version(MASTER)

    def add_user(data: dict[str, Any]) -> None:
        data["database"]["users"].append({"name": "orders_batch", "privilege": "read-only"})

    edit_config(config_dir, "dev", add_user)
    ctx = make_context(config_dir)
    report = setup(ctx)
    assert actions(report) == {MASTER: Action.UNCHANGED, APP: Action.UPDATED, MASKING: Action.UNCHANGED}
    assert "orders_batch" in report.changes[1].detail
    after = value(APP)
    assert set(after["users"]) == {"orders_app", "orders_readonly", "orders_batch"}
    for name in ("orders_app", "orders_readonly"):
        assert after["users"][name] == before["users"][name]
    check_password(after["users"]["orders_batch"])
    assert {k: v for k, v in after.items() if k != "users"} == {
        k: v for k, v in before.items() if k != "users"
    }
    assert current_version(MASTER) == master_version
    assert ctx.clients.counter.calls["secretsmanager.PutSecretValue"] == 1

    again = make_context(config_dir)
    setup(again)
    assert again.clients.counter.writes == 0


def test_kms_key_change_is_an_update(aws: None, config_dir: Path) -> None:
    setup(make_context(config_dir))
    key = boto3.client("kms", "us-east-1").create_key()["KeyMetadata"]["Arn"]

    def use_key(data: dict[str, Any]) -> None:
        data["secrets"]["kms_key_id"] = key

    edit_config(config_dir, "dev", use_key)
    ctx = make_context(config_dir)
    report = setup(ctx)
    assert {c.detail for c in report.changes} == {"encryption key"}
    assert sm().describe_secret(SecretId=MASTER)["KmsKeyId"] == key
    again = make_context(config_dir)
    setup(again)
    assert again.clients.counter.writes == 0


def test_created_with_configured_kms_key(aws: None, config_dir: Path) -> None:
    key = boto3.client("kms", "us-east-1").create_key()["KeyMetadata"]["KeyId"]
    edit_config(config_dir, "dev", lambda d: d["secrets"].__setitem__("kms_key_id", key))
    setup(make_context(config_dir))
    assert sm().describe_secret(SecretId=APP)["KmsKeyId"] == key
    again = make_context(config_dir)
    setup(again)
    assert again.clients.counter.writes == 0


def test_set_secret_value_is_never_overwritten(aws: None) -> None:
    ctx = make_context()
    setup(ctx)
    master = {"username": "admin", "password": "a-real-password-set-by-a-person"}
    version = set_secret_value(ctx, "master", master)
    assert version == current_version(MASTER)
    assert value(MASTER) == master
    app = {
        "host": "db.example.internal",
        "port": 5433,
        "dbname": "orders",
        "users": {"orders_app": "real-one", "orders_readonly": "real-two"},
    }
    app_version = set_secret_value(ctx, "app", app)
    assert "real-one" not in app_version

    again = make_context()
    report = setup(again)
    assert set(actions(report).values()) == {Action.UNCHANGED}
    assert again.clients.counter.writes == 0
    assert value(MASTER) == master and value(APP) == app
    assert current_version(APP) == app_version


@pytest.mark.parametrize(
    ("which", "document", "expected"),
    [
        ("master", {"username": "postgres"}, "password must be"),
        ("master", {"username": "x y", "password": "p"}, "username must be"),
        ("master", {"username": "postgres", "password": "p", "hunter2": 1}, "unexpected key"),
        ("app", {"host": "h", "port": "5432", "dbname": "orders", "users": {}}, "port must be"),
        (
            "app",
            {"host": "h", "port": 5432, "dbname": "orders", "users": {"orders_app": "s3cret"}},
            "orders_readonly",
        ),
        ("app", {"host": "h", "port": 5432, "dbname": "orders", "users": []}, "users must be"),
        ("other", {}, "unknown secret"),
    ],
)
def test_set_secret_value_refuses_bad_shapes(
    aws: None, which: str, document: dict[str, Any], expected: str
) -> None:
    ctx = make_context()
    setup(ctx)
    versions = {name: current_version(name) for name in (MASTER, APP, MASKING)}
    with pytest.raises(SecretValueError) as caught:
        set_secret_value(ctx, which, document)
    message = str(caught.value)
    assert expected in message
    assert "s3cret" not in message and "hunter2" not in message
    assert {name: current_version(name) for name in (MASTER, APP, MASKING)} == versions


def test_set_secret_value_refuses_missing_foreign_and_deleted(aws: None) -> None:
    ctx = make_context()
    good = {"username": "postgres", "password": "pw-123456"}
    with pytest.raises(SecretValueError, match="does not exist"):
        set_secret_value(ctx, "master", good)
    sm().create_secret(Name=MASTER, SecretString="{}")  # someone else's
    with pytest.raises(SecretValueError, match="without tag"):
        set_secret_value(ctx, "master", good)
    assert value(MASTER) == {}
    sm().delete_secret(SecretId=MASTER, ForceDeleteWithoutRecovery=True)
    setup(ctx)
    cleanup(ctx)  # scheduled for deletion
    with pytest.raises(SecretValueError, match="scheduled for deletion"):
        set_secret_value(ctx, "master", good)


def test_cleanup_schedules_deletion_then_setup_restores(aws: None) -> None:
    setup(make_context())
    values = {name: value(name) for name in (MASTER, APP, MASKING)}
    versions = {name: current_version(name) for name in (MASTER, APP, MASKING)}

    ctx = make_context()
    report = cleanup(ctx)
    assert actions(report) == {APP: Action.DELETED, MASTER: Action.DELETED, MASKING: Action.DELETED}
    assert [c.name for c in report.changes] == [MASKING, APP, MASTER]  # reverse order
    for name in (MASTER, APP, MASKING):
        described = sm().describe_secret(SecretId=name)
        window = described["DeletedDate"] - described["LastChangedDate"]
        assert 6 <= window.days <= 7  # recovery_window_days: 7
    calls = ctx.clients.counter.calls
    assert calls["secretsmanager.DeleteSecret"] == 3

    # Scheduled counts as gone for cleanup…
    report = cleanup(make_context())
    assert set(actions(report).values()) == {Action.ABSENT}
    status = engine.status(make_context(), STEPS, progress=_quiet)
    assert set(actions(status).values()) == {Action.MISSING}

    # …and setup restores it, value and version intact.
    ctx = make_context()
    report = setup(ctx)
    assert actions(report) == {MASTER: Action.CREATED, APP: Action.CREATED, MASKING: Action.CREATED}
    assert ctx.clients.counter.calls["secretsmanager.RestoreSecret"] == 3
    assert "secretsmanager.CreateSecret" not in ctx.clients.counter.calls
    for name in (MASTER, APP, MASKING):
        assert "DeletedDate" not in sm().describe_secret(SecretId=name)
    assert {name: value(name) for name in (MASTER, APP, MASKING)} == values
    assert {name: current_version(name) for name in (MASTER, APP, MASKING)} == versions
    again = make_context()
    setup(again)
    assert again.clients.counter.writes == 0


def test_force_delete(aws: None) -> None:
    setup(make_context())
    ctx = make_context(force_delete_secrets=True)
    report = cleanup(ctx)
    assert set(actions(report).values()) == {Action.DELETED}
    for name in (MASTER, APP, MASKING):
        with pytest.raises(sm().exceptions.ResourceNotFoundException):
            sm().describe_secret(SecretId=name)
    report = cleanup(make_context(force_delete_secrets=True))
    assert set(actions(report).values()) == {Action.ABSENT}
    # A fresh setup creates new secrets with new values.
    setup(make_context())
    check_password(value(MASTER)["password"])


def test_foreign_secret_left_alone(aws: None) -> None:
    sm().create_secret(
        Name=MASTER,
        SecretString='{"mine": "not yours"}',
        Tags=[
            {"Key": "aurora-restore:managed-by", "Value": "aurora-restore"},
            {"Key": "aurora-restore:env", "Value": "prod"},  # another env's tag
        ],
    )
    sm().create_secret(Name=APP, SecretString='{"users": {}}')
    sm().create_secret(Name=MASKING, SecretString='{"key": "00"}')
    versions = {name: current_version(name) for name in (MASTER, APP, MASKING)}

    ctx = make_context()
    report = setup(ctx)
    assert actions(report) == {MASTER: Action.FOREIGN, APP: Action.FOREIGN, MASKING: Action.FOREIGN}
    assert not report.ok
    assert ctx.clients.counter.writes == 0
    # A foreign secret's value is never read.
    assert "secretsmanager.GetSecretValue" not in ctx.clients.counter.calls

    ctx = make_context(force_delete_secrets=True)
    report = cleanup(ctx)
    assert set(actions(report).values()) == {Action.FOREIGN}
    assert ctx.clients.counter.writes == 0
    assert {name: current_version(name) for name in (MASTER, APP, MASKING)} == versions
    assert value(MASTER) == {"mine": "not yours"}


def test_foreign_secret_scheduled_for_deletion_is_not_restored(aws: None) -> None:
    sm().create_secret(Name=MASTER, SecretString="{}")
    sm().delete_secret(SecretId=MASTER, RecoveryWindowInDays=7)
    ctx = make_context()
    report = setup(ctx)
    assert actions(report)[MASTER] is Action.FOREIGN
    assert "secretsmanager.RestoreSecret" not in ctx.clients.counter.calls
    assert "DeletedDate" in sm().describe_secret(SecretId=MASTER)


def test_app_value_of_wrong_shape_is_reported_not_overwritten(aws: None) -> None:
    ctx = make_context()
    setup(ctx)
    sm().put_secret_value(SecretId=APP, SecretString="not json at all")
    version = current_version(APP)
    status = engine.status(make_context(), STEPS, progress=_quiet)
    assert actions(status)[APP] is Action.DRIFTED
    assert "not JSON" in status.changes[1].detail
    # the engine reports the value problem as this secret's failure (exit 1, no traceback)
    report = setup(make_context())
    assert actions(report)[APP] is Action.FAILED
    assert not report.ok
    assert any("not JSON" in failure for failure in report.failures)
    assert current_version(APP) == version


def test_interrupted_create_is_finished_by_a_rerun(aws: None, config_dir: Path) -> None:
    """Crash after the master secret: the re-run creates only the others."""
    ctx = make_context()
    secrets.MasterSecret(ctx, MASTER).create()
    again = make_context()
    report = setup(again)
    assert actions(report) == {MASTER: Action.UNCHANGED, APP: Action.CREATED, MASKING: Action.CREATED}


# ---------------------------------------------------------------------------------------
# no value in anything printable


def _all_values() -> list[str]:
    found = []
    for name in (MASTER, APP, MASKING):
        for version in sm().list_secret_version_ids(SecretId=name)["Versions"]:
            text = sm().get_secret_value(SecretId=name, VersionId=version["VersionId"])[
                "SecretString"
            ]
            data = json.loads(text)
            found.append(data.get("password"))
            found += list((data.get("users") or {}).values())
    return [v for v in found if v]


def test_secret_values_never_printable(
    aws: None, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    printable: list[str] = []
    reports: list[engine.Report] = []
    reports.append(
        engine.setup(make_context(config_dir), STEPS, dry_run=True, progress=printable.append)
    )
    reports.append(
        engine.setup(make_context(config_dir), STEPS, dry_run=False, progress=printable.append)
    )
    edit_config(
        config_dir,
        "dev",
        lambda d: d["database"]["users"].append({"name": "late_user", "privilege": "read-only"}),
    )
    ctx = make_context(config_dir)
    reports.append(engine.status(ctx, STEPS, progress=printable.append))
    reports.append(engine.setup(ctx, STEPS, dry_run=False, progress=printable.append))
    reports.append(engine.status(make_context(config_dir), STEPS, progress=printable.append))
    for resource in secrets.resources(ctx):
        state = resource.read()
        printable += [repr(state), str(state), repr(resource), str(vars(resource))]
    values = _all_values()
    assert len(values) >= 4
    reports.append(engine.cleanup(ctx, STEPS, dry_run=True, progress=printable.append))
    reports.append(engine.cleanup(ctx, STEPS, dry_run=False, progress=printable.append))

    for verbose in (0, 2):
        for mode in ("text", "json"):
            out = Output(mode, verbose)
            for report in reports:
                out.changes("secrets", report.changes, {"failures": report.failures})
    for report in reports:
        printable += [repr(report), json.dumps([c.to_json() for c in report.changes])]
    printable += [repr(ctx.cache), repr(ctx.clients.counter.calls)]
    captured = capsys.readouterr()
    printable += [captured.out, captured.err]
    text = "\n".join(printable)
    assert "aurora-restore/dev/master" in text  # the scan looks at real output
    for secret in values:
        assert secret not in text


def test_a_new_masking_key_is_set_and_checked(aws: None) -> None:
    """Rotation: a new key is stored as a new version; a short or non-hex key is refused."""
    ctx = make_context()
    setup(ctx)
    before = value(MASKING)
    for bad, message in (({"key": "ab" * 8}, "at least 32 bytes"), ({"key": "zz" * 32}, "hex"),
                         ({"key": "ab" * 32, "x": 1}, "expected")):
        with pytest.raises(secrets.SecretValueError, match=message):
            secrets.set_secret_value(ctx, "masking", bad)
    assert value(MASKING) == before
    secrets.set_secret_value(ctx, "masking", {"key": "cd" * 32})
    assert value(MASKING) == {"key": "cd" * 32}
