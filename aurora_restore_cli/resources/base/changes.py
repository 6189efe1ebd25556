"""The records every resource kind returns and the output layer renders."""

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


@dataclass(frozen=True)
class Change:
    step: str
    kind: str
    name: str
    action: Action
    detail: str = ""
    arn: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        return data
