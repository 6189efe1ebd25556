"""The `poll` part of the document, read by the state machine's Choice states.

A step that starts something calls `start`; its check step calls `record` once per poll. The
Choice after a check goes on when `poll.ready` is true, fails with PollTimeout when
`poll.attempt` reaches the bound (from the definition), and otherwise Waits and polls again.
"""

from __future__ import annotations

from typing import Any


def start(document: dict[str, Any], what: str) -> None:
    document["poll"] = {"what": what, "attempt": 0, "ready": False, "status": "started"}


def record(document: dict[str, Any], what: str, *, ready: bool, status: str) -> dict[str, Any]:
    previous = document.get("poll") or {}
    attempt = int(previous.get("attempt", 0)) + 1 if previous.get("what") == what else 1
    document["poll"] = {"what": what, "attempt": attempt, "ready": ready, "status": status}
    return {"attempt": attempt, "ready": ready, "status": status}
