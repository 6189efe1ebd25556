"""`aurora-restore render`: what `setup` would send, from the config alone (no AWS call).

The documents are the ones the resource kinds build for their requests — the IAM roles' trust
and inline policies and the customer managed policies, the scheduler roles' when a schedule is
configured, the rendered state machine definitions, the settings document they carry, and
each function's configuration — so a security reviewer sees exactly what `setup` would put.
Names use the config's account id. Function code is not built here (it needs the vendored
driver's wheels); `plan` compares it.
"""

from __future__ import annotations

import json
from typing import Any

from ..bundled import deployed_functions
from ..config.settings import Settings
from ..contract import recovery_definition
from ..contract.pipeline_settings import (
    drill_settings,
    pipeline_settings,
    render_definition,
    render_drill_definition,
)
from ..contract.time_limits import config_names
from ..documents import policies
from ..resources import lambdas
from ..resources import schedule as refresh_schedule
from ..resources.drill import schedule as drill_schedule

SECTIONS = ("iam", "definitions", "settings", "functions")


def render(settings: Settings) -> dict[str, Any]:
    """Section → documents (SECTIONS), ready for JSON."""
    names = config_names(settings)
    return {
        "iam": _iam(settings, names),
        "definitions": {
            names.state_machine: json.loads(render_definition(settings, names)),
            names.drill_state_machine: json.loads(render_drill_definition(settings, names)),
            names.recovery_state_machine: json.loads(
                recovery_definition.render(settings, names)
            ),
        },
        "settings": {**pipeline_settings(settings, names), "drill": drill_settings(settings)},
        "functions": {
            names.function(step): {
                **lambdas.configuration(settings, names, step),
                "Architectures": [settings.lambda_.architecture],
                "PackageType": "Zip",
            }
            for step in deployed_functions()
        },
    }


def _iam(settings: Settings, names: Any) -> dict[str, Any]:
    roles: dict[str, Any] = {}
    for kind in policies.ROLE_KINDS:
        roles[names.role(kind)] = {
            "trust_policy": policies.trust_policy(kind, settings, names),
            "inline_policies": policies.inline_policies(kind, settings, names),
            "managed_policies": policies.managed_policies(kind, settings, names),
        }
    if settings.schedule is not None:
        roles[names.role(refresh_schedule.ROLE_KIND)] = {
            "trust_policy": refresh_schedule.trust_policy(names),
            "inline_policies": refresh_schedule.inline_policies(names),
            "managed_policies": {},
        }
    if settings.drill.schedule is not None:
        roles[names.role(drill_schedule.ROLE_KIND)] = {
            "trust_policy": drill_schedule.trust_policy(names),
            "inline_policies": drill_schedule.inline_policies(names),
            "managed_policies": {},
        }
    return roles
