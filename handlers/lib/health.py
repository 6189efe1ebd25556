"""The health check every function answers from inside its own runtime (`aurora-restore
test-functions`): `{"health_check": true, "settings": {...}}` → a report; nothing else runs.

It never touches the pipeline: no audit item, no lock, no state document, no write. It says

- `package`: the code hash `setup` packaged into this function's zip (`handlers/package.json`,
  written by the CLI's packaging); the CLI compares it with what it would package now;
- `environment`: whether every variable the CLI sets (handlers/CONTRACT.md) is there, and
  names this env;
- `role`: whether the function's role may make its step's first read call (`PROBES`): the call
  is made, and "not found" counts as allowed (AWS authorises before it looks); AccessDenied
  names the action. A function whose first call writes (sns:Publish, the audit's PutItem) is
  probed with a read of the same resource family, and the report names the action probed;
- `database` (database steps only): connect to the target's endpoint over verified TLS as the
  master user and run `SELECT 1`, nothing more (skipped when the sandbox has no database).

`settings` is the settings document the state machine would place (the CLI renders it), so the
probes aim at this env's own resources. Nothing secret is returned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers import DATABASE_STEPS
from handlers.lib import aws, naming

HEALTH_KEY = "health_check"
PACKAGE_FILE = Path(__file__).resolve().parent.parent / "package.json"
PACKAGE_FILE_ENV = "AURORA_RESTORE_PACKAGE_FILE"  # the sandbox: where its zip's copy is
REQUIRED_ENVIRONMENT = (
    "ENVIRONMENT",
    "DYNAMODB_TABLE",
    "SNS_TOPIC",
    "MASTER_SECRET_ID",
    "APP_SECRET_ID",
    "DRILL_SECRET_ID",
)
HEALTH_OPERATION = "health-check"  # the operation id the probes derive names from
# The call was authorised; the resource just is not there (a probe aims at names a run uses).
ALLOWED_ERRORS = frozenset(
    {
        "DBClusterNotFoundFault",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "DBClusterSnapshotNotFoundFault",
        "ExecutionDoesNotExist",
        "ResourceNotFoundException",
    }
)
DENIED_ERRORS = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)

Settings = Mapping[str, Any]


def is_health_check(event: Any) -> bool:
    return isinstance(event, dict) and event.get(HEALTH_KEY) is True


@dataclass(frozen=True)
class Probe:
    """One read call: its IAM action, the resource ARN IAM authorises, and the call itself."""

    action: str
    resource: str
    call: Callable[[], Any]
    arn_key: str | None = None  # the answer names the resource's full ARN under this key


def report(module: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The health report of the function whose handler module is `module`."""
    settings = event.get("settings")
    parts: dict[str, Any] = {"package": package(), "environment": environment(settings)}
    if not isinstance(settings, dict):
        parts["role"] = {"ok": False, "detail": "the health-check event has no settings"}
    else:
        parts["role"] = role(module, settings)
        if module in DATABASE_STEPS:
            parts["database"] = database(settings)
    return {HEALTH_KEY: True, "function": module, **parts,
            "ok": all(part.get("ok", False) for part in parts.values())}


def package() -> dict[str, Any]:
    file = Path(os.environ.get(PACKAGE_FILE_ENV) or PACKAGE_FILE)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {"ok": False, "code_hash": None,
                "detail": "no package.json in the zip: not packaged by aurora-restore setup"}
    return {"ok": True, "code_hash": data.get("code_hash"), "step": data.get("step")}


def environment(settings: Any) -> dict[str, Any]:
    missing = [name for name in REQUIRED_ENVIRONMENT if not os.environ.get(name)]
    problems = [f"{name} is not set" for name in missing]
    env = os.environ.get("ENVIRONMENT")
    wanted = settings.get("env") if isinstance(settings, dict) else None
    if env and wanted and env != wanted:
        problems.append(f"ENVIRONMENT is {env!r}, not {wanted!r}")
    mode = os.environ.get("AURORA_RESTORE_DB_MODE", "")
    if mode.strip().lower() not in ("", "real", "skip", "override"):
        problems.append("AURORA_RESTORE_DB_MODE must be unset, 'skip' or 'override'")
    if problems:
        return {"ok": False, "missing": missing, "detail": "; ".join(problems)}
    return {"ok": True, "detail": f"{len(REQUIRED_ENVIRONMENT)} variables set"}


def role(module: str, settings: Settings) -> dict[str, Any]:
    """Make the step's first read call; allowed unless AWS says the role may not."""
    try:
        probe = probe_for(module, settings)
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "detail": f"the settings lack what the probe needs: {exc}"}
    outcome: dict[str, Any] = {"action": probe.action, "resource": probe.resource}
    try:
        answer = probe.call()
    except Exception as exc:
        code = aws.error_code(exc)
        if code in ALLOWED_ERRORS:
            return {**outcome, "ok": True, "detail": f"allowed ({code}: not there yet)"}
        if code in DENIED_ERRORS:
            return {**outcome, "ok": False, "denied": True,
                    "detail": f"{code}: the role may not call {probe.action}"}
        return {**outcome, "ok": False, "detail": f"{code or type(exc).__name__}: {exc}"[:500]}
    if probe.arn_key and isinstance(answer, dict) and answer.get(probe.arn_key):
        outcome["resource"] = str(answer[probe.arn_key])
    return {**outcome, "ok": True, "detail": "allowed"}


