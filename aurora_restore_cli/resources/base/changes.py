"""The records every resource kind returns and the output layer renders.

A Change that updates (or would update, or found drift) carries its `values`: one `Difference`
per field that differs, the current value and the desired one — scalars as they are,
documents (policies, definitions, settings) as parsed JSON that the output layer shows as a
unified diff, as `terraform plan` and `cdk diff` do. A secret's value is never put into a
Difference: such a field is marked `secret` and both sides are masked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Action(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ABSENT = "absent"  # cleanup: already gone
    FOREIGN = "foreign"  # same name, not ours: reported, never touched
    WOULD_CREATE = "would-create"
    WOULD_UPDATE = "would-update"
    WOULD_DELETE = "would-delete"
    # status
    PRESENT = "present"
    DRIFTED = "drifted"
    MISSING = "missing"
    FAILED = "failed"
    SKIPPED = "skipped"  # setup: not attempted, something it depends on failed

    def __str__(self) -> str:
        return self.value


WRITES = {Action.CREATED, Action.UPDATED, Action.DELETED}
MASK = "********"


@dataclass(frozen=True)
class Difference:
    """One field that differs: what it is in AWS now (`old`), what the config wants (`new`);
    None where there is none (a policy to add or to remove)."""

    field: str
    old: Any
    new: Any
    document: bool = False  # JSON documents: rendered as a unified diff
    secret: bool = False  # never shown: both sides masked

    def to_json(self) -> dict[str, Any]:
        old, new = (MASK, MASK) if self.secret else (self.old, self.new)
        return {"field": self.field, "old": old, "new": new, "document": self.document}


def scalar(field: str, old: Any, new: Any) -> Difference:
    return Difference(field, old, new)


def document_diff(field: str, old: Any, new: Any) -> Difference:
    return Difference(field, old, new, document=True)


def tags_difference(current: dict[str, str], desired: dict[str, str]) -> Difference:
    """Tags as a document: only keys we manage (aws:* tags are AWS's own)."""
    ours = {k: v for k, v in current.items() if not k.startswith("aws:")}
    return document_diff("tags", dict(sorted(ours.items())), dict(sorted(desired.items())))


@dataclass(frozen=True)
class Change:
    step: str
    kind: str
    name: str
    action: Action
    detail: str = ""
    arn: str | None = None
    values: tuple[Difference, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["values"] = [v.to_json() for v in self.values]
        return data
