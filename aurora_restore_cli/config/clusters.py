"""The `source:` and `target:` sections: the production cluster and the lower environment's.

The engine (`aurora-postgresql` or `aurora-mysql`) decides what the rest of the section may
say: its version format (read by the pipeline's own handlers/lib/engine_versions.py, loaded by
path), its default port, its log exports.
"""

from __future__ import annotations

from typing import Any

from ..bundled import handler_lib
from .fields import (
    ANY_CLUSTER_ID,
    CLUSTER_ID,
    INSTANCE_CLASS,
    KMS_KEY_ARN,
    SERVERLESS_CLASS,
    SG_ID,
    read_account,
    read_kms,
    read_region,
)
from .reader import Section, string_item
from .settings import RESTORE_FROM_CHOICES, Serverless, Source, Target

POSTGRESQL, MYSQL = "aurora-postgresql", "aurora-mysql"
ENGINES = (POSTGRESQL, MYSQL)
LOG_EXPORTS = {  # what RDS exports to CloudWatch Logs for each engine
    POSTGRESQL: ("postgresql", "instance", "iam-db-auth-error"),
    MYSQL: ("audit", "error", "general", "slowquery", "instance", "iam-db-auth-error"),
}


def read_source(s: Section) -> Source:
    with s.reading():
        return Source(
            cluster_id=s.string(
                "cluster_id", pattern=ANY_CLUSTER_ID, expected="an RDS cluster identifier"
            ),
            region=read_region(s, "region"),
            account_id=read_account(s, "account_id"),
            snapshot_type=s.string("snapshot_type", "any", choices=("automated", "manual", "any")),
            max_age_hours=s.integer("max_age_hours", 1, 24 * 366),
            kms_key_id=s.string(
                "kms_key_id",
                None,
                pattern=KMS_KEY_ARN,
                expected="the ARN of the KMS key encrypting the source snapshots "
                "(arn:aws:kms:<source region>:<source account>:key/<id>; not an alias)",
            ),
            restore_from=s.string("restore_from", "auto", choices=RESTORE_FROM_CHOICES),
        )

def read_target(s: Section) -> Target:
    f = s.file
    with s.reading():
        cluster_id = s.string(
            "cluster_id",
            pattern=CLUSTER_ID,
            expected="an RDS cluster identifier of at most 40 characters (letters, digits, "
            "single hyphens; starts with a letter)",
        )
        instance_class = s.string(
            "instance_class",
            pattern=INSTANCE_CLASS,
            expected="an instance class such as db.r6g.large or db.serverless",
        )
        engine = s.string("engine", POSTGRESQL, choices=ENGINES)
        return Target(
            cluster_id=cluster_id,
            engine=engine,
            engine_version=_version(s, engine),
            allow_major_version_upgrade=s.boolean("allow_major_version_upgrade", False),
            instance_class=instance_class,
            serverless=_serverless(s, instance_class),
            instance_count=s.integer("instance_count", 1, 15),
            subnet_group=s.string(
                "subnet_group", pattern=r"[A-Za-z0-9 ._-]{1,255}", expected="a DB subnet group name"
            ),
            security_group_ids=s.items(
                "security_group_ids", string_item(f, SG_ID, "a security group id (sg-…)")
            ),
            kms_key_id=read_kms(s, "kms_key_id"),
            port=s.integer("port", 1150, 65535, versions().DEFAULT_PORTS[engine]),
            parameter_group=s.string(
                "parameter_group",
                None,
                pattern=r"[A-Za-z][A-Za-z0-9-]{0,254}",
                expected="a DB cluster parameter group name",
            ),
            iam_auth=s.boolean("iam_auth", False),
            log_exports=s.items(
                "log_exports",
                string_item(f, "|".join(LOG_EXPORTS[engine]),
                            f"one of {', '.join(LOG_EXPORTS[engine])} ({engine})"),
                [],
            ),
            deletion_protection=s.boolean("deletion_protection", False),
            strategy=s.string("strategy", "swap", choices=("swap", "replace")),
            final_snapshot=s.boolean("final_snapshot", True),
            delete_copied_snapshot=s.boolean("delete_copied_snapshot", True),
            protected_cluster_ids=s.items(
                "protected_cluster_ids",
                string_item(f, ANY_CLUSTER_ID, "an RDS cluster identifier"),
                [],
            ),
            final_snapshot_retention_days=s.integer("final_snapshot_retention_days", 1, 3650, 7),
            failed_run_expiry_hours=s.integer("failed_run_expiry_hours", 1, 720, 24),
        )

def _serverless(s: Section, instance_class: str) -> Serverless | None:
    """`serverless: {min_capacity, max_capacity}`: required with db.serverless, refused otherwise.
    ACUs in steps of 0.5; 0 (auto-pause) needs a recent engine version, which RDS checks."""
    section = s.optional_section("serverless")
    if instance_class != SERVERLESS_CLASS:
        if section is not None:
            raise s.error("serverless", f"only allowed with instance_class: {SERVERLESS_CLASS}")
        return None
    if section is None:
        raise s.error(
            "serverless",
            f"instance_class {SERVERLESS_CLASS} needs serverless: {{min_capacity: 0.5, "
            "max_capacity: 4}} (Aurora capacity units)",
        )
    with section.reading():
        low = _capacity(section, "min_capacity", 0)
        high = _capacity(section, "max_capacity", 1)
    if low > high:
        raise section.error("min_capacity", f"is {low:g}, above max_capacity {high:g}")
    return Serverless(min_capacity=low, max_capacity=high)

def _capacity(s: Section, key: str, low: float) -> float:
    value = s.raw(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not low <= value <= 256
        or (value * 2) % 1
    ):
        raise s.error(
            key, f"expected Aurora capacity units from {low:g} to 256 in steps of 0.5, got {value!r}"
        )
    return float(value)

def versions() -> Any:
    """handlers/lib/engine_versions.py: the pipeline's own reading of engine versions."""
    return handler_lib("engine_versions")


def _version(s: Section, engine: str) -> str:
    example = versions().EXAMPLES[engine]
    value = s.raw("engine_version")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise s.error(
            "engine_version",
            f'expected a version string in quotes, e.g. "{example}", got {value!r}',
        )
    return str(
        s.string("engine_version", pattern=versions().PATTERNS[engine],
                 expected=f'an {engine} version such as "{example}"')
    )
