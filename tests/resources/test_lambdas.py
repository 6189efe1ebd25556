"""The Lambda functions and their log groups: create, a no-op re-run with zero writes, field
by field updates, a one-line handler change updating exactly one function, cleanup, foreign
functions left alone, and the bounded retry while the role propagates."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import handlers
from aurora_restore_cli.aws import Clients
from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.settings import Settings
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.documents.packaging import Package, Packager, default_cache_dir
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import lambdas
from aurora_restore_cli.resources.base import propagation
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.base.resource import Context

from ..conftest import CONFIG_DIR, MOTO_ACCOUNT, edit_config, load_moto_backends

STEPS = ["lambdas"]
REGION = "us-east-1"
ROLE = "aurora-restore-lambda-role-dev"
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:role/{ROLE}"
REAL_HANDLERS = Path(handlers.__file__).resolve().parent
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _quiet(_: str) -> None:
    pass


class CountingPackager(Packager):
    """Counts builds, to show packages are built once per command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.builds = 0

    def build(self, step: str, settings: Settings) -> Package:
        self.builds += 1
        return super().build(step, settings)


@pytest.fixture(scope="module", autouse=True)
def _wheels() -> None:
    """Fill the shared wheel cache once (pip download, only when it is empty)."""
    settings = make_context_settings()
    Packager(cache_dir=default_cache_dir()).wheels(
        settings.lambda_.runtime, settings.lambda_.architecture
    )


def make_context_settings() -> Settings:
    return load_settings(CONFIG_DIR, "dev")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of handlers/ that a test may edit."""
    target = tmp_path / "handlers"
    shutil.copytree(REAL_HANDLERS, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def create_role() -> None:
    boto3.client("iam", REGION).create_role(
        RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST)
    )


@pytest.fixture
def role(aws: None) -> None:
    create_role()


def context(
    tree: Path, config_dir: Path = CONFIG_DIR, packager: Packager | None = None, **kwargs: Any
) -> Context:
    """A fresh context (= one command) packaging the handlers in `tree`."""
    load_moto_backends()
    settings = load_settings(config_dir, "dev")
    ctx = Context(
        settings=settings,
        names=Names("dev", settings.region, MOTO_ACCOUNT),
        clients=Clients(settings.region),
        sleep=kwargs.pop("sleep", RecordingSleep()),
        **kwargs,
    )
    lambdas.use_packager(ctx, packager or Packager(tree, default_cache_dir()))
    return ctx


def setup(ctx: Context) -> engine.Report:
    return engine.setup(ctx, STEPS, dry_run=False, progress=_quiet)


def actions(report: engine.Report) -> dict[str, Action]:
    return {c.name: c.action for c in report.changes}


def function_names() -> list[str]:
    return [f"aurora-restore-{s.replace('_', '-')}-dev" for s in handlers.FUNCTIONS]


def log_group_names() -> list[str]:
    return [f"/aws/lambda/{name}" for name in function_names()]


def record_params(ctx: Context, operation: str) -> list[dict[str, Any]]:
    """Parameters of every `operation` call the context's Lambda client makes from now on."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append({k: v for k, v in params.items() if k != "ZipFile"})

    ctx.clients.get("lambda").meta.events.register(
        f"provide-client-params.lambda.{operation}", record
    )
    return seen


def existing_functions() -> set[str]:
    pages = boto3.client("lambda", REGION).get_paginator("list_functions").paginate()
    return {f["FunctionName"] for page in pages for f in page["Functions"]}


def existing_log_groups() -> set[str]:
    groups = boto3.client("logs", REGION).describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    return {g["logGroupName"] for g in groups["logGroups"]}


# --- create and no-op ------------------------------------------------------------------------


