"""The one config object: `config/<env>.yaml` loaded into frozen, fully validated settings.

Validation is complete before any AWS call and never touches the network; a bad file raises
`ConfigError` naming the file and key path (the CLI turns it into exit code 2).
"""

from __future__ import annotations

import dataclasses
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_reader import ConfigError, Section, load_yaml_mapping, string_item
from .regions import partition, region_problem

__all__ = ["ConfigError", "Settings", "load_settings"]

ENV_NAME = r"[a-z][a-z0-9-]{0,19}"
REGION = r"[a-z]{2}(-[a-z]+)+-\d{1,2}"  # the shape; regions.py checks it exists
ACCOUNT_ID = r"\d{12}"
# RDS: 1-63 letters, digits, hyphens; starts with a letter; no trailing or double hyphen.
# Ours are capped at 40 so that the staging/old ids derived from them still fit in 63.
CLUSTER_ID = r"(?!.*--)[A-Za-z][A-Za-z0-9-]{0,38}[A-Za-z0-9]|[A-Za-z]"
ANY_CLUSTER_ID = r"(?!.*--)[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]|[A-Za-z]"
SG_ID = r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?"
SUBNET_ID = r"subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?"
KMS_KEY = (
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[0-9a-f-]{36}|alias/[A-Za-z0-9/_-]+)"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|alias/[A-Za-z0-9/_-]+"
)
# A key ARN (not an alias): IAM grants on keys name the key ARN, and a key of another account
# can only be referred to by ARN.
KMS_KEY_ARN = r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
INSTANCE_CLASS = r"db\.serverless|db\.[a-z0-9-]+\.[a-z0-9]+"
SERVERLESS_CLASS = "db.serverless"
# AWS's published bundle of the RDS certificate authorities (all commercial regions).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
RDS_CA_BUNDLE_FILE = "rds-global-bundle.pem"
IAM_PRINCIPAL = r"arn:aws[a-z-]*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)"
EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"
PG_NAME = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"
TABLE_NAME = r"(?:[A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}"
SUPPORTED_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
SCHEDULE_EXPRESSION = r"(cron|rate|at)\(.+\)"


@dataclass(frozen=True)
class Source:
    cluster_id: str
    region: str
    account_id: str
    snapshot_type: str
    max_age_hours: int
    kms_key_id: str | None  # key ARN of the key encrypting the source snapshots; None: unencrypted


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
    "delete": WaitLoop(first_seconds=400, poll_seconds=20, max_seconds=7200),
    "restore": WaitLoop(first_seconds=1260, poll_seconds=20, max_seconds=14400),
    "instances": WaitLoop(first_seconds=600, poll_seconds=15, max_seconds=7200),
    "password": WaitLoop(first_seconds=45, poll_seconds=5, max_seconds=1800),
    "rename": WaitLoop(first_seconds=100, poll_seconds=5, max_seconds=1800),
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
    with top.reading():
        settings = _settings(file, top, env)
    _check_cross_references(settings)
    return settings


def _settings(file: Path, top: Section, env: str) -> Settings:
    environment = top.string("environment", pattern=ENV_NAME, expected="an environment name")
    if environment != env:
        raise top.error("environment", f"is {environment!r} but the file is for {env!r}")
    region = _region(top, "region")
    return Settings(
        file=file,
        environment=environment,
        region=region,
        account_id=_account(top, "account_id"),
        tags=_tags(top),
        source=_source(top.section("source")),
        target=_target(top.section("target")),
        database=_database(top.section("database")),
        lambda_=_lambda(top.section("lambda")),
        pipeline=_pipeline(top.section("pipeline")),
        audit=_audit(top.section("audit")),
        notifications=_notifications(top.section("notifications")),
        secrets=_secrets(top.section("secrets")),
        dba_principals=_roles(top.section("roles")),
        alarms=_alarms(top.section("alarms")),
        schedule=_schedule(top.optional_section("schedule")),
        drill=_drill(top.optional_section("drill")),
    )


def _region(section: Section, key: str) -> str:
    """A region botocore's partition data knows (offline), not just one shaped like it."""
    value = str(section.string(key, pattern=REGION, expected="an AWS region such as us-east-1"))
    problem = region_problem(value)
    if problem:
        raise section.error(key, problem)
    return value


def _account(section: Section, key: str) -> str:
    value = section.raw(key)
    if isinstance(value, int) and not isinstance(value, bool):
        raise section.error(
            key, "expected a 12-digit account id in quotes (YAML drops leading zeros)"
        )
    return str(section.string(key, pattern=ACCOUNT_ID, expected="a 12-digit AWS account id"))


