"""Test support for the pipeline tests: a moto "world" (source cluster + snapshot in one region,
target cluster, audit table, topic, secrets in another), deployment of our real definition and
functions, and helpers to run executions and read the audit trail and notifications.

Everything here runs inside `mock_aws(config=MOTO_CONFIG)`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto.moto_api._internal import mock_random

from aurora_restore_cli.contract import definition
from handlers import FUNCTIONS
from handlers.lib import polling

REGION = "us-east-1"
SOURCE_REGION = "us-west-2"
ACCOUNT = "123456789012"
ENV = "dev"
TARGET = "dev-orders"
SOURCE = "prod-orders"
TABLE = f"aurora-restore-audit-{ENV}"
TOPIC = f"aurora-restore-notifications-{ENV}"
MASTER_SECRET = f"aurora-restore/{ENV}/master"
APP_SECRET = f"aurora-restore/{ENV}/app"
DRILL_SECRET = f"aurora-restore/{ENV}/drill"
STATE_MACHINE = f"aurora-restore-pipeline-{ENV}"
OLD_MASTER_PASSWORD = "prod-master-Pa55word!"
# The master password of the same-region source cluster (clone and point-in-time worlds): a
# cluster restored from it starts with this one, and none the pipeline keeps may keep it.
PROD_MASTER_PASSWORD = "prod-only-Pa55word!"
APP_PASSWORD = "app-user-Pa55word#1"
PATHS = ("snapshot", "clone", "point_in_time")
WORLD_SEED = 20261206
# The engines × paths the failure and recovery suites run: every path on Aurora PostgreSQL, the
# snapshot path on Aurora MySQL. The restore paths are engine-neutral RDS and the database
# steps path-neutral, so each engine and each path meet every case without the whole product
# (the suite must stay well under ten minutes on two cores).
ENGINE_PATHS = [("aurora-postgresql", path) for path in PATHS] + [("aurora-mysql", "snapshot")]


def engine_paths(**kwargs: Any) -> Any:
    """`@engine_paths()`: a test runs once per ENGINE_PATHS (the module uses `each_engine`)."""
    return pytest.mark.parametrize(("each_engine", "path"), ENGINE_PATHS, indirect=["each_engine"],
                                   ids=[f"{e.removeprefix('aurora-')}-{p}" for e, p in ENGINE_PATHS],
                                   **kwargs)


MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
MANAGED_TAGS = [
    {"Key": "aurora-restore:managed-by", "Value": "aurora-restore"},
    {"Key": "aurora-restore:env", "Value": ENV},
]


@dataclass(frozen=True)
class EngineProfile:
    """What the world's clusters and the settings say about the engine (real version strings)."""

    engine: str
    version: str
    newer_minor: str  # a version the lower environment may have been upgraded to
    port: int
    log_exports: tuple[str, ...]
    master_user: str
    schema: str  # where the example tables live: PostgreSQL's schema, MySQL's database


ENGINES = {
    "aurora-postgresql": EngineProfile("aurora-postgresql", "15.4", "15.6", 5432, ("postgresql",),
                                       "postgres", "public"),
    "aurora-mysql": EngineProfile("aurora-mysql", "8.0.mysql_aurora.3.05.2",
                                  "8.0.mysql_aurora.3.06.0", 3306, ("error", "slowquery"),
                                  "admin", "orders"),
}
_profile = [ENGINES["aurora-postgresql"]]


def profile() -> EngineProfile:
    return _profile[-1]


@contextlib.contextmanager
def engine(name: str) -> Iterator[EngineProfile]:
    """The world and the settings of this block are of engine `name` (tests parametrize it)."""
    _profile.append(ENGINES[name])
    try:
        yield _profile[-1]
    finally:
        _profile.pop()


_SESSION = boto3.session.Session()  # one session: service models load once per test run
_CLIENTS: dict[tuple[str, str], Any] = {}


def client(service: str, region: str = REGION) -> Any:
    """A cached client (moto intercepts at send time, so clients outlive each mock_aws)."""
    key = (service, region)
    if key not in _CLIENTS:
        _CLIENTS[key] = _SESSION.client(service, region_name=region)  # type: ignore[call-overload]
    return _CLIENTS[key]


def rds(region: str = REGION) -> Any:
    return client("rds", region)


def function_name(step: str) -> str:
    return f"aurora-restore-{step.replace('_', '-')}-{ENV}"