def test_create_every_function_with_its_configuration_and_tags(role: None, tree: Path) -> None:
    ctx = context(tree)
    report = setup(ctx)
    assert report.ok, report.failures
    assert [c.name for c in report.changes] == [
        n for pair in zip(log_group_names(), function_names(), strict=True) for n in pair
    ]
    assert set(actions(report).values()) == {Action.CREATED}

    lam = boto3.client("lambda", REGION)
    settings = ctx.settings
    expected_tags = {
        "aurora-restore:managed-by": "aurora-restore",
        "aurora-restore:env": "dev",
        **settings.tags,
    }
    for step, name in zip(handlers.FUNCTIONS, function_names(), strict=True):
        found = lam.get_function(FunctionName=name)
        config = found["Configuration"]
        assert config["Runtime"] == "python3.12"
        assert config["Handler"] == f"handlers.{step}.handler"
        assert config["Role"] == ROLE_ARN
        assert config["MemorySize"] == 256
        assert config["Timeout"] == 300
        assert config["Architectures"] == ["arm64"]
        assert config["State"] == "Active"
        assert config["Environment"]["Variables"] == {
            "ENVIRONMENT": "dev",
            "DYNAMODB_TABLE": "aurora-restore-audit-dev",
            "SNS_TOPIC": f"arn:aws:sns:us-east-1:{MOTO_ACCOUNT}:aurora-restore-notifications-dev",
            "MASTER_SECRET_ID": "aurora-restore/dev/master",
            "APP_SECRET_ID": "aurora-restore/dev/app",
            "DRILL_SECRET_ID": "aurora-restore/dev/drill",
            "MASKING_SECRET_ID": "aurora-restore/dev/masking",
        }
        if step in handlers.DATABASE_STEPS:  # only the database steps run in the VPC
            assert set(config["VpcConfig"]["SubnetIds"]) == {
                "subnet-0a1b2c3d4e5f60718",
                "subnet-1a2b3c4d5e6f70819",
            }
            assert config["VpcConfig"]["SecurityGroupIds"] == ["sg-0f1e2d3c4b5a69788"]
        else:
            assert not (config.get("VpcConfig") or {}).get("SubnetIds")
        assert config["CodeSha256"] == lambdas.package_for(ctx, step).sha256
        assert found["Tags"] == expected_tags

    logs = boto3.client("logs", REGION)
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert {g["logGroupName"] for g in groups} == set(log_group_names())
    for group in groups:
        assert group["retentionInDays"] == 30
        arn = ctx.names.log_group_arn(group["logGroupName"])
        assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == expected_tags


def test_second_run_makes_zero_writes_and_builds_each_package_once(role: None, tree: Path) -> None:
    setup(context(tree))
    packager = CountingPackager(tree, default_cache_dir())
    ctx = context(tree, packager=packager)
    report = setup(ctx)
    assert set(actions(report).values()) == {Action.UNCHANGED}
    assert ctx.clients.counter.writes == 0, ctx.clients.counter.write_calls()
    assert packager.builds == len(handlers.FUNCTIONS)


def test_plan_and_status_build_but_write_nothing(role: None, tree: Path) -> None:
    ctx = context(tree)
    plan = engine.setup(ctx, STEPS, dry_run=True, progress=_quiet)
    assert set(actions(plan).values()) == {Action.WOULD_CREATE}
    assert ctx.clients.counter.writes == 0
    setup(context(tree))
    status = engine.status(context(tree), STEPS, progress=_quiet)
    assert set(actions(status).values()) == {Action.PRESENT}


def test_cleanup_needs_no_package(role: None, tree: Path) -> None:
    setup(context(tree))
    packager = CountingPackager(tree, default_cache_dir())
    engine.cleanup(context(tree, packager=packager), STEPS, dry_run=False, progress=_quiet)
    assert packager.builds == 0


# --- updates ----------------------------------------------------------------------------------


