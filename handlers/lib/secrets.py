"""Secrets Manager helpers: JSON secrets, read and written without ever logging values."""

from __future__ import annotations

import json
import os
from typing import Any

from handlers.lib.errors import SettingsInvalid


def secret_id(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise SettingsInvalid(f"environment variable {variable} is not set")
    return value


def read_json(client: Any, secret: str, **kwargs: Any) -> dict[str, Any]:
    response = client.get_secret_value(SecretId=secret, **kwargs)
    try:
        value = json.loads(response.get("SecretString") or "{}")
    except ValueError:
        raise SettingsInvalid(f"secret {secret} does not hold JSON") from None
    if not isinstance(value, dict):
        raise SettingsInvalid(f"secret {secret} does not hold a JSON object")
    return value


def current_version(client: Any, secret: str) -> str | None:
    versions = client.describe_secret(SecretId=secret).get("VersionIdsToStages") or {}
    for version, stages in versions.items():
        if "AWSCURRENT" in stages:
            return str(version)
    return None
