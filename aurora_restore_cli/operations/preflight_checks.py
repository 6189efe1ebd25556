"""A preflight check's row (`Check`) and its statuses, and `pipeline()`: the shipped handlers,
imported as the Lambda runtime imports them, so preflight runs the run's own code."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

from .. import bundled

PASS, FAIL, NOT_CHECKABLE = "pass", "fail", "not checkable"
WARN = "warn"  # passes, but says what the user must do (e.g. after a refresh)
IN_SANDBOX = "not checkable in the sandbox"
OPERATION = "preflight"  # a stand-in operation id for the ids a run derives


def pipeline(module: str) -> ModuleType:
    """A module of the shipped pipeline (`handlers.<module>`), imported as the Lambda runtime
    imports it: with the directory holding `handlers/` (bundled.root()) on sys.path, in this
    process only — the same code the run executes, so preflight refuses what the run would."""
    root = str(bundled.root())
    if root not in sys.path:
        sys.path.insert(0, root)
    package = importlib.import_module("handlers")
    where = Path(package.__file__ or "").resolve().parent
    if where != bundled.handlers_dir().resolve():
        # Another top-level `handlers` (the user's own) was imported first: never run it.
        raise ImportError(f"a different `handlers` package is loaded ({where}); run preflight "
                          "in a fresh process")
    return importlib.import_module(f"handlers.{module}")


def pipeline_error() -> type[Exception]:
    error: type[Exception] = pipeline("lib.errors").PipelineError
    return error


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    status: str
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def passed(checks: Iterable[Check]) -> bool:
    """True when nothing failed (not-checkable rows do not fail a preflight)."""
    return all(c.status != FAIL for c in checks)


def sandbox_row(area: str, name: str, why: str) -> Check:
    return Check(area, name, NOT_CHECKABLE, f"{IN_SANDBOX}: {why}")