def test_memory_change_updates_only_the_configuration(
    role: None, tree: Path, config_dir: Path
) -> None:
    setup(context(tree, config_dir))
    edit_config(config_dir, "dev", lambda data: data["lambda"].update(memory_mb=512))
    ctx = context(tree, config_dir)
    params = record_params(ctx, "UpdateFunctionConfiguration")
    report = setup(ctx)

    changes = {c.name: (c.action, c.detail) for c in report.changes}
    for name in function_names():
        assert changes[name] == (Action.UPDATED, "memory")
    for name in log_group_names():
        assert changes[name][0] is Action.UNCHANGED
    assert ctx.clients.counter.write_calls() == ["lambda.UpdateFunctionConfiguration"]
    assert ctx.clients.counter.calls["lambda.UpdateFunctionConfiguration"] == len(handlers.FUNCTIONS)
    assert all(set(p) == {"FunctionName", "MemorySize"} and p["MemorySize"] == 512 for p in params)

    lam = boto3.client("lambda", REGION)
    assert {
        lam.get_function(FunctionName=n)["Configuration"]["MemorySize"] for n in function_names()
    } == {512}
    again = context(tree, config_dir)
    setup(again)
    assert again.clients.counter.writes == 0


def test_one_line_handler_change_updates_exactly_that_function(role: None, tree: Path) -> None:
    setup(context(tree))
    module = tree / "find_snapshot.py"
    module.write_text(module.read_text() + "# refreshed\n")
    ctx = context(tree)
    report = setup(ctx)

    updated = {c.name: c.detail for c in report.changes if c.action is Action.UPDATED}
    assert updated == {"aurora-restore-find-snapshot-dev": "code"}
    assert ctx.clients.counter.write_calls() == ["lambda.UpdateFunctionCode"]
    assert ctx.clients.counter.calls["lambda.UpdateFunctionCode"] == 1
    lam = boto3.client("lambda", REGION)
    config = lam.get_function(FunctionName="aurora-restore-find-snapshot-dev")["Configuration"]
    assert config["CodeSha256"] == lambdas.package_for(ctx, "find_snapshot").sha256


def test_shared_library_change_updates_every_function(role: None, tree: Path) -> None:
    setup(context(tree))
    errors = tree / "lib" / "errors.py"
    errors.write_text(errors.read_text() + "\n")
    ctx = context(tree)
    setup(ctx)
    assert ctx.clients.counter.calls["lambda.UpdateFunctionCode"] == len(handlers.FUNCTIONS)
    assert ctx.clients.counter.write_calls() == ["lambda.UpdateFunctionCode"]


