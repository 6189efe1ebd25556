"""The `poll` part of the document, read by the state machine's Wait and Choice states.

A step that starts something calls `start`; its check step calls `record` once per check.
Both set `poll.wait_seconds`, which the loop's Wait state waits (`SecondsPath`) before the
next check. The Choice after a check goes on when `poll.ready` is true, fails with
PollTimeout when `poll.attempt` reaches the loop's `max_polls` (from the definition's
`pipeline` block), and otherwise Waits and checks again.

Each loop (`poll.what` → its settings in `document["pipeline"]["waits"]`, see LOOP_OF) waits:

- `first_seconds` before the first check: near the operation's usual duration, so a long
  operation costs one check instead of dozens;
- then `max(poll_seconds, growth_percent% of the time waited so far)` between checks
  (`pipeline.poll_growth_percent`): short polls right after the first check, and an
  operation that runs for hours is checked at a fixed fraction of its age — the polling lag
  stays a small share of the wait and the number of checks (state transitions, history
  events) grows only logarithmically.

`schedule` is that rule as a pure function: the CLI uses it to turn a loop's `max_seconds`
into its `max_polls` and to check the longest path against the execution timeout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

LOOPS: tuple[str, ...] = (
    "copy", "clone", "delete", "restore", "instances", "password", "rename", "settings"
)
# poll.what → loop settings key (both halves of the swap wait for a rename; a restore drill's
# cleanups wait for a deletion).
LOOP_OF: dict[str, str] = {
    "swap-out": "rename",
    "swap-in": "rename",
    "cleanup": "delete",
    "failure-cleanup": "delete",
}
# What a document from an older definition (no per-loop settings) waits.
FALLBACK_WAIT_SECONDS = 60


def loop_of(what: str) -> str:
    return LOOP_OF.get(what, what)


def next_wait(poll_seconds: int, growth_percent: int, waited: int) -> int:
    """The wait before the next check, `waited` seconds into the loop (after the first check)."""
    return max(poll_seconds, waited * growth_percent // 100)


def schedule(first_seconds: int, poll_seconds: int, growth_percent: int) -> Iterator[int]:
    """Seconds waited in total at each check: first_seconds, then per `next_wait` (endless)."""
    waited = first_seconds
    while True:
        yield waited
        waited += next_wait(poll_seconds, growth_percent, waited)


def checks_within(
    first_seconds: int, poll_seconds: int, growth_percent: int, max_seconds: int
) -> tuple[int, int]:
    """(checks, seconds waited at the last one): the fewest checks whose total wait reaches
    `max_seconds`. Needs poll_seconds >= 1 (or growth) to end."""
    if poll_seconds < 1 and growth_percent < 1:
        raise ValueError("poll_seconds must be at least 1 to bound a loop by time")
    for checks, waited in enumerate(schedule(first_seconds, poll_seconds, growth_percent), 1):
        if waited >= max_seconds:
            return checks, waited
    raise AssertionError("unreachable: schedule() never ends")


def _settings(document: Mapping[str, Any], what: str) -> tuple[int, int, int]:
    """(first_seconds, poll_seconds, growth_percent) for the loop `what` waits in."""
    pipeline = document.get("pipeline") or {}
    loop = (pipeline.get("waits") or {}).get(loop_of(what)) or {}
    first = loop.get("first_seconds", FALLBACK_WAIT_SECONDS)
    poll = loop.get("poll_seconds", FALLBACK_WAIT_SECONDS)
    growth = pipeline.get("poll_growth_percent", 0)
    return int(first), int(poll), int(growth)


def start(document: dict[str, Any], what: str) -> None:
    first, _, _ = _settings(document, what)
    document["poll"] = {
        "what": what,
        "attempt": 0,
        "ready": False,
        "status": "started",
        "wait_seconds": first,
        "waited_seconds": 0,
    }


def check_now(document: dict[str, Any]) -> None:
    """After `start`: the first check comes at once (the step started nothing to wait for)."""
    document["poll"]["wait_seconds"] = 0


def record(document: dict[str, Any], what: str, *, ready: bool, status: str) -> dict[str, Any]:
    first, poll, growth = _settings(document, what)
    previous = document.get("poll") or {}
    if previous.get("what") == what:
        attempt = int(previous.get("attempt", 0)) + 1
        waited = int(previous.get("waited_seconds", 0)) + int(previous.get("wait_seconds", 0))
    else:
        attempt, waited = 1, first
    wait = next_wait(poll, growth, waited)
    document["poll"] = {
        "what": what,
        "attempt": attempt,
        "ready": ready,
        "status": status,
        "wait_seconds": wait,
        "waited_seconds": waited,
    }
    return {"what": what, "attempt": attempt, "ready": ready, "status": status,
            "waited_seconds": waited}
