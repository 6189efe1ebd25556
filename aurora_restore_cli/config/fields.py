"""The shapes of the values a config holds (AWS ids, names, allowed values), and the readers
of the fields several sections share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .reader import ConfigError, Section
from .regions import region_problem

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

IAM_PRINCIPAL = r"arn:aws[a-z-]*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)"

EMAIL = r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"

PG_NAME = r"[A-Za-z_][A-Za-z0-9_$]{0,62}"

TABLE_NAME = r"(?:[A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}"

# python3.10 is not offered: the database steps' pinned driver (pg8000 1.31.6, which pins
# scramp 1.5.0, Requires-Python >= 3.11; documents/packaging.py) has no build for it, and the
# handlers are tested against exactly those pins.
SUPPORTED_RUNTIMES = ("python3.11", "python3.12", "python3.13")
UNSUPPORTED_RUNTIMES = {
    "python3.8": "deprecated by AWS Lambda",
    "python3.9": "deprecated by AWS Lambda",
    "python3.10": "the pinned PostgreSQL driver (pg8000 1.31.6 → scramp 1.5.0) needs Python ≥ 3.11",
}

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

def read_region(section: Section, key: str) -> str:
    """A region botocore's partition data knows (offline), not just one shaped like it."""
    value = str(section.string(key, pattern=REGION, expected="an AWS region such as us-east-1"))
    problem = region_problem(value)
    if problem:
        raise section.error(key, problem)
    return value

def read_account(section: Section, key: str) -> str:
    value = section.raw(key)
    if isinstance(value, int) and not isinstance(value, bool):
        raise section.error(
            key, "expected a 12-digit account id in quotes (YAML drops leading zeros)"
        )
    return str(section.string(key, pattern=ACCOUNT_ID, expected="a 12-digit AWS account id"))

def read_kms(section: Section, key: str) -> str | None:
    return section.string(key, None, pattern=KMS_KEY, expected="a KMS key id, key ARN or alias")

def existing_file(s: Section, path: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(s.file, path, "expected a file path relative to the config directory")
    resolved = (s.file.parent / value).resolve()
    if not resolved.is_file():
        raise ConfigError(s.file, path, f"file not found: {resolved}")
    return resolved