def database(settings: Settings) -> dict[str, Any]:
    """Connect over verified TLS as the master user, `SELECT 1`, close."""
    from handlers.lib import database  # the database steps' zips carry a driver; the others not

    target_id = str(settings["target"]["cluster_id"])
    document = {"operation_id": HEALTH_OPERATION, "settings": dict(settings),
                "staging_cluster_id": target_id}
    reason = database.skip_reason(document)
    if reason:
        return {"ok": True, "skipped": True, "detail": reason}
    try:
        step = database.step_database(document)
        where = {"host": step.target.host, "port": step.target.port,
                 "database": step.target.database, "tls": step.target.tls_mode}
        if step.target.tls is None:
            return {**where, "ok": False, "detail": "TLS is switched off"}
        with step.session(step.admin()) as conn:
            answered = step.engine.select_one(conn)
    except Exception as exc:  # the step's own named errors carry no secrets (lib/db.py)
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:500]}
    if not answered:
        return {**where, "ok": False, "detail": "SELECT 1 did not return 1"}
    return {**where, "ok": True, "detail": "SELECT 1 over verified TLS"}


# --- what each step reads first ------------------------------------------------------------


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition(region)}:{service}:{region}:{account}:{resource}"


def probe_for(module: str, settings: Settings) -> Probe:
    region, account = str(settings["region"]), str(settings["account_id"])
    target = str(settings["target"]["cluster_id"])
    rds = aws.client("rds", region)

    def cluster() -> Probe:
        return Probe("rds:DescribeDBClusters", _arn("rds", region, account, f"cluster:{target}"),
                     lambda: rds.describe_db_clusters(DBClusterIdentifier=target))

    if module == "find_snapshot":
        source = settings["source"]
        source_region, source_id = str(source["region"]), str(source["cluster_id"])
        source_account = str(source.get("account_id") or account)
        return Probe(
            "rds:DescribeDBClusterSnapshots",
            _arn("rds", source_region, source_account, f"cluster:{source_id}"),
            lambda: aws.client("rds", source_region).describe_db_cluster_snapshots(
                DBClusterIdentifier=source_id, MaxRecords=20
            ),
        )
    if module == "choose_source":  # the source cluster itself (a clone, a point in time)
        source = settings["source"]
        source_region, source_id = str(source["region"]), str(source["cluster_id"])
        source_account = str(source.get("account_id") or account)
        source_arn = _arn("rds", source_region, source_account, f"cluster:{source_id}")
        shared = source_account != account
        return Probe(
            "rds:DescribeDBClusters",
            source_arn,
            lambda: aws.client("rds", source_region).describe_db_clusters(
                DBClusterIdentifier=source_arn if shared else source_id,
                **({"IncludeShared": True} if shared else {}),
            ),
        )
    if module in ("copy_snapshot", "check_copy"):
        copy_id = naming.copy_snapshot_id(target, HEALTH_OPERATION)
        return Probe(
            "rds:DescribeDBClusterSnapshots",
            _arn("rds", region, account, f"cluster-snapshot:{copy_id}"),
            lambda: rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=copy_id),
        )
    if module == "create_instances":
        instance = naming.instance_id(target, HEALTH_OPERATION, 1)
        return Probe("rds:DescribeDBInstances", _arn("rds", region, account, f"db:{instance}"),
                     lambda: rds.describe_db_instances(DBInstanceIdentifier=instance))
    if module in DATABASE_STEPS:
        secret = os.environ.get("MASTER_SECRET_ID") or ""
        return Probe(
            "secretsmanager:DescribeSecret",
            _arn("secretsmanager", region, account, f"secret:{secret}"),
            lambda: aws.client("secretsmanager", region).describe_secret(SecretId=secret),
            arn_key="ARN",  # Secrets Manager appends -XXXXXX to the name
        )
    if module in ("acquire_lock", "release_lock", "record_failure", "notify_success",
                  "notify_failure", "drill_report"):
        table = os.environ.get("DYNAMODB_TABLE") or ""
        key = {"operation_id": {"S": f"lock#{target}"}, "timestamp": {"S": "LOCK"}}
        return Probe(
            "dynamodb:GetItem",
            _arn("dynamodb", region, account, f"table/{table}"),
            lambda: aws.client("dynamodb", region).get_item(TableName=table, Key=key),
        )
    if module == "recover_execution":
        machine = f"aurora-restore-pipeline-{settings['env']}"
        execution = _arn("states", region, account, f"execution:{machine}:{HEALTH_OPERATION}")
        return Probe(
            "states:DescribeExecution",
            execution,
            lambda: aws.client("stepfunctions", region).describe_execution(executionArn=execution),
        )
    return cluster()