def _kms(section: Section, key: str) -> str | None:
    return section.string(key, None, pattern=KMS_KEY, expected="a KMS key id, key ARN or alias")


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


def _source(s: Section) -> Source:
    with s.reading():
        return Source(
            cluster_id=s.string(
                "cluster_id", pattern=ANY_CLUSTER_ID, expected="an RDS cluster identifier"
            ),
            region=_region(s, "region"),
            account_id=_account(s, "account_id"),
            snapshot_type=s.string("snapshot_type", "any", choices=("automated", "manual", "any")),
            max_age_hours=s.integer("max_age_hours", 1, 24 * 366),
            kms_key_id=s.string(
                "kms_key_id",
                None,
                pattern=KMS_KEY_ARN,
                expected="the ARN of the KMS key encrypting the source snapshots "
                "(arn:aws:kms:<source region>:<source account>:key/<id>; not an alias)",
            ),
        )


def _target(s: Section) -> Target:
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
        return Target(
            cluster_id=cluster_id,
            engine=s.string("engine", "aurora-postgresql", choices=("aurora-postgresql",)),
            engine_version=_version(s),
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
            kms_key_id=_kms(s, "kms_key_id"),
            port=s.integer("port", 1150, 65535, 5432),
            parameter_group=s.string(
                "parameter_group",
                None,
                pattern=r"[A-Za-z][A-Za-z0-9-]{0,254}",
                expected="a DB cluster parameter group name",
            ),
            iam_auth=s.boolean("iam_auth", False),
            log_exports=s.items(
                "log_exports",
                string_item(
                    f,
                    r"postgresql|instance|iam-db-auth-error",
                    "postgresql, instance or iam-db-auth-error",
                ),
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


def _version(s: Section) -> str:
    value = s.raw("engine_version")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise s.error(
            "engine_version", f'expected a version string in quotes, e.g. "15.4", got {value!r}'
        )
    return str(
        s.string("engine_version", pattern=r"\d+(\.\d+){0,2}", expected='a version such as "15.4"')
    )


def _user(file: Path) -> Any:
    def check(path: str, value: Any) -> AppUser:
        s = Section(file, path, value)
        with s.reading():
            name = s.string("name", expected="a PostgreSQL role name (1-63 characters)")
            if len(name.encode()) > 63 or name.lower().startswith("pg_"):
                raise s.error(
                    "name", "PostgreSQL role names have at most 63 bytes and no pg_ prefix"
                )
            return AppUser(
                name=name, privilege=s.string("privilege", choices=("read-write", "read-only"))
            )

    return check


def _expected_table(file: Path) -> Any:
    def check(path: str, value: Any) -> ExpectedTable:
        s = Section(file, path, value)
        with s.reading():
            return ExpectedTable(
                name=s.string(
                    "name", pattern=TABLE_NAME, expected="a table name, optionally schema-qualified"
                ),
                min_rows=s.integer("min_rows", 0, 10**12, 0),
            )

    return check


def _existing_file(s: Section, path: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(s.file, path, "expected a file path relative to the config directory")
    resolved = (s.file.parent / value).resolve()
    if not resolved.is_file():
        raise ConfigError(s.file, path, f"file not found: {resolved}")
    return resolved


def _ca_bundle(s: Section, value: Any) -> Path:
    """A PEM file of CA certificates that Python's ssl module can load."""
    path = _existing_file(s, "database.ca_bundle", value)
    count = ca_certificate_count(path)
    if count == 0:
        raise ConfigError(
            s.file,
            "database.ca_bundle",
            f"{path} holds no PEM CA certificate; get AWS's bundle with: "
            f"{ca_bundle_fetch_command(s.file.parent)}",
        )
    return path


def ca_certificate_count(path: Path) -> int:
    """How many CA certificates `path` holds (0 when it is not loadable PEM)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return 0
    if "-----BEGIN CERTIFICATE-----" not in text:
        return 0
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=text)
    except (ssl.SSLError, ValueError):
        return 0
    return len(context.get_ca_certs())


def ca_bundle_fetch_command(config_dir: Path) -> str:
    return f"curl -fsSo {config_dir / RDS_CA_BUNDLE_FILE} {RDS_CA_BUNDLE_URL}"


def require_ca_bundle(settings: Settings) -> Path:
    """The CA bundle the database steps verify the cluster's certificate with.

    Needed against AWS (not in the sandbox, whose database steps are skipped): the RDS
    certificate authorities are not in the Lambda runtime's trust store, and we never fall
    back to unverified TLS. Raises ConfigError saying exactly how to get AWS's bundle."""
    if settings.database.ca_bundle is not None:
        return settings.database.ca_bundle
    raise ConfigError(
        settings.file,
        "database.ca_bundle",
        "is required against AWS: the RDS certificate authorities are not in the Lambda "
        f"runtime's trust store. Get AWS's bundle with `{ca_bundle_fetch_command(settings.config_dir)}` "
        f"and set database.ca_bundle: {RDS_CA_BUNDLE_FILE}",
    )


def _database(s: Section) -> Database:
    f = s.file
    with s.reading():
        name = s.string("name", pattern=PG_NAME, expected="a database name")
        ca = s.raw("ca_bundle", None)
        users = s.items("users", _user(f), [])
        seen: set[str] = set()
        for i, user in enumerate(users):
            if user.name in seen:
                raise ConfigError(f, f"database.users[{i}].name", f"duplicate user {user.name!r}")
            seen.add(user.name)
        verify = s.optional_section("verify")
        expected: tuple[ExpectedTable, ...] = ()
        if verify is not None:
            with verify.reading():
                expected = verify.items("expected_tables", _expected_table(f), [])
        return Database(
            name=name,
            ca_bundle=None if ca is None else _ca_bundle(s, ca),
            connect_timeout_seconds=s.integer("connect_timeout_seconds", 1, 120, 10),
            schemas=s.items(
                "schemas", string_item(f, PG_NAME, "a schema name"), ["public"], min_items=1
            ),
            users=users,
            post_restore_sql=s.items("post_restore_sql", lambda p, v: _existing_file(s, p, v), []),
            expected_tables=expected,
        )


def _lambda(s: Section) -> LambdaSettings:
    with s.reading():
        runtime = s.raw("runtime", "python3.12")
        if runtime not in SUPPORTED_RUNTIMES:
            hint = " (deprecated by AWS Lambda)" if runtime in ("python3.8", "python3.9") else ""
            raise s.error(
                "runtime", f"expected one of {', '.join(SUPPORTED_RUNTIMES)}, got {runtime!r}{hint}"
            )
        vpc = s.optional_section("vpc")
        vpc_settings = None
        if vpc is not None:
            with vpc.reading():
                vpc_settings = Vpc(
                    subnet_ids=vpc.items(
                        "subnet_ids",
                        string_item(s.file, SUBNET_ID, "a subnet id (subnet-…)"),
                        min_items=1,
                    ),
                    security_group_ids=vpc.items(
                        "security_group_ids",
                        string_item(s.file, SG_ID, "a security group id (sg-…)"),
                        min_items=1,
                    ),
                )
        retention = s.raw("log_retention_days", 30)
        if retention not in LOG_RETENTION_DAYS:
            raise s.error(
                "log_retention_days",
                f"expected one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, …, 3653), got {retention!r}",
            )
        return LambdaSettings(
            runtime=runtime,
            architecture=s.string("architecture", "arm64", choices=("arm64", "x86_64")),
            memory_mb=s.integer("memory_mb", 128, 10240, 256),
            timeout_seconds=s.integer("timeout_seconds", 1, 900, 300),
            log_retention_days=retention,
            vpc=vpc_settings,
        )


REMOVED_PIPELINE_KEYS = ("poll_interval_seconds", "max_poll_attempts")


def _pipeline(s: Section) -> Pipeline:
    for key in REMOVED_PIPELINE_KEYS:
        if s.has(key):
            raise s.error(
                key,
                "replaced by per-loop settings: pipeline.waits.<loop>.first_seconds, "
                "poll_seconds and max_seconds (see config/dev.yaml)",
            )
    with s.reading():
        timeout = s.integer("timeout_seconds", 300, 31_536_000, 86400)
        growth = s.integer("poll_growth_percent", 0, 50, 2)
        waits = s.optional_section("waits")
        loops = dict(WAIT_LOOP_DEFAULTS)
        if waits is not None:
            with waits.reading():
                for key, default in WAIT_LOOP_DEFAULTS.items():
                    loop = waits.optional_section(key)
                    if loop is not None:
                        loops[key] = _wait_loop(loop, default, timeout)
        return Pipeline(timeout_seconds=timeout, poll_growth_percent=growth, waits=loops)


def _wait_loop(s: Section, default: WaitLoop, timeout: int) -> WaitLoop:
    with s.reading():
        first = s.integer("first_seconds", 0, 86400, default.first_seconds)
        poll = s.integer("poll_seconds", 1, 3600, default.poll_seconds)
        longest = s.integer("max_seconds", 1, 31_536_000, default.max_seconds)
        if longest < first:
            raise s.error("max_seconds", f"is shorter than first_seconds ({first})")
        if longest > timeout:
            raise s.error(
                "max_seconds",
                f"is longer than the whole execution (pipeline.timeout_seconds {timeout})",
            )
        return WaitLoop(first_seconds=first, poll_seconds=poll, max_seconds=longest)


def _audit(s: Section) -> Audit:
    with s.reading():
        mode = s.string(
            "billing_mode", "PAY_PER_REQUEST", choices=("PAY_PER_REQUEST", "PROVISIONED")
        )
        read = write = None
        if mode == "PROVISIONED":
            read = s.integer("read_capacity", 1, 40000)
            write = s.integer("write_capacity", 1, 40000)
        else:
            for key in ("read_capacity", "write_capacity"):
                if s.has(key):
                    raise s.error(key, "only allowed with billing_mode: PROVISIONED")
        return Audit(
            billing_mode=mode,
            read_capacity=read,
            write_capacity=write,
            point_in_time_recovery=s.boolean("point_in_time_recovery", True),
            kms_key_id=_kms(s, "kms_key_id"),
            ttl_days=s.integer("ttl_days", 1, 3650, 365),
        )


def _notifications(s: Section) -> Notifications:
    with s.reading():
        return Notifications(
            kms_key_id=_kms(s, "kms_key_id"),
            emails=s.items("emails", string_item(s.file, EMAIL, "an e-mail address"), []),
        )


def _secrets(s: Section) -> Secrets:
    with s.reading():
        return Secrets(
            kms_key_id=_kms(s, "kms_key_id"),
            recovery_window_days=s.integer("recovery_window_days", 7, 30, 7),
        )


def _roles(s: Section) -> tuple[str, ...]:
    with s.reading():
        return s.items(
            "dba_principals",
            string_item(s.file, IAM_PRINCIPAL, "an IAM principal ARN (root, role or user)"),
            [],
        )


def _alarms(s: Section) -> Alarms:
    with s.reading():
        period = s.integer("period_seconds", 10, 86400, 300)
        if period not in (10, 30) and period % 60:
            raise s.error("period_seconds", f"expected 10, 30 or a multiple of 60, got {period}")
        return Alarms(
            period_seconds=period,
            failed_executions=s.integer("failed_executions", 1, 1000, 1),
            timed_out_executions=s.integer("timed_out_executions", 1, 1000, 1),
            aborted_executions=s.integer("aborted_executions", 1, 1000, 1),
            lambda_errors=s.integer("lambda_errors", 1, 1000, 1),
        )


def _schedule(s: Section | None) -> Schedule | None:
    if s is None:
        return None
    with s.reading():
        return Schedule(
            expression=s.string(
                "expression",
                pattern=SCHEDULE_EXPRESSION,
                expected="a schedule expression: cron(…), rate(…) or at(…)",
            ),
            timezone=s.string(
                "timezone",
                "UTC",
                pattern=r"[A-Za-z_]+(/[A-Za-z0-9_+-]+)*",
                expected="an IANA time zone such as UTC or Europe/Berlin",
            ),
            enabled=s.boolean("enabled", True),
        )


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


# --- restore drills --------------------------------------------------------------------------

MAX_DRILL_KEEP_MINUTES = 720  # a drill cluster holds production data: keep it at most 12 h


def _drill(s: Section | None) -> Drill:
    if s is None:
        return Drill(None, 0, None, None, None)
    with s.reading():
        checks = s.raw("checks_sql", None)
        rto = s.raw("rto_alarm_minutes", None)
        return Drill(
            checks_sql=None if checks is None else _drill_checks(s, checks),
            keep_minutes=s.integer("keep_minutes", 0, MAX_DRILL_KEEP_MINUTES, 0),
            rto_alarm_minutes=None if rto is None else s.integer("rto_alarm_minutes", 1, 10080),
            instance_class=s.string(
                "instance_class",
                None,
                pattern=r"db\.[a-z0-9-]+\.[a-z0-9]+",
                expected="an instance class such as db.r6g.large",
            ),
            schedule=_schedule(s.optional_section("schedule")),
        )


def _drill_checks(s: Section, value: Any) -> Path:
    """The checks file exists and splits into at least one check (parsed as the verify step
    will parse it, so a broken file fails here, not in the middle of a drill)."""
    path = _existing_file(s, s.key_path("checks_sql"), value)
    from .drill_checks import check_names

    try:
        check_names(path)
    except ValueError as exc:
        raise s.error("checks_sql", str(exc)) from None
    return path
