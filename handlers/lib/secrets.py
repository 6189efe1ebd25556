"""Secrets Manager helpers: JSON secrets, read and written without ever logging values.

The master secret's versions during a run (contract, handlers/CONTRACT.md):
`reset_master_password` stages the staging cluster's new password as this operation's version
(`master_version_id`), labelled AWSPENDING; the database steps read that version; `finalize`
(or the failure path when it rolls forward) promotes it to AWSCURRENT once the new cluster
serves under the target id. A failed run never touches AWSCURRENT: it keeps opening the
cluster that still serves.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from handlers.lib.errors import SettingsInvalid

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"


def secret_id(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise SettingsInvalid(f"environment variable {variable} is not set")
    return value


def master_version_id(operation_id: str) -> str:
    """The master-secret version an operation stages (a retried invocation reuses it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aurora-restore:{operation_id}:master"))


def read_json(client: Any, secret: str, **kwargs: Any) -> dict[str, Any]:
    response = client.get_secret_value(SecretId=secret, **kwargs)
    try:
        value = json.loads(response.get("SecretString") or "{}")
    except ValueError:
        raise SettingsInvalid(f"secret {secret} does not hold JSON") from None
    if not isinstance(value, dict):
        raise SettingsInvalid(f"secret {secret} does not hold a JSON object")
    return value


def stages(client: Any, secret: str) -> dict[str, list[str]]:
    """Version id → its staging labels."""
    versions = client.describe_secret(SecretId=secret).get("VersionIdsToStages") or {}
    return {str(version): list(labels) for version, labels in versions.items()}


def current_version(client: Any, secret: str) -> str | None:
    for version, labels in stages(client, secret).items():
        if CURRENT in labels:
            return version
    return None


def promote(client: Any, secret: str, version: str) -> bool:
    """Make `version` AWSCURRENT (the previous one becomes AWSPREVIOUS) and drop its
    AWSPENDING label. False when there was nothing to do (or no such version)."""
    labels = stages(client, secret)
    if version not in labels:
        return False
    changed = False
    if CURRENT not in labels[version]:
        current = next((v for v, s in labels.items() if CURRENT in s), None)
        client.update_secret_version_stage(
            SecretId=secret,
            VersionStage=CURRENT,
            MoveToVersionId=version,
            **({"RemoveFromVersionId": current} if current else {}),
        )
        changed = True
    if PENDING in labels[version]:
        client.update_secret_version_stage(
            SecretId=secret, VersionStage=PENDING, RemoveFromVersionId=version
        )
        changed = True
    return changed
