"""The application users the config names (`database.users`), and the schemas they get
privileges on (`database.schemas`), as the users step reads them from the settings document.
Each engine resets them its own way (`Engine.reset_users`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from handlers.lib.errors import SettingsInvalid

READ_ONLY = "read-only"
READ_WRITE = "read-write"
PRIVILEGES = (READ_WRITE, READ_ONLY)


@dataclass(frozen=True)
class AppUser:
    name: str
    privilege: str


class NameRules(Protocol):
    """What of an engine the settings are checked against."""

    def check_user_name(self, name: str) -> None: ...

    def default_schemas(self, database: str) -> list[str]: ...


def configured_users(settings: Mapping[str, Any], engine: NameRules) -> list[AppUser]:
    users: list[AppUser] = []
    for entry in settings.get("database", {}).get("users", []) or []:
        name, privilege = entry.get("name"), entry.get("privilege")
        if not isinstance(name, str) or not name:
            raise SettingsInvalid("a database user has no name")
        if privilege not in PRIVILEGES:
            raise SettingsInvalid(f"user {name}: privilege must be {READ_WRITE} or {READ_ONLY}")
        if any(u.name == name for u in users):
            raise SettingsInvalid(f"user {name} is configured twice")
        engine.check_user_name(name)  # rejects names the engine would truncate or cannot store
        users.append(AppUser(name, privilege))
    return users


def configured_schemas(settings: Mapping[str, Any], engine: NameRules) -> list[str]:
    database = settings.get("database", {})
    if "schemas" in database:
        schemas = database["schemas"]
    else:
        schemas = engine.default_schemas(str(database.get("name") or ""))
    if not isinstance(schemas, list) or not all(isinstance(s, str) and s for s in schemas):
        raise SettingsInvalid("settings.database.schemas must be a list of names")
    return schemas
