"""The sections around a run: audit, notifications, secrets, roles, alarms, schedule, drill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .fields import EMAIL, IAM_PRINCIPAL, SCHEDULE_EXPRESSION, existing_file, read_kms
from .reader import Section, string_item
from .settings import MAX_DRILL_KEEP_MINUTES, Alarms, Audit, Drill, Notifications, Schedule, Secrets


def read_audit(s: Section) -> Audit:
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
            kms_key_id=read_kms(s, "kms_key_id"),
            ttl_days=s.integer("ttl_days", 1, 3650, 365),
        )

def read_notifications(s: Section) -> Notifications:
    with s.reading():
        return Notifications(
            kms_key_id=read_kms(s, "kms_key_id"),
            emails=s.items("emails", string_item(s.file, EMAIL, "an e-mail address"), []),
        )

def read_secrets(s: Section) -> Secrets:
    with s.reading():
        return Secrets(
            kms_key_id=read_kms(s, "kms_key_id"),
            recovery_window_days=s.integer("recovery_window_days", 7, 30, 7),
        )

def read_roles(s: Section) -> tuple[str, ...]:
    with s.reading():
        return s.items(
            "dba_principals",
            string_item(s.file, IAM_PRINCIPAL, "an IAM principal ARN (root, role or user)"),
            [],
        )

def read_alarms(s: Section) -> Alarms:
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

def read_schedule(s: Section | None) -> Schedule | None:
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

def read_drill(s: Section | None) -> Drill:
    if s is None:
        return Drill(None, 0, None, None, None)
    with s.reading():
        checks = s.raw("checks_sql", None)
        rto = s.raw("rto_alarm_minutes", None)
        rpo = s.raw("rpo_alarm_minutes", None)
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
            schedule=read_schedule(s.optional_section("schedule")),
            rpo_alarm_minutes=None if rpo is None else s.integer("rpo_alarm_minutes", 1, 10080),
        )

def _drill_checks(s: Section, value: Any) -> Path:
    """The checks file exists and splits into at least one check (parsed as the verify step
    will parse it, so a broken file fails here, not in the middle of a drill)."""
    path = existing_file(s, s.key_path("checks_sql"), value)
    from .drill_checks import check_names

    try:
        check_names(path)
    except ValueError as exc:
        raise s.error("checks_sql", str(exc)) from None
    return path
