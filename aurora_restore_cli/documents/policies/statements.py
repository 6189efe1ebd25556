"""Building blocks of the IAM documents: statements, documents and KMS grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...config.settings import Settings
from ...contract.naming import ENV_KEY, Names

Document = dict[str, Any]

Statement = dict[str, Any]

VERSION = "2012-10-17"

POLICY_PREFIX = "aurora-restore-"

def allow(sid: str, actions: Iterable[str], resources: Iterable[str] | str) -> Statement:
    res: list[str] | str = resources if isinstance(resources, str) else sorted(set(resources))
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": res}

def policy_document(statements: Iterable[Statement]) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}

def kms_key_resource(key: str, names: Names) -> tuple[str, str | None] | None:
    """(Resource, alias for a kms:ResourceAliases condition) for a configured key; None for
    AWS managed keys (`alias/aws/…`), whose key policies already allow use via the service."""
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        partition, region, account, resource = parts[1], parts[3], parts[4], parts[5]
    else:
        partition, region, account, resource = names.partition, names.region, names.account_id, key
    if resource.startswith("alias/aws/"):
        return None
    if resource.startswith("alias/"):
        return f"arn:{partition}:kms:{region}:{account}:key/*", resource
    key_id = resource.removeprefix("key/")
    return f"arn:{partition}:kms:{region}:{account}:key/{key_id}", None

def kms_grants(
    sid: str,
    key: str | None,
    actions: Iterable[str],
    service: str,
    names: Names,
    extra: Mapping[str, Mapping[str, str]] | None = None,
    region: str | None = None,
) -> list[Statement]:
    if not key:
        return []
    found = kms_key_resource(key, names)
    if found is None:
        return []
    resource, alias = found
    statement = allow(sid, actions, [resource])
    condition: dict[str, dict[str, str]] = {
        "StringEquals": {"kms:ViaService": f"{service}.{region or names.region}.amazonaws.com"}
    }
    if alias:
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": alias}
    for operator, values in (extra or {}).items():
        condition[operator] = dict(values)
    statement["Condition"] = condition
    return [statement]

RDS_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)

DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")

SOURCE_KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)

def tagged(statement: Statement, settings: Settings) -> Statement:
    """Only on resources tagged for this env — what the pipeline's guard also insists on."""
    statement["Condition"] = {"StringEquals": {f"aws:ResourceTag/{ENV_KEY}": settings.environment}}
    return statement