def make_settings(
    target_kms: str | None,
    source_kms: str | None = None,
    source: dict[str, Any] | None = None,
    **target_overrides: Any,
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "env": ENV,
        "region": REGION,
        "account_id": ACCOUNT,
        "source": {
            "cluster_id": SOURCE,
            "region": SOURCE_REGION,
            "account_id": ACCOUNT,
            "snapshot_type": "any",
            "max_age_hours": 48,
            "kms_key_id": source_kms,
            "restore_from": "snapshot",
            "restore_paths": ["snapshot"],
        },
        "target": {
            "cluster_id": TARGET,
            "engine": profile().engine,
            "engine_version": profile().version,
            "allow_major_version_upgrade": False,
            "instance_class": "db.r6g.large",
            "serverless": None,
            "instance_count": 1,
            "subnet_group": None,
            "security_group_ids": ["sg-0a1b2c3d4e5f60718"],
            "kms_key_id": target_kms,
            "port": profile().port,
            "parameter_group": None,
            "iam_auth": False,
            "log_exports": list(profile().log_exports),
            "deletion_protection": False,
            "strategy": "swap",
            "final_snapshot": True,
            "delete_copied_snapshot": True,
            "protected_cluster_ids": [SOURCE, "dev-shared-reporting"],
            "final_snapshot_retention_days": 7,
            "failed_run_expiry_hours": 24,
        },
        "database": {
            "name": "orders",
            "connect_timeout_seconds": 10,
            "schemas": [profile().schema],
            "users": [{"name": "orders_app", "privilege": "read-write"}],
            "post_restore_sql": ["01_mask_pii.sql"],
            "verify": {"expected_tables": [{"name": f"{profile().schema}.customers",
                                            "min_rows": 1}]},
        },
        "audit_ttl_days": 30,
    }
    settings["target"].update(target_overrides)
    settings["source"].update(source or {})
    return settings


@dataclass
class World:
    """What a test starts from; ids and ARNs of what was created."""

    target_kms: str
    source_kms: str
    topic_arn: str
    role_arn: str
    snapshot_id: str
    snapshot_arn: str
    settings: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def create_cluster(
    cluster_id: str,
    region: str,
    *,
    tags: list[dict[str, str]] | None,
    instances: int = 1,
    kms: str | None = None,
    password: str = OLD_MASTER_PASSWORD,
) -> dict[str, Any]:
    client = rds(region)
    kwargs: dict[str, Any] = {}
    if kms:
        kwargs.update(StorageEncrypted=True, KmsKeyId=kms)
    cluster = client.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine=profile().engine,
        EngineVersion=profile().version,
        Port=profile().port,
        MasterUsername=profile().master_user,
        MasterUserPassword=password,
        Tags=tags or [],
        **kwargs,
    )["DBCluster"]
    for n in range(1, instances + 1):
        client.create_db_instance(
            DBInstanceIdentifier=f"{cluster_id}-{n}",
            DBClusterIdentifier=cluster_id,
            Engine=profile().engine,
            DBInstanceClass="db.r6g.large",
        )
    return dict(cluster)


def build_world(**target_overrides: Any) -> World:
    """Source cluster + snapshot in us-west-2; tagged target, table, topic, secrets in us-east-1.

    moto's ids (key ids, secret ARN suffixes, …) are seeded first, so every world of the same
    shape has the same ARNs, and the definition rendered with them is the same text: moto
    parses a definition once per text (moto_patches), and parsing is ~1.2 s of a test."""
    mock_random.seed(WORLD_SEED)
    target_kms = client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    source_kms = client("kms", SOURCE_REGION).create_key()["KeyMetadata"]["Arn"]
    create_cluster(SOURCE, SOURCE_REGION, tags=[{"Key": "team", "Value": "orders"}], kms=source_kms)
    snapshot = rds(SOURCE_REGION).create_db_cluster_snapshot(
        DBClusterIdentifier=SOURCE,
        DBClusterSnapshotIdentifier="prod-orders-manual-1",
        Tags=[{"Key": "team", "Value": "orders"}],
    )["DBClusterSnapshot"]
    create_cluster(TARGET, REGION, tags=[*MANAGED_TAGS, {"Key": "team", "Value": "dev"}])
    client("dynamodb", REGION).create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "operation_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "operation_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    topic_arn = client("sns", REGION).create_topic(Name=TOPIC)["TopicArn"]
    secrets = client("secretsmanager", REGION)
    secrets.create_secret(
        Name=MASTER_SECRET,
        SecretString=json.dumps({"username": profile().master_user,
                                 "password": OLD_MASTER_PASSWORD}),
    )
    secrets.create_secret(
        Name=APP_SECRET,
        SecretString=json.dumps(
            {
                "host": "old.example",
                "port": profile().port,
                "dbname": "orders",
                "users": {"orders_app": APP_PASSWORD},
            }
        ),
    )
    role_arn = client("iam", REGION).create_role(
        RoleName=f"aurora-restore-lambda-role-{ENV}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    return World(
        target_kms=target_kms,
        source_kms=source_kms,
        topic_arn=topic_arn,
        role_arn=role_arn,
        snapshot_id=snapshot["DBClusterSnapshotIdentifier"],
        snapshot_arn=snapshot["DBClusterSnapshotArn"],
        settings=make_settings(target_kms, source_kms, **target_overrides),
    )


