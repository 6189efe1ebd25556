"""The one config object: `config/<env>.yaml` loaded into frozen, fully validated settings.

Validation is complete before any AWS call and never touches the network; a bad file raises
`ConfigError` naming the file and key path (the CLI turns it into exit code 2). Each section
has its reader (clusters, database, pipeline, operations); here they are put together and
checked against each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from .clusters import read_source, read_target
from .database import read_database
from .fields import ENV_NAME, KMS_KEY_ARN, read_account, read_region
from .masking import read_masking
from .operations import (
    read_alarms,
    read_audit,
    read_drill,
    read_notifications,
    read_roles,
    read_schedule,
    read_secrets,
)
from .parity import read_parity
from .pipeline import read_lambda, read_pipeline
from .quarantine import read_quarantine
from .reader import ConfigError, Section, load_yaml_mapping, raise_all
from .regions import partition
from .settings import Settings, notification_key_alias

T = TypeVar("T")


def config_file(config_dir: Path, env: str) -> Path:
    return config_dir / f"{env}.yaml"

def load_settings(config_dir: Path, env: str) -> Settings:
    """Load and validate `<config_dir>/<env>.yaml`. Raises ConfigError, never anything else.
    Every command also checks the pipeline's time limits (time_limits.within_limits)."""
    if not re.fullmatch(ENV_NAME, env):
        raise ConfigError(
            "--env", "", f"{env!r} is not an environment name (lower-case letters, digits, '-')"
        )
    file = config_file(config_dir, env)
    top = Section(file, "", load_yaml_mapping(file))
    settings = _settings(file, top, env)
    _check_cross_references(settings)
    return settings

def _settings(file: Path, top: Section, env: str) -> Settings:
    """Every section is read even after one failed: all their problems (and the unknown keys
    at the top) are reported at once, each section's first."""
    problems: list[ConfigError] = []

    def read(reader: Callable[..., T], *args: Any) -> T:
        try:
            return reader(*args)
        except ConfigError as exc:
            problems.append(exc)
            return cast(T, None)

    def section(key: str) -> Section:
        return read(top.section, key)

    def each(reader: Callable[[Section], T], key: str) -> T:
        found = section(key)
        return cast(T, None) if found is None else read(reader, found)

    environment = read(
        lambda: top.string("environment", pattern=ENV_NAME, expected="an environment name")
    )
    if environment is not None and environment != env:
        problems.append(top.error("environment", f"is {environment!r} but the file is for {env!r}"))
    fields = {
        "file": file,
        "environment": environment,
        "region": read(read_region, top, "region"),
        "account_id": read(read_account, top, "account_id"),
        "tags": read(_tags, top),
        "source": each(read_source, "source"),
        "target": each(read_target, "target"),
        "database": each(lambda s: read_database(s, _engine(top)), "database"),
        "lambda_": each(read_lambda, "lambda"),
        "pipeline": each(read_pipeline, "pipeline"),
        "audit": each(read_audit, "audit"),
        "notifications": each(read_notifications, "notifications"),
        "secrets": each(read_secrets, "secrets"),
        "dba_principals": each(read_roles, "roles"),
        "alarms": each(read_alarms, "alarms"),
        "schedule": read(lambda: read_schedule(top.optional_section("schedule"))),
        "drill": read(lambda: read_drill(top.optional_section("drill"))),
        "masking": read(lambda: read_masking(top.optional_section("masking"))),
        "quarantine": read(lambda: read_quarantine(top.optional_section("quarantine"))),
        "parity": read(lambda: read_parity(top.optional_section("parity"))),
    }
    read(top.close)
    raise_all(problems)
    return Settings(**fields)


def _engine(top: Section) -> str:
    """The target's engine as written (read_target checks it), for the sections it shapes."""
    target = top.raw("target", {})
    engine = target.get("engine") if isinstance(target, dict) else None
    return engine if isinstance(engine, str) else "aurora-postgresql"


def _tags(top: Section) -> dict[str, str]:
    tags = top.raw("tags", {})
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise top.error("tags", "expected a mapping of tag names to values")
    for key, value in tags.items():
        path = f"tags.{key}"
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise ConfigError(top.file, path, "tag names are strings of 1 to 128 characters")
        if key.lower().startswith(("aws:", "aurora-restore:")):
            raise ConfigError(top.file, path, "the aws: and aurora-restore: prefixes are reserved")
        if not isinstance(value, str) or len(value) > 256:
            raise ConfigError(
                top.file, path, "tag values are strings of up to 256 characters (quote numbers)"
            )
    if len(tags) > 40:
        raise top.error("tags", "at most 40 tags (AWS allows 50 and we add our own)")
    return dict(tags)