def test_drifted_environment_and_tags_are_restored(role: None, tree: Path) -> None:
    setup(context(tree))
    lam = boto3.client("lambda", REGION)
    name = "aurora-restore-verify-dev"
    config = lam.get_function(FunctionName=name)["Configuration"]
    variables = {**config["Environment"]["Variables"], "DEBUG": "1"}
    del variables["SNS_TOPIC"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    lam.untag_resource(Resource=config["FunctionArn"], TagKeys=["team"])
    lam.tag_resource(Resource=config["FunctionArn"], Tags={"stray": "x"})

    ctx = context(tree)
    report = setup(ctx)
    assert {c.name: c.detail for c in report.changes if c.action is Action.UPDATED} == {
        name: "environment, tags"
    }
    found = lam.get_function(FunctionName=name)
    assert found["Configuration"]["Environment"]["Variables"] == lambdas.environment(ctx)
    assert found["Tags"] == ctx.tags()
    assert sorted(ctx.clients.counter.write_calls()) == [
        "lambda.TagResource",
        "lambda.UntagResource",
        "lambda.UpdateFunctionConfiguration",
    ]


def test_vpc_removed_and_retention_changed(role: None, tree: Path, config_dir: Path) -> None:
    setup(context(tree, config_dir))

    def edit(data: dict[str, Any]) -> None:
        data["lambda"]["vpc"] = None
        data["lambda"]["log_retention_days"] = 90

    edit_config(config_dir, "dev", edit)
    ctx = context(tree, config_dir)
    params = record_params(ctx, "UpdateFunctionConfiguration")
    report = setup(ctx)
    details = {c.name: c.detail for c in report.changes}
    assert details["aurora-restore-verify-dev"] == "VPC"
    assert details["/aws/lambda/aurora-restore-verify-dev"] == "retention"
    # Only the VPC is sent, for every function in it (functions are updated concurrently).
    assert sorted(params, key=lambda p: p["FunctionName"]) == sorted(
        (
            {
                "FunctionName": f"aurora-restore-{step.replace('_', '-')}-dev",
                "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
            }
            for step in handlers.STEPS
            if step in handlers.DATABASE_STEPS
        ),
        key=lambda p: str(p["FunctionName"]),
    )
    groups = boto3.client("logs", REGION).describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    assert {g["retentionInDays"] for g in groups["logGroups"]} == {90}
    again = context(tree, config_dir)
    setup(again)
    assert again.clients.counter.writes == 0, again.clients.counter.write_calls()


def test_architecture_change_ships_code_for_the_new_architecture(
    role: None, tree: Path, config_dir: Path
) -> None:
    setup(context(tree, config_dir))
    edit_config(config_dir, "dev", lambda data: data["lambda"].update(architecture="x86_64"))
    ctx = context(tree, config_dir)
    params = record_params(ctx, "UpdateFunctionCode")
    setup(ctx)
    # Only update_function_code can change the architecture (moto does not apply it).
    assert len(params) == len(handlers.FUNCTIONS)
    assert {p["Architectures"][0] for p in params} == {"x86_64"}
    assert "lambda.UpdateFunctionConfiguration" not in ctx.clients.counter.calls


# --- delete and ownership ---------------------------------------------------------------------


def test_cleanup_deletes_functions_then_log_groups(role: None, tree: Path) -> None:
    setup(context(tree))
    report = engine.cleanup(context(tree), STEPS, dry_run=False, progress=_quiet)
    assert report.ok
    assert [c.name for c in report.changes][:2] == [  # the last function first
        "aurora-restore-recover-execution-dev",
        "/aws/lambda/aurora-restore-recover-execution-dev",
    ]
    assert set(actions(report).values()) == {Action.DELETED}
    assert existing_functions() == set()
    assert existing_log_groups() == set()
    again = engine.cleanup(context(tree), STEPS, dry_run=False, progress=_quiet)
    assert set(actions(again).values()) == {Action.ABSENT}


def test_foreign_same_named_function_is_left_alone(role: None, tree: Path) -> None:
    lam = boto3.client("lambda", REGION)
    name = "aurora-restore-verify-dev"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE_ARN,
        Handler="app.handler",
        Code={
            "ZipFile": Packager(tree, default_cache_dir())
            .build("check_copy", make_context_settings())
            .data
        },
        MemorySize=128,
    )
    report = setup(context(tree))
    assert actions(report)[name] is Action.FOREIGN
    assert not report.ok
    assert {a for n, a in actions(report).items() if n != name} == {Action.CREATED}
    config = lam.get_function(FunctionName=name)["Configuration"]
    assert (config["Runtime"], config["MemorySize"], config["Handler"]) == (
        "python3.11",
        128,
        "app.handler",
    )

    cleanup = engine.cleanup(context(tree), STEPS, dry_run=False, progress=_quiet)
    assert actions(cleanup)[name] is Action.FOREIGN
    assert existing_functions() == {name}


# --- IAM propagation --------------------------------------------------------------------------


class RecordingSleep:
    """Records waits (from any worker thread); calls `then` at the `after`-th wait."""

    def __init__(self, after: int | None = None, then: Callable[[], None] | None = None) -> None:
        self.waits: list[float] = []
        self.after, self.then = after, then
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            if self.then is not None and len(self.waits) == self.after:
                self.then()


