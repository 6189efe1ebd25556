"""The `parity:` section: which of the old target's settings the config decides instead of
carrying them over to the refreshed cluster (`pin: [target.instance_class, …]`: a smaller
class in the lower environment, say). The pipeline's own field list (handlers/lib/
parity_fields.py, loaded by path) says what can be pinned.
"""

from __future__ import annotations

from typing import Any

from ..bundled import handler_lib
from .reader import Section
from .settings import Parity


def read_parity(s: Section | None) -> Parity:
    if s is None:
        return Parity()
    with s.reading():
        raw: Any = s.raw("pin", [])
        pinnable = sorted(handler_lib("parity_fields").PINNABLE.values())
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise s.error("pin", f"expected a list of config keys, from: {', '.join(pinnable)}")
        for index, key in enumerate(raw):
            if key not in pinnable:
                raise s.error(
                    f"pin[{index}]",
                    f"{key!r} is not a setting the config can decide instead of the old target; "
                    f"these can: {', '.join(pinnable)} (the others are always carried over)",
                )
        if len(set(raw)) != len(raw):
            raise s.error("pin", "lists a key twice")
        return Parity(pin=tuple(raw))
