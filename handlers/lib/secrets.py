"""Secrets Manager helpers: JSON secrets, read and written without ever logging values.

The master secret's versions during a run (contract, handlers/CONTRACT.md):
`reset_master_password` stages the staging cluster's new password as this operation's version
(`master_version_id`), labelled AWSPENDING and `aurora-restore-<token>` (`cluster_label`); the
database steps read that version; `finalize` (or the failure path when it rolls forward)
promotes it to AWSCURRENT once the new cluster serves under the target id. A failed run never
touches AWSCURRENT: it keeps opening the cluster that still serves.

AWSPENDING moves to the next run's version and AWSPREVIOUS falls off two runs later, so the
cluster an operation restored is found by that operation's own label, wherever it sits (kept
for inspection as `<target>-stg-<token>`, serving as the target, kept as `<target>-old-…`):
`aurora-restore-<token>`. Secrets Manager limits the staging labels of a secret, so the label
goes once no cluster restored by that operation is left: the expiry sweep removes it
(`stale_cluster_labels`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable
from typing import Any

from handlers.lib import aws, naming
from handlers.lib.errors import SettingsInvalid

# RDS forbids / " @ and space in master passwords; quotes and backslash are left out too.
MASTER_PASSWORD_EXCLUDED = "/\"@' \\`"
CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
LABEL_PREFIX = "aurora-restore-"
CLUSTER_LABEL = re.compile(re.escape(LABEL_PREFIX) + naming.TOKEN)


def secret_id(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise SettingsInvalid(f"environment variable {variable} is not set")
    return value


def master_version_id(operation_id: str) -> str:
    """The master-secret version an operation stages (a retried invocation reuses it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aurora-restore:{operation_id}:master"))


def cluster_label(operation_id: str) -> str:
    """The version label that finds the password of the cluster an operation restored (the
    token of the operation, as in `<target>-stg-<token>`)."""
    return LABEL_PREFIX + naming.token(operation_id)


def label_token(label: str) -> str | None:
    return label[len(LABEL_PREFIX) :] if CLUSTER_LABEL.fullmatch(label) else None


def attach_label(client: Any, secret: str, version: str, label: str) -> bool:
    """Put `label` on `version` (a retried step: if it is not there yet). True when added."""
    if label in stages(client, secret).get(version, []):
        return False
    client.update_secret_version_stage(SecretId=secret, VersionStage=label, MoveToVersionId=version)
    return True


def remove_labels(client: Any, secret: str, labels: Iterable[tuple[str, str]]) -> list[str]:
    """Remove each (version, label); returns the labels removed."""
    removed = []
    for version, label in labels:
        client.update_secret_version_stage(
            SecretId=secret, VersionStage=label, RemoveFromVersionId=version
        )
        removed.append(label)
    return removed


def stale_cluster_labels(client: Any, secret: str, live_tokens: set[str]) -> list[tuple[str, str]]:
    """(version, label) of every `aurora-restore-<token>` label whose operation's cluster is
    gone (`live_tokens`: the operations with a restored cluster left)."""
    return [
        (version, label)
        for version, labels in stages(client, secret).items()
        for label in labels
        if label_token(label) is not None and label_token(label) not in live_tokens
    ]


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
    AWSPENDING label (its cluster label stays: see the module docstring). False when there was
    nothing to do (or no such version)."""
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
        remove_labels(client, secret, [(version, PENDING)])
        changed = True
    return changed


def staged_master_password(
    client: Any, secret: str, operation_id: str, username: str,
    excluded: str = MASTER_PASSWORD_EXCLUDED,
) -> str:
    """The password of this operation's master-secret version, creating it on the first call
    (labelled AWSPENDING and the operation's cluster label): ResetMasterPassword applies it to
    the cluster the run restored, and the undo to one it keeps that still had production's.
    `excluded`: characters RDS refuses in master passwords (and a few more)."""
    version = master_version_id(operation_id)
    label = cluster_label(operation_id)
    try:
        value = read_json(client, secret, VersionId=version)
        attach_label(client, secret, version, label)
        return str(value["password"])
    except Exception as exc:
        if aws.error_code(exc) != "ResourceNotFoundException":
            raise
    previous = _current_value(client, secret)
    password = client.get_random_password(
        PasswordLength=32, ExcludeCharacters=excluded, RequireEachIncludedType=True
    )["RandomPassword"]
    value = {**previous, "username": username or previous.get("username") or "postgres"}
    value["password"] = password
    client.put_secret_value(
        SecretId=secret,
        ClientRequestToken=version,
        SecretString=json.dumps(value),
        VersionStages=[PENDING, label],
    )
    return str(password)


def _current_value(client: Any, secret: str) -> dict[str, Any]:
    try:
        return read_json(client, secret)
    except Exception as exc:
        if aws.error_code(exc) == "ResourceNotFoundException":
            return {}  # the secret exists but has no value yet
        raise