def add_same_region_source(world: World) -> dict[str, Any]:
    """The production cluster `prod-orders` in the target's region too (its own key, its own
    master password, one instance): what a clone or a point-in-time restore reads."""
    if "local_source" not in world.extra:
        kms = client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
        cluster = create_cluster(
            SOURCE,
            REGION,
            tags=[{"Key": "team", "Value": "orders"}],
            kms=kms,
            password=PROD_MASTER_PASSWORD,
        )
        world.extra["local_source"] = {"kms": kms, "arn": cluster["DBClusterArn"]}
    return dict(world.extra["local_source"])


def path_settings(world: World, path: str, **target_overrides: Any) -> dict[str, Any]:
    """The world's settings for a run that restores by `path`: the snapshot path as before;
    a clone or a point-in-time restore from the same-region source (`add_same_region_source`),
    with `source.restore_from` set to the path."""
    if path == "snapshot":
        return make_settings(world.target_kms, world.source_kms, **target_overrides)
    local = add_same_region_source(world)
    source = {
        "region": REGION,
        "kms_key_id": local["kms"],
        "restore_from": path,
        "restore_paths": [path],
    }
    return make_settings(world.target_kms, local["kms"], source=source, **target_overrides)


def source_fingerprint(region: str = REGION) -> dict[str, Any] | None:
    """What must never change on the production cluster (a clone or point-in-time restore only
    reads it): identity, status, tags, members, protection, and its master password."""
    found = cluster(SOURCE, region)
    if found is None:
        return None
    from moto.rds.models import rds_backends

    return {
        "arn": found["DBClusterArn"],
        "status": found["Status"],
        "tags": sorted((t["Key"], t["Value"]) for t in found["TagList"]),
        "members": sorted(m["DBInstanceIdentifier"] for m in found["DBClusterMembers"]),
        "protection": found.get("DeletionProtection"),
        "password": rds_backends[ACCOUNT][region].clusters[SOURCE]._master_user_password,
    }


def lambda_environment(world: World, db_mode: str = "skip") -> dict[str, str]:
    """The variables CONTRACT.md says the CLI sets on every function."""
    return {
        "ENVIRONMENT": ENV,
        "DYNAMODB_TABLE": TABLE,
        "SNS_TOPIC": world.topic_arn,
        "MASTER_SECRET_ID": MASTER_SECRET,
        "APP_SECRET_ID": APP_SECRET,
        "DRILL_SECRET_ID": DRILL_SECRET,
        "AURORA_RESTORE_DB_MODE": db_mode,
    }


def compressed_pipeline(poll_interval: int, max_attempts: int, timeout: int) -> dict[str, Any]:
    """The definition's `pipeline` block with every wait loop checking every `poll_interval`
    seconds (0: at once) and giving up after `max_attempts` checks."""
    loop = {
        "first_seconds": poll_interval,
        "poll_seconds": poll_interval,
        "max_seconds": poll_interval * max_attempts,
        "max_polls": max_attempts,
    }
    return {
        "timeout_seconds": timeout,
        "poll_growth_percent": 0,
        "waits": {key: dict(loop) for key in polling.LOOPS},
    }


