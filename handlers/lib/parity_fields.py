"""The fields settings parity carries over (lib/parity.py), and those the config may decide
instead (`parity.pin`). Standard library only: the CLI loads this file by path to validate a
config exactly as the pipeline reads it."""

from __future__ import annotations

from collections.abc import Mapping

CLUSTER_FIELDS = ("parameter_group", "security_groups", "iam_roles", "tags", "iam_auth",
                  "backup_retention", "log_exports", "backup_window", "maintenance_window",
                  "serverless_capacity")
INSTANCE_FIELDS = ("instance_class", "instance_parameter_group", "performance_insights",
                   "enhanced_monitoring")
FIELDS = (*CLUSTER_FIELDS, "instance_count", *INSTANCE_FIELDS)
# field → the config key that decides it when pinned (`parity.pin`)
PINNABLE: Mapping[str, str] = {
    "instance_class": "target.instance_class",
    "instance_count": "target.instance_count",
    "parameter_group": "target.parameter_group",
    "security_groups": "target.security_group_ids",
    "iam_auth": "target.iam_auth",
    "log_exports": "target.log_exports",
    "serverless_capacity": "target.serverless",
}
