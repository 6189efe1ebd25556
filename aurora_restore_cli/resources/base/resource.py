"""The small interface every provisioned resource implements (read / compare / apply / delete).

A resource module builds `Resource` objects from the context; it never prints and never
decides policy (ownership checks, dry-run, ordering): the engine does.

Ordering (see resources/__init__.py for the whole picture): a module declares the steps it
depends on (`DEPENDS_ON`; a resource that needs less overrides it in `depends_on`); inside
one step, a resource that must wait for another of the same step lists it in `after`.
Everything else is independent and runs concurrently, so `read()`, `create()`, `update()`
and `delete()` are called from worker threads: keep per-resource state on the resource, and
guard anything shared through the context (see `BulkRead`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from ...aws import Clients
from ...config.settings import Settings
from ...contract.naming import Names, is_managed, managed_tags
from .changes import Difference

if TYPE_CHECKING:
    from .tag_index import TagIndex

S = TypeVar("S")
V = TypeVar("V")


class Loadable(Protocol):
    """A bulk read the engine can run ahead of the reads it answers."""

    def load(self) -> None: ...


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
    # Set by the engine for one walk (setup / plan / status): our tags, read in bulk.
    tag_index: TagIndex | None = None

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
        # Resources of the same step that setup must finish first (cleanup: delete after).
        self.after: tuple[Resource[Any], ...] = ()
        # The steps it needs first; None: its module's DEPENDS_ON. Set it on a resource that
        # needs less than the rest of its step (the state machine's log group needs nothing).
        self.depends_on: tuple[str, ...] | None = None
        # The config no longer wants it: a walk lists it only when it exists and is ours
        # (then `differences()` says why it goes and `update()` removes it).
        self.unwanted = False

    def client(self, service: str, region: str | None = None) -> Any:
        return self.ctx.clients.get(service, region)

    def bulk_reads(self) -> tuple[Loadable, ...]:
        """The bulk reads `read()` takes its answer from (a list call, the tag index): the
        engine loads each once, before the reads that use it, so no worker waits on one."""
        return ()

    def prepare(self) -> None:
        """Build what create/update will need (a package, a rendered document) ahead of time,
        so it overlaps with other resources' API calls. Called by setup after `read()`."""

    def bulk_with_index(self, listed: BulkRead[Any] | None) -> tuple[Loadable, ...]:
        """`listed` (when given) and the walk's tag index (when there is one)."""
        index = self.ctx.tag_index
        return tuple(x for x in (listed, index) if x is not None)

    def indexed_tags(self, arn: str) -> dict[str, str] | None:
        """This resource's tags from the walk's tag index, when the index holds exactly the
        tags we want (ours, nothing missing or extra): then no per-resource tag call is
        needed. None: read the tags from the service itself (authoritative)."""
        index = self.ctx.tag_index
        found = index.get(arn) if index is not None else None
        if found is None or not is_managed(found, self.ctx.env):
            return None
        return None if any(tag_differences(found, self.ctx.tags())) else found

    @abstractmethod
    def read(self) -> S | None:
        """The current state, or None when the resource does not exist."""

    @abstractmethod
    def tags(self, current: S) -> dict[str, str]:
        """The resource's tags (ownership is decided from these)."""

    @abstractmethod
    def differences(self, current: S) -> list[str]:
        """Human-readable names of what differs from the desired state; [] when equal."""

    def values(self, current: S, differences: list[str]) -> list[Difference]:
        """The old and new value of each of `differences` (plan shows them). A kind that does
        not say shows the names only; a secret's value is never one of them."""
        return []

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

    def deletion_note(self) -> str:
        """What cleanup should say about deleting it, when that is not the whole story (a KMS
        key is only scheduled for deletion)."""
        return ""


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


def concurrently(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run one resource's independent calls at once (e.g. a role's inline policies) and return
    their answers in order; the first error is raised once all have finished."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="aws-part") as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


class BulkRead(Generic[V]):
    """One bulk read (a list or batched describe) that answers many resources' `read()`.

    It is loaded once: by the engine ahead of the reads that use it (see
    `Resource.bulk_reads`), or else by the first `take()`. Each name's answer is handed out
    once: a later read of the same resource (after it changed it) goes to the service
    again, so nothing stale is ever used.
    """

    def __init__(self, load: Callable[[], dict[str, V]]) -> None:
        self._load = load
        self._found: dict[str, V] | None = None
        self._taken: set[str] = set()
        self._lock = threading.Lock()

    def load(self) -> None:
        """Make the bulk call, unless done already (thread-safe)."""
        with self._lock:
            if self._found is None:
                self._found = self._load()

    def take(self, name: str) -> tuple[bool, V | None]:
        """(True, the bulk answer for `name`, None when absent) the first time; (False, None)
        after that: read it directly."""
        self.load()
        with self._lock:
            assert self._found is not None
            if name in self._taken:
                return False, None
            self._taken.add(name)
            return True, self._found.get(name)