def _check_cross_references(st: Settings) -> None:
    f, src, tgt = st.file, st.source, st.target
    if partition(src.region) != partition(st.region):
        raise ConfigError(
            f, "source.region", f"{src.region} is in partition {partition(src.region)}, region "
            f"{st.region} in {partition(st.region)}: snapshots cannot be copied across partitions"
        )
    target_id = tgt.cluster_id.lower()  # RDS compares (and stores) cluster ids lower-case
    if target_id == src.cluster_id.lower():
        raise ConfigError(
            f,
            "target.cluster_id",
            f"is the source cluster's id {src.cluster_id!r} (ids compare case-insensitively, "
            "and a same-named target is refused in any region or account); refusing to "
            "overwrite production",
        )
    if tgt.strategy == "replace" and not tgt.final_snapshot:
        raise ConfigError(
            f,
            "target.final_snapshot",
            "must be true with strategy: replace (the target is deleted before the restore; "
            "its final snapshot is what a failed run brings back)",
        )
    protected = [p for p in tgt.protected_cluster_ids if p.lower() == target_id]
    if protected:
        raise ConfigError(
            f,
            "target.protected_cluster_ids",
            f"lists the target {tgt.cluster_id!r} (as {protected[0]!r}; ids compare "
            "case-insensitively): it could never be refreshed",
        )
    # Every configured key encrypts something in `region`; a key ARN names its own region.
    for key_path, key, what in (
        ("target.kms_key_id", tgt.kms_key_id, "a snapshot copy is encrypted there"),
        ("audit.kms_key_id", st.audit.kms_key_id, "the audit table lives there"),
        ("notifications.kms_key_id", st.notifications.kms_key_id, "the topic lives there"),
        ("secrets.kms_key_id", st.secrets.kms_key_id, "the secrets live there"),
    ):
        key_region = key.split(":")[3] if key and key.startswith("arn:") else None
        if key_region is not None and key_region != st.region:
            raise ConfigError(
                f,
                key_path,
                f"is a key in {key_region}, but region is {st.region}: it must be a key in "
                f"{st.region} ({what})",
            )
    _check_source_key(st)
    _check_restore_from(st)
    _check_notification_key(st)
    if st.cross_account and src.snapshot_type == "automated":
        raise ConfigError(
            f,
            "source.snapshot_type",
            f"automated snapshots cannot be shared with another account (the source is in "
            f"{src.account_id}, the target in {st.account_id}): copy them to manual snapshots "
            "in the source account, share those, and use manual or any",
        )

def _check_source_key(st: Settings) -> None:
    f, src = st.file, st.source
    if src.kms_key_id is None:
        return
    match = re.fullmatch(KMS_KEY_ARN, src.kms_key_id)
    assert match is not None  # the pattern was checked when reading
    region, account = match.group(1), match.group(2)
    if (region, account) != (src.region, src.account_id):
        raise ConfigError(
            f,
            "source.kms_key_id",
            f"is a key in {region}/{account}, but the source snapshots are in "
            f"{src.region}/{src.account_id}: the key encrypting them lives there",
        )
    if st.source_elsewhere and not st.target.kms_key_id:
        raise ConfigError(
            f,
            "target.kms_key_id",
            "is required: an encrypted source snapshot copied across regions or accounts must "
            f"be re-encrypted with a key of this account in {st.region}",
        )


def _check_restore_from(st: Settings) -> None:
    """AWS's rules for the fast paths (RestoreDBClusterToPointInTime): a copy-on-write clone is
    made in the source's region only (another account's cluster must be shared through RAM);
    a point-in-time restore reads the source's own backups: same region and account."""
    src = st.source
    if src.restore_from == "clone" and src.region != st.region:
        raise ConfigError(
            st.file,
            "source.restore_from",
            f"clone: Aurora clones only within a region, and the source is in {src.region}, "
            f"the target in {st.region}; use snapshot (or auto, which clones when it can)",
        )
    if src.restore_from == "point_in_time" and st.source_elsewhere:
        raise ConfigError(
            st.file,
            "source.restore_from",
            f"point_in_time: a point-in-time restore reads the source cluster's own backups, in "
            f"its region and account ({src.region}/{src.account_id}), and the target is in "
            f"{st.region}/{st.account_id}; use snapshot (or auto)",
        )


def _check_notification_key(st: Settings) -> None:
    """Every alarm publishes to the topic, and CloudWatch can publish to an encrypted topic only
    when the key's policy lets cloudwatch.amazonaws.com use it: an AWS managed key's (aws/sns)
    never does, and its policy cannot be changed — no alarm would ever notify."""
    key = st.notifications.kms_key_id or ""
    alias = key.split(":")[-1] if key.startswith("arn:") else key
    own = notification_key_alias(st.environment)
    fix = (
        f"use {own} (setup creates that customer managed key, with a policy letting CloudWatch "
        "use it, and owns it), or a customer managed key of yours whose policy lets "
        "cloudwatch.amazonaws.com use kms:GenerateDataKey* and kms:Decrypt"
    )
    if alias.startswith("alias/aws/"):
        raise ConfigError(
            st.file,
            "notifications.kms_key_id",
            f"{key} is an AWS managed key: its key policy cannot let CloudWatch use it, so no "
            f"alarm would ever notify (every alarm publishes to the topic); {fix}",
        )
    other = re.fullmatch(r"alias/aurora-restore-(.+)-notifications", alias)
    if other and alias != own:
        raise ConfigError(
            st.file,
            "notifications.kms_key_id",
            f"{key} is the key of env {other.group(1)!r}: its setup and cleanup own it; {fix}",
        )
