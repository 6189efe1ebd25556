"""handlers/lib/polling.py: the wait before each check, per loop, from the document's
`pipeline` block (pure: no AWS)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from handlers.lib import polling


def document(growth: int = 2, **loops: dict[str, int]) -> dict[str, Any]:
    return {"pipeline": {"poll_growth_percent": growth, "waits": loops}}


def test_first_wait_then_short_polls_then_a_share_of_the_time_waited() -> None:
    doc = document(copy={"first_seconds": 1000, "poll_seconds": 15})
    polling.start(doc, "copy")
    assert doc["poll"] == {
        "what": "copy",
        "attempt": 0,
        "ready": False,
        "status": "started",
        "wait_seconds": 1000,
        "waited_seconds": 0,
    }
    waits = []
    for _ in range(3):
        details = polling.record(doc, "copy", ready=False, status="copying")
        waits.append(doc["poll"]["wait_seconds"])
    # 2% of 1000 s is 20 s, more than poll_seconds; it grows with the time waited.
    assert waits == [20, 20, 20]
    assert doc["poll"]["waited_seconds"] == 1040 and doc["poll"]["attempt"] == 3
    assert details == {"what": "copy", "attempt": 3, "ready": False, "status": "copying",
                       "waited_seconds": 1040}
    for _ in range(200):
        polling.record(doc, "copy", ready=False, status="copying")
    assert doc["poll"]["wait_seconds"] == doc["poll"]["waited_seconds"] * 2 // 100 > 20


def test_without_growth_the_polls_stay_fixed() -> None:
    doc = document(0, instances={"first_seconds": 600, "poll_seconds": 15})
    polling.start(doc, "instances")
    for _ in range(100):
        polling.record(doc, "instances", ready=False, status="creating")
        assert doc["poll"]["wait_seconds"] == 15
    assert doc["poll"]["waited_seconds"] == 600 + 99 * 15


def test_both_swap_renames_use_the_rename_loop() -> None:
    doc = document(rename={"first_seconds": 90, "poll_seconds": 5})
    for what in ("swap-out", "swap-in"):
        polling.start(doc, what)
        assert doc["poll"]["wait_seconds"] == 90
        polling.record(doc, what, ready=False, status="renaming")
        assert doc["poll"]["wait_seconds"] == 5 and doc["poll"]["what"] == what
    assert polling.loop_of("swap-out") == polling.loop_of("swap-in") == "rename"
    assert polling.loop_of("copy") == "copy"


def test_a_check_for_another_loop_starts_counting_afresh() -> None:
    doc = document(delete={"first_seconds": 400, "poll_seconds": 20})
    polling.start(doc, "copy")
    polling.record(doc, "copy", ready=True, status="available")
    polling.record(doc, "delete", ready=False, status="deleting")
    assert doc["poll"]["attempt"] == 1 and doc["poll"]["waited_seconds"] == 400


def test_a_document_without_loop_settings_still_polls() -> None:
    """An execution started by an older definition (no per-loop block) keeps working."""
    doc: dict[str, Any] = {"pipeline": {"poll_interval_seconds": 60}}
    polling.start(doc, "restore")
    assert doc["poll"]["wait_seconds"] == polling.FALLBACK_WAIT_SECONDS
    polling.record(doc, "restore", ready=False, status="creating")
    assert doc["poll"]["wait_seconds"] == polling.FALLBACK_WAIT_SECONDS


def test_schedule_is_what_the_handlers_do() -> None:
    doc = document(7, restore={"first_seconds": 300, "poll_seconds": 10})
    polling.start(doc, "restore")
    seen = []
    for _ in range(40):
        polling.record(doc, "restore", ready=False, status="creating")
        seen.append(doc["poll"]["waited_seconds"])
    assert seen == list(itertools.islice(polling.schedule(300, 10, 7), 40))


@pytest.mark.parametrize(
    ("first", "poll", "growth", "longest", "expected"),
    [
        (100, 5, 0, 100, (1, 100)),  # the first check already reaches the bound
        (100, 5, 0, 101, (2, 105)),
        (30, 3, 0, 300, (91, 300)),
        (0, 1, 0, 10, (11, 10)),
    ],
)
def test_checks_within(
    first: int, poll: int, growth: int, longest: int, expected: tuple[int, int]
) -> None:
    assert polling.checks_within(first, poll, growth, longest) == expected


def test_growth_keeps_long_bounds_cheap() -> None:
    fixed, _ = polling.checks_within(1000, 20, 0, 36000)
    growing, waited = polling.checks_within(1000, 20, 2, 36000)
    assert fixed == 1751
    assert growing < 200 and 36000 <= waited <= 36000 * 1.02


def test_checks_within_refuses_a_loop_that_never_advances() -> None:
    with pytest.raises(ValueError, match="poll_seconds"):
        polling.checks_within(0, 0, 0, 10)