def deploy(
    world: World,
    *,
    poll_interval: int = 0,
    max_attempts: int = 6,
    timeout: int = 300,
    settings: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> str:
    """Create one function per handlers.FUNCTIONS entry (every step and the recovery function)
    and the state machine from our rendered definition.

    `overrides` replaces placeholder values (e.g. the pipeline numbers of a real config, for the
    timeline bench); by default the waits are compressed to `poll_interval` seconds."""
    lam = client("lambda", REGION)
    arns: dict[str, str] = {}
    for step in FUNCTIONS:
        arns[step] = lam.create_function(
            FunctionName=function_name(step),
            Runtime="python3.12",
            Role=world.role_arn,
            Handler=f"handlers.{step}.handler",
            Code={"ZipFile": b"irrelevant: the router runs the code in-process"},
            Timeout=300,
            Environment={"Variables": lambda_environment(world)},
        )["FunctionArn"]
    template = definition.load_template()
    values: dict[str, Any] = {
        definition.function_arn_placeholder(s): a
        for s, a in arns.items()
        if "${" + definition.function_arn_placeholder(s) + "}" in template
    }
    values.update(
        Settings=settings or world.settings,
        Pipeline=compressed_pipeline(poll_interval, max_attempts, timeout),
        TimeoutSeconds=timeout,
    )
    values.update(overrides or {})
    rendered = definition.render(template, values)
    problems = definition.validate(rendered, set(arns.values()))
    assert problems == [], problems
    sfn = client("stepfunctions", REGION)
    return str(
        sfn.create_state_machine(
            name=STATE_MACHINE,
            definition=rendered,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/aurora-restore-stepfunctions-role-{ENV}",
        )["stateMachineArn"]
    )


TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def run(
    state_machine_arn: str,
    name: str,
    request: dict[str, Any] | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Start an execution named `name` and wait (bounded) for a terminal status."""
    sfn = client("stepfunctions", REGION)
    execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name,
        input=json.dumps(request or {"snapshot_id": None, "requested_by": "tests"}),
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL:
            return dict(described)
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {name} still {described['status']} after {timeout}s")
        time.sleep(0.02)


def history(execution_arn: str) -> list[dict[str, Any]]:
    sfn = client("stepfunctions", REGION)
    return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])


def entered_states(execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def wait_until_entered(execution_arn: str, state: str, timeout: float = 60.0) -> None:
    """Poll (with a pause: a tight loop starves the interpreter's threads of the GIL) until the
    execution has entered `state`; it must still be RUNNING."""
    deadline = time.monotonic() + timeout
    while state not in entered_states(execution_arn):
        wait_for(execution_arn, {"RUNNING"}, timeout=1)
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} never entered {state} in {timeout}s")
        time.sleep(0.05)


def audit_items(operation_id: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    response = client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="operation_id = :op",
        ExpressionAttributeValues={":op": {"S": operation_id}},
    )
    plain = TypeDeserializer()
    return [{k: plain.deserialize(v) for k, v in item.items()} for item in response["Items"]]


def lock_item() -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    key = {"operation_id": {"S": f"lock#{TARGET}"}, "timestamp": {"S": "LOCK"}}
    item = client("dynamodb").get_item(TableName=TABLE, Key=key).get("Item")
    plain = TypeDeserializer()
    return {k: plain.deserialize(v) for k, v in item.items()} if item else None


def notifications(topic_arn: str) -> list[dict[str, Any]]:
    """What was published to the topic (moto's in-process record)."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT][REGION].topics[topic_arn]
    return [
        {"message_id": n[0], "message": n[1], "subject": n[2]} for n in topic.sent_notifications
    ]


def cluster(cluster_id: str, region: str = REGION) -> dict[str, Any] | None:
    try:
        return dict(
            rds(region).describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        )
    except rds(region).exceptions.DBClusterNotFoundFault:
        return None


def cluster_ids(region: str = REGION) -> set[str]:
    return {c["DBClusterIdentifier"] for c in rds(region).describe_db_clusters()["DBClusters"]}


def age_snapshot(snapshot_id: str, hours: float, region: str = SOURCE_REGION) -> None:
    """moto stamps snapshots with 'now'; move one into the past."""
    from moto.rds.models import rds_backends

    snapshot = rds_backends[ACCOUNT][region].cluster_snapshots[snapshot_id]
    snapshot.created = snapshot.created - timedelta(hours=hours)


def secret_values(region: str = REGION) -> dict[str, str]:
    secrets = client("secretsmanager", region)
    return {
        name: secrets.get_secret_value(SecretId=name)["SecretString"]
        for name in (MASTER_SECRET, APP_SECRET)
    }


class DocumentFactory:
    """State documents as the definition's first two states build them (for unit tests)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def __call__(self, operation_id: str = "op-unit", **extra: Any) -> dict[str, Any]:
        document: dict[str, Any] = {
            "operation_id": operation_id,
            "started_at": "2026-01-01T00:00:00Z",
            "request": {"snapshot_id": None, "requested_by": "tests"},
            "pipeline": compressed_pipeline(1, 5, 600),
            "poll": {
                "what": "none",
                "attempt": 0,
                "ready": False,
                "status": "none",
                "wait_seconds": 0,
                "waited_seconds": 0,
            },
            "timings": {},
            "settings": copy.deepcopy(self.world.settings),
        }
        document.update(extra)
        return document


def execution_arn(operation_id: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{STATE_MACHINE}:{operation_id}"


def start(state_machine_arn: str, name: str, request: dict[str, Any] | None = None) -> str:
    """Start an execution without waiting for it."""
    return str(
        client("stepfunctions", REGION).start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=json.dumps(request or {"snapshot_id": None, "requested_by": "tests"}),
        )["executionArn"]
    )


def wait_for(execution_arn: str, statuses: set[str], timeout: float = 30.0) -> dict[str, Any]:
    sfn = client("stepfunctions", REGION)
    deadline = time.monotonic() + timeout
    while True:
        described = dict(sfn.describe_execution(executionArn=execution_arn))
        if described["status"] in statuses:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still {described['status']} after {timeout}s")
        time.sleep(0.02)


def invoke(function_step: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Invoke one of our deployed functions through moto's Lambda (the router runs it)."""
    response = client("lambda", REGION).invoke(
        FunctionName=function_name(function_step), Payload=json.dumps(payload).encode()
    )
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return dict(body)


def status_change_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event Step Functions sends when an execution ends (documented shape:
    https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html); moto sends none."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": int(execution["startDate"].timestamp() * 1000),
            # moto leaves stopDate out of a TIMED_OUT execution; AWS always sets it.
            "stopDate": int(
                execution.get("stopDate", datetime.now(timezone.utc)).timestamp() * 1000
            ),
            "input": execution.get("input"),
            "output": None,
        },
    }


def secret_stages(secret: str = MASTER_SECRET) -> dict[str, list[str]]:
    described = client("secretsmanager").describe_secret(SecretId=secret)
    return {k: sorted(v) for k, v in described["VersionIdsToStages"].items()}


def master_password_of(cluster_id: str) -> str:
    """What moto holds as the cluster's master password (AWS cannot tell us; moto can)."""
    from moto.rds.models import rds_backends

    return str(rds_backends[ACCOUNT][REGION].clusters[cluster_id]._master_user_password)


def manual_snapshots(region: str = REGION) -> dict[str, dict[str, str]]:
    """Manual cluster snapshots in `region`: id → tags."""
    found = rds(region).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return {
        s["DBClusterSnapshotIdentifier"]: {t["Key"]: t["Value"] for t in s.get("TagList", [])}
        for s in found
    }


def world_state(region: str = REGION) -> dict[str, Any]:
    """Everything a recovery could change, for "running it twice changes nothing more"."""
    clusters = rds(region).describe_db_clusters()["DBClusters"]
    instances = rds(region).describe_db_instances()["DBInstances"]
    return {
        "clusters": sorted(
            (
                c["DBClusterIdentifier"],
                c["Status"],
                sorted((t["Key"], t["Value"]) for t in c["TagList"]),
            )
            for c in clusters
        ),
        "instances": sorted(
            (i["DBInstanceIdentifier"], i["DBClusterIdentifier"]) for i in instances
        ),
        "snapshots": manual_snapshots(region),
        "secret": secret_stages(),
        "lock": lock_item(),
    }


def age_source(hours: float, region: str = REGION, cluster_id: str = SOURCE) -> None:
    """moto's restorable window starts when the cluster was made: move its start back."""
    from moto.rds.models import rds_backends

    found = rds_backends[ACCOUNT][region].clusters[cluster_id]
    found.earliest_restorable_time = found.earliest_restorable_time - timedelta(hours=hours)


RECOVERY_STATE_MACHINE = f"aurora-restore-recovery-{ENV}"


def deploy_recovery(max_passes: int, wait_seconds: int = 0, timeout: int = 300) -> str:
    """Automatic recovery's state machine from our definition (definitions/recovery.asl.json),
    invoking the deployed recovery function (`deploy` first): at most `max_passes` passes,
    `wait_seconds` apart (0: at once)."""
    from aurora_restore_cli.contract import recovery_definition

    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name('recover_execution')}"
    plan = recovery_definition.RecoveryPlan(
        ("rename",), 0, (*[wait_seconds] * (max_passes - 1), 0), 300
    )
    values: dict[str, Any] = {
        recovery_definition.FUNCTION_PLACEHOLDER: function_arn,
        "Recovery": recovery_definition.block(plan),
        "RecoveryTimeoutSeconds": timeout,
    }
    template = definition.load_template(recovery_definition.TEMPLATE_PATH)
    rendered = definition.render(template, values)
    problems = definition.validate(rendered, {function_arn})
    assert problems == [], problems
    return str(
        client("stepfunctions", REGION).create_state_machine(
            name=RECOVERY_STATE_MACHINE,
            definition=rendered,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/aurora-restore-recovery-role-{ENV}",
        )["stateMachineArn"]
    )


def recovery_execution_arn(operation_id: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{RECOVERY_STATE_MACHINE}:{operation_id}"
