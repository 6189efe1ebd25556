"""The offline review of the documents: resources outside this env, wildcards, sizes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ...config.settings import Settings
from ...contract.naming import Names
from .arns import Arns
from .statements import VERSION, Document, Statement, kms_key_resource

# Sid → why this statement's resources are not (only) named after this env's resources.
RESOURCE_EXCEPTIONS: Mapping[str, str] = {
    "RdsDescribe": (
        "rds:DescribeDBClusters/DescribeDBInstances/DescribeDBClusterSnapshots/"
        "DescribeDBClusterEndpoints are authorised against '*' for listing, filtering and "
        "paging calls (and read the source region); DescribeAccountAttributes acts on no "
        "resource"
    ),
    "RdsParityParameterGroups": (
        "settings parity applies the old target's cluster and instance parameter groups, "
        "which the team names and owns (not ours to tag); the clusters and instances they go "
        "to are scoped by RdsModifyClusters and RdsParityInstances"
    ),
    "PassRolesToRds": (
        "settings parity associates the old target's IAM roles and its enhanced monitoring "
        "role, which the team names: any role of this account, passed only to "
        "rds.amazonaws.com or monitoring.rds.amazonaws.com (iam:PassedToService)"
    ),
    "SourceSnapshots": (
        "source snapshots are named by AWS (automated) or by people (manual/shared): scoped to "
        "the source account and region, to rds:<source>-* when only automated ones are used "
        "(beside this env's copies, which the copy is authorised against too)"
    ),
    "SecretsRandomPassword": "secretsmanager:GetRandomPassword acts on no resource",
    "Ec2Describe": "ec2:Describe* actions support no resource-level permissions",
    "Ec2NetworkInterfaces": (
        "Lambda's VPC network interfaces get ids chosen by AWS at creation "
        "(network-interface/* in this account and region); subnets and security groups are the "
        "configured ones"
    ),
    "DrillMetrics": (
        "cloudwatch:PutMetricData supports no resource-level permissions; the statement is "
        "limited to the drills' namespace by the cloudwatch:namespace condition"
    ),
    "LogDelivery": (
        "CloudWatch Logs vended log delivery for Step Functions (CreateLogDelivery etc., "
        "PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) supports no "
        "resource-level permissions"
    ),
}

WILDCARD_ACTIONS = ("*",)

def env_resources(settings: Settings, names: Names) -> set[str]:
    """Every ARN or ARN pattern of this env that an Allow statement may name (outside the
    RESOURCE_EXCEPTIONS statements)."""
    arns = Arns(settings, names)
    found = {
        *arns.clusters(),
        *arns.drill_clusters(),
        *arns.instances(),
        *arns.copies(),
        *arns.final_snapshots(),
        arns.subnet_group(),
        *arns.secrets(),
        *arns.functions(),
        arns.recovery_function(),
        *arns.function_log_groups(),
        *arns.run_log_groups(),
        arns.executions(),
        arns.drill_executions(),
        arns.recovery_executions(),
        names.recovery_state_machine_arn,
        names.table_arn,
        names.topic_arn,
        names.state_machine_arn,
        names.drill_state_machine_arn,
    }
    found.update(
        (arns.cluster_parameter_group(), arns.instance_parameter_group(), arns.option_group())
    )
    if arns.restores_in_place() and arns.restores_snapshots():
        found.add(arns.source_snapshots())
    if arns.restores_from_source():  # a clone or point-in-time restore reads it
        found.add(arns.source_cluster())
    vpc = settings.lambda_.vpc
    if vpc is not None:
        found.update(arns.ec2(f"subnet/{s}") for s in vpc.subnet_ids)
        found.update(arns.ec2(f"security-group/{g}") for g in vpc.security_group_ids)
    for key in (
        settings.source.kms_key_id,
        settings.target.kms_key_id,
        settings.secrets.kms_key_id,
        settings.audit.kms_key_id,
        settings.notifications.kms_key_id,
    ):
        resolved = kms_key_resource(key, names) if key else None
        if resolved is not None and resolved[1] is None:
            found.add(resolved[0])
    return found

def overlapping_clusters(settings: Settings) -> list[str]:
    """Protected (or source) cluster ids whose instances the `<target>-*` patterns would match."""
    prefix = settings.target.cluster_id.lower() + "-"
    ids = {cid.lower() for cid in settings.target.protected_cluster_ids}
    if (settings.source.region, settings.source.account_id) == (
        settings.region,
        settings.account_id,
    ):
        ids.add(settings.source.cluster_id.lower())
    return sorted(cid for cid in ids if cid.startswith(prefix))

def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]

def problems(document: Document, allowed: set[str], where: str = "") -> list[str]:
    """What is wrong with a policy: wildcard actions, unnamed statements, resources that are
    not this env's (outside RESOURCE_EXCEPTIONS). [] when it is fine."""
    found: list[str] = []
    prefix = f"{where}: " if where else ""
    statements = as_list(document.get("Statement"))
    if document.get("Version") != VERSION:
        found.append(f"{prefix}Version is not {VERSION}")
    for statement in statements:
        sid = statement.get("Sid") or ""
        here = f"{prefix}{sid or 'statement without Sid'}"
        if not sid:
            found.append(f"{here}: every statement needs a Sid")
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{here}: NotAction/NotResource are not used here")
        for action in as_list(statement.get("Action")):
            if action == "*" or str(action).endswith(":*"):
                found.append(f"{here}: wildcard action {action!r}")
        if statement.get("Effect") == "Deny":
            continue  # a Deny only takes away
        for resource in as_list(statement.get("Resource")):
            if resource in allowed or sid in RESOURCE_EXCEPTIONS:
                continue
            if _alias_key(statement, str(resource)):
                continue
            found.append(f"{here}: resource {resource!r} is not one of this env's")
    return found

def _alias_key(statement: Statement, resource: str) -> bool:
    """A key configured by alias: `key/*` of one account, narrowed by kms:ResourceAliases."""
    condition = statement.get("Condition") or {}
    aliases = (condition.get("ForAnyValue:StringEquals") or {}).get("kms:ResourceAliases")
    parts = resource.split(":")
    return bool(aliases) and len(parts) == 6 and parts[2] == "kms" and parts[5] == "key/*"

def inline_size(documents: Iterable[Document]) -> int:
    """Characters IAM counts against INLINE_SIZE_LIMIT (JSON without whitespace)."""
    return sum(len(json.dumps(doc, separators=(",", ":"))) for doc in documents)
