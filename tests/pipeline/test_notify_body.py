"""The notification body: readable lines, a separator that says what follows, then JSON."""

from __future__ import annotations

import json

from handlers.lib import notify


def test_the_body_separates_the_json_from_the_text() -> None:
    summary = {"status": "FAILED", "undone": ["renamed a back"], "timings": {"verify": 1.5}}
    body = notify.render(summary)
    text, facts = body.split("\n\n", 1)
    assert text.splitlines() == ["status: FAILED", "undone:", "  - renamed a back",
                                 "step durations (s):", "  verify: 1.5", notify.JSON_SEPARATOR]
    assert json.loads(facts) == summary
