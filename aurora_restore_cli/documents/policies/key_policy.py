"""KMS key policies: the one of the topic's key that `setup` owns, and a reading of any key
policy for "may this AWS service use the key?" (preflight asks it of the topic's key).

CloudWatch publishes an alarm to an encrypted topic only when the key's policy lets
`cloudwatch.amazonaws.com` call kms:GenerateDataKey* and kms:Decrypt (SNS developer guide,
"compatibility with AWS services"); an identity policy cannot grant a service principal, and
the AWS managed aws/sns key's fixed policy never does. EventBridge needs the same to publish.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from ...contract.naming import Names
from .review import as_list
from .statements import VERSION, Document

PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com")
USE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
ALLOWED, DENIED, UNKNOWN = "allowed", "denied", "unknown"
OPERATORS = ("StringEquals", "StringLike", "ArnEquals", "ArnLike")
# Keys of an IAM principal's request: absent when a service principal calls (IAM: a condition
# on an absent key does not hold). The aws/sns policy rests on kms:CallerAccount.
NEVER_FROM_A_SERVICE = {
    "kms:calleraccount",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "aws:username",
}


def notification_key_policy(names: Names) -> Document:
    """The account administers the key (and so IAM policies grant its use: the Lambda role's
    KmsTopic statement); the services that publish to the topic may use it, for this account's
    resources only (aws:SourceAccount: the confused-deputy guard)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{names.partition}:iam::{names.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AlarmsAndEventsPublish",
                "Effect": "Allow",
                "Principal": {"Service": list(PUBLISHING_SERVICES)},
                "Action": list(USE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": names.account_id}},
            },
        ],
    }


def service_use(policy: Document | str, service: str, context: dict[str, str]) -> tuple[str, str]:
    """May the service principal `service` call kms:GenerateDataKey and kms:Decrypt, in a
    request carrying `context`? (ALLOWED | DENIED | UNKNOWN, why). A condition on a key the
    request does not carry fails, as in IAM; one on a key or with an operator this reading does
    not model makes the answer UNKNOWN rather than a guess."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    granted: dict[str, str] = {}
    for statement in as_list(document.get("Statement")):
        sid = str(statement.get("Sid") or "a statement without Sid")
        if not _names_service(statement.get("Principal"), service):
            continue
        actions = [
            a for a in ("kms:GenerateDataKey", "kms:Decrypt")
            if any(fnmatch.fnmatchcase(a, p) for p in as_list(statement.get("Action")))
        ]
        if not actions:
            continue
        holds = _conditions(statement.get("Condition") or {}, context)
        if holds is None:
            return UNKNOWN, f"{sid} has conditions this check cannot evaluate"
        if not holds:
            continue
        if statement.get("Effect") == "Deny":
            return DENIED, f"{sid} denies {service} {', '.join(actions)}"
        granted.update((a, sid) for a in actions)
    missing = [a for a in ("kms:GenerateDataKey", "kms:Decrypt") if a not in granted]
    if missing:
        return DENIED, f"no statement lets {service} use {', '.join(missing)}"
    return ALLOWED, f"{', '.join(sorted(set(granted.values())))} lets {service} use it"


def _names_service(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return service in as_list(principal.get("Service")) or "*" in as_list(principal.get("AWS"))


def _conditions(condition: dict[str, Any], context: dict[str, str]) -> bool | None:
    for operator, pairs in condition.items():
        if operator not in OPERATORS:
            return None
        for key, wanted in pairs.items():
            have = context.get(key)
            if have is None:
                if key.lower() in NEVER_FROM_A_SERVICE:
                    return False  # a service principal's request never carries it: out
                return None
            values = [str(w) for w in as_list(wanted)]
            like = operator in ("StringLike", "ArnLike")
            if not any(fnmatch.fnmatchcase(have, w) if like else have == w for w in values):
                return False
    return True
