"""`aurora-restore validate`: everything we can check without an AWS call.

Each check returns a one-line description of what it verified, or raises `ConfigError` /
`ValueError` naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Settings
from .naming import Names

Check = Callable[[Settings, Names], str]


def _config(settings: Settings, names: Names) -> str:
    return (
        f"config {settings.file} (env {settings.environment}, target {settings.target.cluster_id})"
    )


def checks() -> list[Check]:
    found: list[Check] = [_config]
    try:
        from .resources.state_machine import validate_offline as definition_check
    except ImportError:
        pass
    else:
        found.append(definition_check)
    try:
        from .resources.roles import validate_offline as policy_check
    except ImportError:
        pass
    else:
        found.append(policy_check)
    try:
        from .resources.schedule import validate_offline as schedule_check
    except ImportError:
        pass
    else:
        found.append(schedule_check)
    try:
        from .resources.drill import validate_offline as drill_check
    except ImportError:
        pass
    else:
        found.append(drill_check)
    return found


def validate_all(settings: Settings) -> list[str]:
    names = Names(settings.environment, settings.region, settings.account_id)
    return [check(settings, names) for check in checks()]