def test_create_retries_while_the_role_is_not_yet_assumable(aws: None, tree: Path) -> None:
    sleep = RecordingSleep(after=2, then=create_role)  # the role "propagates" after two waits
    ctx = context(tree, sleep=sleep)
    report = setup(ctx)
    assert report.ok, report.failures
    # Functions are created concurrently: every refused create waited once, then retried.
    assert len(sleep.waits) >= 2
    assert set(sleep.waits) <= {propagation.FIRST_DELAY, 2 * propagation.FIRST_DELAY}
    retried = len(handlers.FUNCTIONS) + len(sleep.waits)
    assert ctx.clients.counter.calls["lambda.CreateFunction"] == retried
    assert existing_functions() == set(function_names())


def test_role_retry_is_bounded(aws: None, tree: Path) -> None:
    sleep = RecordingSleep()
    report = setup(context(tree, sleep=sleep))
    assert not report.ok
    assert len(report.failures) == len(handlers.FUNCTIONS)
    assert all("cannot be assumed" in failure for failure in report.failures)
    # Each function waits at most ROLE_WAIT_SECONDS in all, in backoff steps.
    assert sum(sleep.waits) == pytest.approx(len(handlers.FUNCTIONS) * propagation.ROLE_WAIT_SECONDS)
    assert max(sleep.waits) <= propagation.MAX_DELAY
    assert existing_functions() == set()


def test_other_invalid_parameters_are_not_retried(
    role: None, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    sleep = RecordingSleep()
    ctx = context(tree, sleep=sleep)
    error = {"Error": {"Code": "InvalidParameterValueException", "Message": "bad runtime"}}
    client = ctx.clients.get("lambda")

    def refuse(**_: Any) -> None:
        raise ClientError(error, "CreateFunction")

    monkeypatch.setattr(client, "create_function", refuse)
    report = setup(ctx)
    assert "bad runtime" in report.failures[0]
    assert sleep.waits == []


def test_stubbed_role_error_twice_then_success(
    role: None, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same retry against AWS's exact answer, injected in front of the real call."""
    from botocore.exceptions import ClientError

    sleep = RecordingSleep()
    ctx = context(tree, sleep=sleep)
    ctx.clients.concurrency = 1  # one function at a time: the backoff of one create, exactly
    client = ctx.clients.get("lambda")
    real = client.create_function
    failures = [2]
    message = "The role defined for the function cannot be assumed by Lambda."

    def flaky(**kwargs: Any) -> Any:
        if failures[0]:
            failures[0] -= 1
            error = {"Error": {"Code": "InvalidParameterValueException", "Message": message}}
            raise client.exceptions.InvalidParameterValueException(error, "CreateFunction")
        return real(**kwargs)

    monkeypatch.setattr(client, "create_function", flaky)
    report = setup(ctx)
    assert report.ok, report.failures
    assert sleep.waits == [2.0, 4.0]
    assert issubclass(client.exceptions.InvalidParameterValueException, ClientError)


# --- sandbox -----------------------------------------------------------------------------------


def test_sandbox_functions_skip_the_database_and_do_not_wait_for_iam(aws: None, tree: Path) -> None:
    sleep = RecordingSleep()
    failed = setup(context(tree, sandbox=True, sleep=sleep))
    assert not failed.ok and sleep.waits == []  # no role yet: fails at once, nothing waits

    create_role()
    ctx = context(tree, sandbox=True)
    assert setup(ctx).ok
    variables = boto3.client("lambda", REGION).get_function(
        FunctionName="aurora-restore-verify-dev"
    )["Configuration"]["Environment"]["Variables"]
    assert variables["AURORA_RESTORE_DB_MODE"] == "skip"
    from handlers.lib import db

    assert db.MODE_ENV == lambdas.DB_MODE_ENV
    assert db.db_mode(variables) == "skip"


def test_a_package_that_cannot_be_built_is_reported_not_raised(aws: None, tree: Path) -> None:
    (tree / "check_copy.py").unlink()
    create_role()
    report = setup(context(tree))
    assert not report.ok
    assert actions(report)["aurora-restore-check-copy-dev"] is Action.FAILED
    assert "no handler module for step 'check_copy'" in report.failures[0]
