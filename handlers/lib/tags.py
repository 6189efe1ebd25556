"""Our tags (contract): every cluster, copy and instance we create carries them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MANAGED_BY_KEY = "aurora-restore:managed-by"
MANAGED_BY_VALUE = "aurora-restore"
ENV_KEY = "aurora-restore:env"
OPERATION_KEY = "aurora-restore:operation"


def managed(env: str, operation_id: str | None = None) -> dict[str, str]:
    tags = {MANAGED_BY_KEY: MANAGED_BY_VALUE, ENV_KEY: env}
    if operation_id:
        tags[OPERATION_KEY] = operation_id
    return tags


def to_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def from_list(tag_list: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in tag_list or []}


def is_managed(tags: Mapping[str, str], env: str) -> bool:
    return tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and tags.get(ENV_KEY) == env
