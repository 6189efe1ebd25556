"""What a database step gets from its document: the target to connect to, the engine that
speaks to it (bound to that target), the secrets client, and sessions.

    reason = database.skip_reason(document)
    if reason: return document, skipped(reason)
    step = database.step_database(document)
    with step.session(step.admin()) as conn:
        step.engine.select_one(conn)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from handlers.lib import db
from handlers.lib import document as doc
from handlers.lib.engines import Engine, engine_for


@dataclass(frozen=True)
class StepDatabase:
    """What a database step needs from the document and the environment."""

    settings: Mapping[str, Any]
    target: db.Target
    engine: Engine
    secrets: Any = field(repr=False)
    master_version: str | None = None  # this run's staged master password (AWSPENDING)

    def admin(self) -> db.Credentials:
        return db.admin_credentials(
            self.secrets, version_id=self.master_version, engine=self.engine.name
        )

    @contextmanager
    def session(self, credentials: db.Credentials) -> Iterator[Any]:
        yield from _session(self.engine, self.target, credentials)

    def describe(self) -> dict[str, Any]:
        """Audit details about where we connected (never credentials)."""
        return {
            "endpoint": f"{self.target.host}:{self.target.port}",
            "database": self.target.database,
            "tls": self.target.tls_mode,
        }


def skip_reason(document: Mapping[str, Any]) -> str | None:
    """Why this step skips the database (the sandbox has none for this engine), or None."""
    return db.skip_reason(doc.settings(dict(document)))


def step_database(document: Mapping[str, Any]) -> StepDatabase:
    """Resolve target, engine and secrets client for a step (check `skip_reason` first)."""
    settings, target, secrets, version = db.step_target(document)
    engine = engine_for(db.engine_name(settings)).for_target(target)
    return StepDatabase(settings, target, engine, secrets, version)


@contextmanager
def session(engine: Engine, target: db.Target, credentials: db.Credentials) -> Iterator[Any]:
    yield from _session(engine, target, credentials)


def _session(engine: Engine, target: db.Target, credentials: db.Credentials) -> Iterator[Any]:
    conn = engine.connect(target, credentials)
    try:
        yield conn
    finally:
        engine.close(conn)
