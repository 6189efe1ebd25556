"""The small interface every provisioned resource implements (read / compare / apply / delete).

A resource module builds `Resource` objects from the context; it never prints and never
decides policy (ownership checks, dry-run, ordering): the engine does.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from ..aws import Clients
from ..config import Settings
from ..naming import Names, managed_tags

S = TypeVar("S")


@dataclass
class Context:
    """Everything a resource needs: settings, names, clients, and how to wait."""

    settings: Settings
    names: Names
    clients: Clients
    sandbox: bool = False
    force_delete_secrets: bool = False
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> str:
        return self.settings.environment

    def tags(self) -> dict[str, str]:
        """Config tags plus ours (ours win)."""
        return {**self.settings.tags, **managed_tags(self.env)}


class Resource(ABC, Generic[S]):
    """One named AWS resource. `S` is whatever `read()` returns to describe it."""

    kind: ClassVar[str]

    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx = ctx
        self.name = name

    def client(self, service: str, region: str | None = None) -> Any:
        return self.ctx.clients.get(service, region)

    @abstractmethod
    def read(self) -> S | None:
        """The current state, or None when the resource does not exist."""

    @abstractmethod
    def tags(self, current: S) -> dict[str, str]:
        """The resource's tags (ownership is decided from these)."""

    @abstractmethod
    def differences(self, current: S) -> list[str]:
        """Human-readable names of what differs from the desired state; [] when equal."""

    @abstractmethod
    def create(self) -> None:
        """Create it, tagged at birth, so an interrupted setup still finds it ours."""

    @abstractmethod
    def update(self, current: S, differences: list[str]) -> None:
        """Bring an existing resource to the desired state, touching only what differs."""

    @abstractmethod
    def delete(self, current: S) -> None:
        """Delete it (dependents first). Only called for resources we own."""

    def arn(self) -> str | None:
        return None


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """`{"k": "v"}` → `[{"Key": "k", "Value": "v"}]`, sorted for stable requests."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_dict(
    tags: list[dict[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def tag_differences(
    current: dict[str, str], desired: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """What to set and which keys to remove. Keys we never set (aws:*) are left alone."""
    to_set = {k: v for k, v in desired.items() if current.get(k) != v}
    to_remove = sorted(k for k in current if k not in desired and not k.startswith("aws:"))
    return to_set, to_remove
