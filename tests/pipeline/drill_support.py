"""Test support for restore drills on moto's Step Functions interpreter: deploy
definitions/drill.asl.json (rendered like the CLI does) beside the world of `support`, and take
fingerprints of the target that a drill must never change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aurora_restore_cli.contract import definition
from handlers import FUNCTIONS

from . import support
from .support import ACCOUNT, ENV, REGION, TARGET, World

DRILL_STATE_MACHINE = f"aurora-restore-drill-{ENV}"
VOLATILE = ("LatestRestorableTime", "EarliestRestorableTime")


def drill_settings(**overrides: Any) -> dict[str, Any]:
    """`settings.drill` as aurora_restore_cli.pipeline_settings.drill_settings renders it."""
    settings: dict[str, Any] = {
        "keep_minutes": 0,
        "max_keep_minutes": 720,
        "expiry_margin_seconds": 21600,
        "checks_sql": None,
        "instance_class": None,
        "metric_namespace": "AuroraRestore",
    }
    settings.update(overrides)
    return settings


def ensure_functions(world: World, environment: dict[str, str] | None = None) -> dict[str, str]:
    """One function per step and the recovery function (created once per world), with the
    Lambda environment."""
    lam = support.client("lambda", REGION)
    variables = {**support.lambda_environment(world), **(environment or {})}
    arns: dict[str, str] = {}
    for step in FUNCTIONS:
        name = support.function_name(step)
        try:
            config = lam.get_function(FunctionName=name)["Configuration"]
            lam.update_function_configuration(
                FunctionName=name, Environment={"Variables": variables}
            )
            arns[step] = config["FunctionArn"]
        except lam.exceptions.ResourceNotFoundException:
            arns[step] = lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=world.role_arn,
                Handler=f"handlers.{step}.handler",
                Code={"ZipFile": b"irrelevant: the router runs the code in-process"},
                Timeout=300,
                Environment={"Variables": variables},
            )["FunctionArn"]
    return arns


def ensure_drill_secret() -> None:
    """The drill secret as `setup drill` creates it (empty: each drill adds a version)."""
    secrets = support.client("secretsmanager", REGION)
    try:
        secrets.describe_secret(SecretId=support.DRILL_SECRET)
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name=support.DRILL_SECRET, SecretString="{}")


def deploy_drill(
    world: World,
    *,
    poll_interval: int = 0,
    max_attempts: int = 6,
    timeout: int = 300,
    drill: dict[str, Any] | None = None,
    environment: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> str:
    """The drill state machine from our rendered definition (and the drill secret);
    `settings`: other than the world's (support.path_settings for a clone or point in time)."""
    arns = ensure_functions(world, environment)
    ensure_drill_secret()
    template = definition.load_template(definition.DRILL_TEMPLATE_PATH)
    values: dict[str, Any] = {definition.function_arn_placeholder(s): a for s, a in arns.items()}
    values.update(
        Settings=settings or world.settings,
        DrillSettings=drill or drill_settings(),
        DrillPipeline=support.compressed_pipeline(poll_interval, max_attempts, timeout),
        DrillTimeoutSeconds=timeout,
    )
    used = set(definition.placeholders(template))
    rendered = definition.render(template, {k: v for k, v in values.items() if k in used})
    problems = definition.validate(rendered, set(arns.values()))
    assert problems == [], problems
    return str(
        support.client("stepfunctions", REGION).create_state_machine(
            name=DRILL_STATE_MACHINE,
            definition=rendered,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/aurora-restore-stepfunctions-role-{ENV}",
        )["stateMachineArn"]
    )


def drill_request(
    keep_minutes: int | None = None, snapshot_id: str | None = None,
    restore_from: str | None = None,
) -> dict[str, Any]:
    """The drill's execution input; `restore_from`: `drill --from`."""
    request: dict[str, Any] = {"snapshot_id": snapshot_id, "requested_by": "tests"}
    if keep_minutes is not None:
        request["keep_minutes"] = keep_minutes
    if restore_from is not None:
        request["restore_from"] = restore_from
    return request


def target_fingerprint() -> dict[str, Any]:
    """Everything RDS says about the target and its instances (but the clock-driven fields):
    a drill must leave all of it as it was — same ARN, creation time, id, tags, members."""
    rds = support.rds()
    cluster = support.cluster(TARGET)
    assert cluster is not None, "the target is gone"
    for key in VOLATILE:
        cluster.pop(key, None)
    members = sorted(m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"])
    instances = []
    for member in members:
        found = rds.describe_db_instances(DBInstanceIdentifier=member)["DBInstances"][0]
        found.pop("LatestRestorableTime", None)
        instances.append(found)
    return json.loads(json.dumps({"cluster": cluster, "instances": instances}, default=str))


@dataclass
class RdsWrites:
    """Every RDS call that is not a read, made by any handler during the test."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def touching(self, *identifiers: str) -> list[tuple[str, dict[str, Any]]]:
        wanted = {i.lower() for i in identifiers}
        keys = (
            "DBClusterIdentifier",
            "NewDBClusterIdentifier",
            "DBInstanceIdentifier",
            "ResourceName",
            "DBClusterSnapshotIdentifier",
        )
        return [
            (op, params)
            for op, params in self.calls
            if any(str(params.get(k, "")).lower() in wanted for k in keys)
        ]

    def operations(self, identifier: str) -> list[str]:
        return [op for op, _ in self.touching(identifier)]


@contextmanager
def recording_rds_writes() -> Iterator[RdsWrites]:
    from botocore.client import BaseClient

    writes = RdsWrites()
    original = BaseClient._make_api_call

    def recording(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "rds" and not operation.startswith(
            ("Describe", "List")
        ):
            writes.calls.append((operation, dict(params)))
        return original(self, operation, params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield writes
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def secret_versions(secret_id: str) -> dict[str, list[str]]:
    described = support.client("secretsmanager", REGION).describe_secret(SecretId=secret_id)
    return {k: sorted(v) for k, v in (described.get("VersionIdsToStages") or {}).items()}


def metric_maximum(metric: str, dimensions: dict[str, str]) -> float | None:
    """The largest value of a metric in the last hour, read back through CloudWatch's API."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    points = support.client("cloudwatch", REGION).get_metric_statistics(
        Namespace="AuroraRestore",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max((float(p["Maximum"]) for p in points), default=None)
