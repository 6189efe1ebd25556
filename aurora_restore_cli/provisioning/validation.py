"""`aurora-restore validate`: everything we can check without an AWS call.

Each check returns a one-line description of what it verified, or raises `ConfigError` /
`ValueError` naming what is wrong.

The time limits' arithmetic is in time_limits.py (every command checks them on loading the
config); here `validate` prints its figures.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config.reader import ConfigError, raise_all
from ..config.settings import Settings
from ..contract.naming import Names
from ..contract.time_limits import (
    HISTORY_BUDGET,
    HISTORY_LIMIT,
    config_names,
    describe,
    duration,
    path_bounds,
    time_limit_problems,
)

Check = Callable[[Settings, Names], str]


def _config(settings: Settings, names: Names) -> str:
    return (
        f"config {settings.file} (env {settings.environment}, target {settings.target.cluster_id})"
    )


def _time_limits(settings: Settings, names: Names) -> str:
    problems = time_limit_problems(settings)
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    bounds = path_bounds(settings, names)
    slowest = max(bounds, key=lambda b: b.seconds)
    busiest = max(bounds, key=lambda b: b.events)
    return (
        f"time limits: longest path {describe(slowest, settings)} = "
        f"{duration(slowest.seconds)} ≤ timeout {duration(settings.pipeline.timeout_seconds)}; "
        f"at most {busiest.events} history events ≤ {HISTORY_BUDGET} of {HISTORY_LIMIT}"
    )


def _parity(settings: Settings, names: Names) -> str:
    """Which of the old target's settings a refresh carries over, and which the config pins."""
    from ..bundled import handler_lib

    fields = handler_lib("parity_fields")
    pinned = {field for field, key in fields.PINNABLE.items() if key in settings.parity.pin}
    if settings.target.strategy != "swap":
        return ("settings parity: none (strategy replace deletes the old target before the "
                "restore): the config's target settings apply")
    values = {key: getattr(settings.target, key.split(".", 1)[1], None)
              for key in settings.parity.pin}
    shown = ", ".join(f"{k} ({v})" for k, v in values.items()) or "nothing"
    carried = [f for f in fields.FIELDS if f not in pinned]
    return (f"settings parity: the old target's {', '.join(carried)} are carried over; "
            f"pinned to the config (parity.pin): {shown}; deletion protection follows "
            "target.deletion_protection")


def checks() -> list[Check]:
    found: list[Check] = [_config, _time_limits, _parity]
    try:
        from ..resources.state_machine import validate_offline as definition_check
    except ImportError:
        pass
    else:
        found.append(definition_check)
    try:
        from ..resources.roles import validate_offline as policy_check
    except ImportError:
        pass
    else:
        found.append(policy_check)
    try:
        from ..resources.schedule import validate_offline as schedule_check
    except ImportError:
        pass
    else:
        found.append(schedule_check)
    try:
        from ..resources.events import validate_offline as recovery_check
    except ImportError:
        pass
    else:
        found.append(recovery_check)
    try:
        from ..resources.drill.step import validate_offline as drill_check
    except ImportError:
        pass
    else:
        found.append(drill_check)
    return found


def validate_all(settings: Settings, against_aws: bool = False) -> list[str]:
    """What every check verified; ConfigError listing every failing check otherwise (and,
    `against_aws`, what setup requires there beyond the sandbox: the RDS CA bundle)."""
    from ..config.database import require_ca_bundle

    names = config_names(settings)
    passed: list[str] = []
    problems: list[ConfigError] = []
    for check in checks():
        try:
            passed.append(check(settings, names))
        except ConfigError as exc:
            problems.append(exc)
        except ValueError as exc:
            problems.append(ConfigError(settings.file, "", str(exc)))
    if against_aws:
        try:
            passed.append(f"database.ca_bundle {require_ca_bundle(settings)}")
        except ConfigError as exc:
            problems.append(exc)
    raise_all(problems)
    return passed
