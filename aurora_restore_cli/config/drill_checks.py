"""The restore drills' SQL checks file (`drill.checks_sql`), checked when the config loads.

It must split into at least one check exactly as the verify step will split it, so a broken
file fails `validate` (exit 2) instead of a drill hours later. The splitter is the handlers'
own `handlers/lib/sql_text.py` (standard library only), loaded from the shipped files by
path: the CLI never imports the handlers package.
"""

from __future__ import annotations

from pathlib import Path

from ..bundled import handler_lib


def check_names(path: Path) -> list[str]:
    """The names of the file's checks; ValueError when it holds none or is not text."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path.name}: {exc}") from None
    checks = handler_lib("sql_text").split_checks(text, path.name)
    if not checks:
        raise ValueError(f"{path.name}: no checks (statements) in the file")
    return [str(check.name) for check in checks]
