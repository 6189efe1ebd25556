"""The one config object: frozen, typed settings (what `load_settings` returns).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    cluster_id: str
    region: str
    account_id: str
    snapshot_type: str
    max_age_hours: int
    kms_key_id: str | None  # key ARN of the key encrypting the source snapshots; None: unencrypted
    # How a refresh gets production's data (docs/fast-paths.md): snapshot | clone |
    # point_in_time | auto (clone when the source cluster is in this region and visible).
    restore_from: str = "auto"


RESTORE_PATHS = ("snapshot", "clone", "point_in_time")
RESTORE_FROM_CHOICES = (*RESTORE_PATHS, "auto")

@dataclass(frozen=True)
class Serverless:
    """Aurora Serverless v2 capacity range (ACUs) for `instance_class: db.serverless`."""

    min_capacity: float
    max_capacity: float

@dataclass(frozen=True)
class Target:
    cluster_id: str
    engine: str
    engine_version: str
    allow_major_version_upgrade: bool
    instance_class: str
    serverless: Serverless | None
    instance_count: int
    subnet_group: str
    security_group_ids: tuple[str, ...]
    kms_key_id: str | None
    port: int
    parameter_group: str | None
    iam_auth: bool
    log_exports: tuple[str, ...]
    deletion_protection: bool
    strategy: str
    final_snapshot: bool
    delete_copied_snapshot: bool
    protected_cluster_ids: tuple[str, ...]
    final_snapshot_retention_days: int = 7
    failed_run_expiry_hours: int = 24

@dataclass(frozen=True)
class AppUser:
    name: str
    privilege: str

@dataclass(frozen=True)
class ExpectedTable:
    name: str
    min_rows: int

@dataclass(frozen=True)
class Database:
    name: str
    ca_bundle: Path | None
    connect_timeout_seconds: int
    schemas: tuple[str, ...]
    users: tuple[AppUser, ...]
    post_restore_sql: tuple[Path, ...]
    expected_tables: tuple[ExpectedTable, ...]

@dataclass(frozen=True)
class Vpc:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

@dataclass(frozen=True)
class LambdaSettings:
    runtime: str
    architecture: str
    memory_mb: int
    timeout_seconds: int
    log_retention_days: int
    vpc: Vpc | None

@dataclass(frozen=True)
class WaitLoop:
    """One wait loop of the pipeline (handlers/lib/polling.py): the first check after
    `first_seconds`, later checks `poll_seconds` apart (or `Pipeline.poll_growth_percent` of the
    time waited so far, if longer); PollTimeout once `max_seconds` have been waited."""

    first_seconds: int
    poll_seconds: int
    max_seconds: int

# Typical durations for a cluster of a few hundred GB: the first check comes at ~85% of them.
# A multi-terabyte cross-region copy takes hours: max_seconds leaves room for it.
WAIT_LOOP_DEFAULTS: dict[str, WaitLoop] = {
    "copy": WaitLoop(first_seconds=1020, poll_seconds=20, max_seconds=36000),
    # a copy-on-write clone: minutes whatever the size (docs/performance.md, "Refresh paths")
    "clone": WaitLoop(first_seconds=240, poll_seconds=15, max_seconds=3600),
    "delete": WaitLoop(first_seconds=400, poll_seconds=20, max_seconds=7200),
    "restore": WaitLoop(first_seconds=1260, poll_seconds=20, max_seconds=14400),
    "instances": WaitLoop(first_seconds=600, poll_seconds=15, max_seconds=7200),
    "password": WaitLoop(first_seconds=45, poll_seconds=5, max_seconds=1800),
    "rename": WaitLoop(first_seconds=100, poll_seconds=5, max_seconds=1800),
    # settings parity: modifications, reboots where a parameter group change is pending
    "settings": WaitLoop(first_seconds=60, poll_seconds=15, max_seconds=3600),
}

@dataclass(frozen=True)
class Pipeline:
    timeout_seconds: int
    poll_growth_percent: int
    waits: dict[str, WaitLoop] = field(hash=False)  # every key of WAIT_LOOP_DEFAULTS

    def compressed(self, seconds: int) -> Pipeline:
        """Every loop checking every `seconds` from the start (moto's sandbox is instant)."""
        waits = {
            key: dataclasses.replace(loop, first_seconds=seconds, poll_seconds=seconds)
            for key, loop in self.waits.items()
        }
        return dataclasses.replace(self, waits=waits)

@dataclass(frozen=True)
class Audit:
    billing_mode: str
    read_capacity: int | None
    write_capacity: int | None
    point_in_time_recovery: bool
    kms_key_id: str | None
    ttl_days: int

@dataclass(frozen=True)
class Notifications:
    kms_key_id: str | None
    emails: tuple[str, ...]


def notification_key_alias(env: str) -> str:
    """The alias of the customer managed key `setup` creates and owns for the topic, when the
    config names it as `notifications.kms_key_id` (alarms cannot publish to a topic under the
    AWS managed aws/sns key)."""
    return f"alias/aurora-restore-{env}-notifications"

@dataclass(frozen=True)
class Secrets:
    kms_key_id: str | None
    recovery_window_days: int

@dataclass(frozen=True)
class Alarms:
    period_seconds: int
    failed_executions: int
    timed_out_executions: int
    aborted_executions: int
    lambda_errors: int

@dataclass(frozen=True)
class Schedule:
    expression: str
    timezone: str
    enabled: bool

@dataclass(frozen=True)
class Drill:
    """Restore drills (`aurora-restore drill`); every key optional."""

    checks_sql: Path | None  # SQL file of checks that must all return true
    keep_minutes: int  # default time to keep the drill cluster for inspection
    rto_alarm_minutes: int | None  # alarm when a drill's RTO exceeds this
    instance_class: str | None  # the drill cluster's instance class (default: the target's)
    schedule: Schedule | None  # scheduled drills (EventBridge Scheduler)
    # alarm when a point-in-time drill finds production's recovery point further behind (RPO)
    rpo_alarm_minutes: int | None = None

@dataclass(frozen=True)
class MaskingRule:
    """One declared rule (handlers/lib/masking_rules.py says what each transformer does)."""

    key: str  # schema.table.column, quoted where it must be
    schema: str
    table: str
    column: str
    transformer: str
    argument: Any = None


@dataclass(frozen=True)
class Masking:
    """Declared masking rules, the hand-written SQL files' turn, batches, and the PII gate."""

    rules: tuple[MaskingRule, ...] = ()
    sql_files: str = "after"  # database.post_restore_sql run "before" or "after" the rules
    batch_rows: int = 50_000
    max_minutes: int = 60  # all masking invocations together; bounds the masking loop
    sample_rows: int | None = 1000  # rows the PII gate samples per table; None: every row


@dataclass(frozen=True)
class QuarantineRule:
    """One declared quarantine rule (handlers/lib/quarantine_rules.py says how it runs)."""

    name: str
    statements: tuple[str, ...]
    check: str
    repeat: bool = False


@dataclass(frozen=True)
class Quarantine:
    """Production's side effects made harmless before the swap: declared rules, the hosts
    foreign servers may name, the time bound (the built-in checks always run)."""

    rules: tuple[QuarantineRule, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_minutes: int = 10  # all quarantine invocations together; bounds the quarantine loop


@dataclass(frozen=True)
class Parity:
    """Settings parity: the old target's settings carried over to the refreshed cluster,
    except the `pin`ned config keys (e.g. target.instance_class), which the config decides."""

    pin: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    file: Path
    environment: str
    region: str
    account_id: str
    tags: dict[str, str] = field(hash=False)
    source: Source
    target: Target
    database: Database
    lambda_: LambdaSettings
    pipeline: Pipeline
    audit: Audit
    notifications: Notifications
    secrets: Secrets
    dba_principals: tuple[str, ...]
    alarms: Alarms
    schedule: Schedule | None
    drill: Drill
    masking: Masking = field(default_factory=Masking)
    quarantine: Quarantine = field(default_factory=Quarantine)
    parity: Parity = field(default_factory=Parity)

    @property
    def config_dir(self) -> Path:
        return self.file.parent

    @property
    def source_elsewhere(self) -> bool:
        """The source lives in another region or account: its snapshots must be copied."""
        return (self.source.region, self.source.account_id) != (self.region, self.account_id)

    @property
    def cross_account(self) -> bool:
        return self.source.account_id != self.account_id

    @property
    def restore_paths(self) -> tuple[str, ...]:
        """The paths a run of this config may take (and the Lambda role is granted): the
        configured one, or for `auto` the snapshot and — with the source in this region — the
        clone, and a point-in-time restore too when the source is also in this account
        (`run --to-time`). A clone or a point-in-time restore is never cross-region (AWS)."""
        source = self.source
        if source.restore_from != "auto":
            return (source.restore_from,)
        paths = ["snapshot"]
        if source.region == self.region:
            paths.append("clone")
            if not self.cross_account:
                paths.append("point_in_time")
        return tuple(paths)

    @property
    def owns_notification_key(self) -> bool:
        """The topic's key is the one `setup` creates and owns (by its alias, or its alias ARN
        in this account)."""
        key = self.notifications.kms_key_id or ""
        alias = notification_key_alias(self.environment)
        return key == alias or (
            key.startswith("arn:") and key.endswith(f":{self.account_id}:{alias}")
        )

MAX_DRILL_KEEP_MINUTES = 720  # a drill cluster holds production data: keep it at most 12 h
