"""Step: give the configured application users fresh passwords and exactly their privileges.

Production users come along in the snapshot, so a user is altered when present and created
otherwise; its passwords come from the app secret. Privileges on the configured schemas are
reset to the configured level, so a downgraded user loses write access. All users change
together or not at all. How is the engine's (`Engine.reset_users`: engines/postgresql_users.py,
engines/mysql_users.py).
"""

from __future__ import annotations

from typing import Any

from handlers.lib import database, db
from handlers.lib.app_users import (  # noqa: F401 - the users step's vocabulary, re-exported
    READ_ONLY,
    READ_WRITE,
    AppUser,
    configured_schemas,
    configured_users,
)
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("reset-app-users")
def handler(document: Document, context: Any) -> StepResult:
    reason = database.skip_reason(document)
    if reason:
        return document, skipped(reason)
    step = database.step_database(document)
    users = configured_users(step.settings, step.engine)
    schemas = configured_schemas(step.settings, step.engine)
    admin = step.admin()
    passwords = db.app_secret(step.secrets)
    with step.session(admin) as conn:
        details = step.engine.reset_users(conn, users, passwords, step.target.database, schemas)
    return document, {**step.describe(), **details}
