"""Fixtures for the pipeline tests: fake credentials, moto with real Step Functions execution
and no-Docker Lambda, our handlers routed in-process, scripted RDS statuses, AWS's rules
(aws_rules: what real AWS refuses, refused here too) and the ownership rule (ownership: the
pipeline never writes to what is not ours; checked after every test) on for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from aurora_restore_cli.sandbox import lambda_router

from . import support
from .aws_rules import AwsRules
from .aws_rules import aws_rules as aws_rules_layer
from .moto_patches import RdsScript, patched_moto
from .ownership import Ownership, ownership_rule

FOREIGN_WRITES = "foreign_writes"  # marker: the test makes pipeline code write to foreign things


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{FOREIGN_WRITES}: the ownership rule's own tests (no check after the test)"
    )


@pytest.fixture(autouse=True)
def _aws_env() -> Iterator[None]:
    # Its own MonkeyPatch, not the `monkeypatch` fixture: that one must be set up after (and so
    # undone before) the fixtures below that patch moto's classes, or a test's
    # monkeypatch.setattr(RDSBackend, …) would be undone last and leave a stale wrapper.
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", support.REGION)
        yield


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config=support.MOTO_CONFIG):
        yield


@pytest.fixture(autouse=True)
def rds_script() -> Iterator[RdsScript]:
    """moto patched to behave like AWS where the pipeline relies on it (see moto_patches)."""
    with patched_moto() as script:
        yield script


@pytest.fixture(autouse=True)
def aws_rules(rds_script: RdsScript) -> Iterator[AwsRules]:
    """AWS's rules on top of moto (aws_rules): every pipeline test runs with them on."""
    with aws_rules_layer() as rules:
        yield rules


@pytest.fixture(autouse=True)
def ownership(aws_rules: AwsRules, request: pytest.FixtureRequest) -> Iterator[Ownership]:
    """The ownership rule (ownership.py) on for every test; after the test, no pipeline write
    may have gone to a resource that is not ours."""
    with ownership_rule(support.ENV, {support.TARGET}) as rule:
        yield rule
    if request.node.get_closest_marker(FOREIGN_WRITES) is None:
        assert rule.violations == [], "the pipeline wrote to what is not ours"


@pytest.fixture(params=sorted(support.ENGINES), ids=lambda e: e.removeprefix("aurora-"))
def each_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per engine (world, settings, versions: support.ENGINES). A module
    opts in with `pytestmark = pytest.mark.usefixtures("each_engine")`."""
    with support.engine(str(request.param)):
        yield str(request.param)


@pytest.fixture
def router() -> Iterator[None]:
    with lambda_router.routing():
        yield


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> support.World:
    """The moto world, with this process's environment set like a Lambda function's."""
    built = support.build_world()
    for name, value in support.lambda_environment(built).items():
        monkeypatch.setenv(name, value)
    return built


@pytest.fixture
def make_document(world: support.World) -> support.DocumentFactory:
    return support.DocumentFactory(world)
