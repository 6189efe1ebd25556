"""Test support, beside aws_rules.py: AWS's rules for KMS keys and for alarms that publish to
encrypted topics, which moto does not enforce. Same manner: moto's backend classes are patched
(every region, account and thread), a refusal carries AWS's error code, and
`AwsRules.fired` counts each rule that fired.

| request / event | AWS | moto | rule |
|---|---|---|---|
| `alias/aws/<service>` (e.g. alias/aws/sns) is used or described | an AWS managed key (KeyManager AWS), made on first use, whose fixed policy lets only the account's principals use it through that service (`kms:CallerAccount` + `kms:ViaService`) | alias/aws/sns does not exist; the others are customer keys with the default (root) policy | (fidelity: no refusal) |
| PutKeyPolicy on an AWS managed key | refused: its policy cannot be changed | accepted | `aws_managed_key_policy` |
| CreateAlias named `alias/aws/…` | refused: the prefix is reserved for AWS managed keys | accepted for names moto does not reserve | `reserved_alias` |
| CreateKey / PutKeyPolicy with a policy that would lock the account out (no statement letting the account root call kms:PutKeyPolicy), without BypassPolicyLockoutSafetyCheck | MalformedPolicyDocumentException | accepted | `key_policy_lockout` |
| ScheduleKeyDeletion with PendingWindowInDays outside 7–30 | ValidationException | no deletion scheduled, no error | `key_deletion_window` |
| an alarm goes to ALARM with an SNS topic as its action, and the topic is encrypted with a key whose policy does not let `cloudwatch.amazonaws.com` use it (kms:GenerateDataKey*, kms:Decrypt) | the action fails ("CloudWatch Alarms does not have authorization to access the SNS topic encryption key"), recorded in the alarm's history; nobody is notified | alarms never act | `alarm_topic_key_unusable` |

moto's CloudWatch never acts on an alarm: with these rules, `set_alarm_state(..., "ALARM")`
publishes to each topic action as AWS would (so a test can see the notification), or records
the failure and fires `alarm_topic_key_unusable`.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend
from moto.core.exceptions import JsonRESTError
from moto.kms.models import KmsBackend

from .aws_rules import AwsRules

GENERATE, DECRYPT = "kms:GenerateDataKey", "kms:Decrypt"
ALARM_KEY_FAILURE = (
    "Failed to execute action {action}. Received error: CloudWatch Alarms does not have "
    "authorization to access the SNS topic encryption key."
)


def aws_managed_policy(account_id: str, region: str, service: str) -> str:
    """The fixed policy AWS gives its managed key `alias/aws/<service>` (as AWS shows it)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Decrypt",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:ListGrants",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account_id,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                    "Resource": "*",
                },
            ],
        }
    )


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM's reading, for the operators these policies use; a key absent from the request
    makes its condition false (as in IAM), an operator we do not model too."""
    for operator, pairs in condition.items():
        for key, wanted in pairs.items():
            have = context.get(key)
            if have is None:
                return False
            values = [str(w) for w in _list(wanted)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = have in values
            elif operator in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(have, w) for w in values)
            else:
                return False
            if not ok:
                return False
    return True


def service_may_use(policy_text: str, service: str, context: dict[str, str]) -> bool:
    """Does the key policy let `service` (a service principal) call GenerateDataKey and
    Decrypt, for a request with `context`? An explicit Deny wins."""
    try:
        policy = json.loads(policy_text or "{}")
    except ValueError:
        return False
    allowed: set[str] = set()
    for statement in _list(policy.get("Statement")):
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            matches = service in _list(principal.get("Service")) or "*" in _list(
                principal.get("AWS")
            )
        else:
            matches = principal == "*"
        if not matches or not _condition_holds(statement.get("Condition") or {}, context):
            continue
        actions = {
            a
            for a in (GENERATE, DECRYPT)
            if any(fnmatch.fnmatchcase(a, p) for p in _list(statement.get("Action")))
        }
        if statement.get("Effect") == "Deny" and actions:
            return False
        if statement.get("Effect") == "Allow":
            allowed |= actions
    return allowed == {GENERATE, DECRYPT}


def _locks_out(policy_text: str, account_id: str) -> bool:
    """No statement lets the account root (and so the account's IAM principals) change the
    policy: KMS's lockout safety check refuses such a policy."""
    try:
        policy = json.loads(policy_text)
    except ValueError:
        return True
    root = {f"arn:aws:iam::{account_id}:root", account_id}
    for statement in _list(policy.get("Statement")):
        principal = statement.get("Principal")
        aws = _list(principal.get("AWS")) if isinstance(principal, dict) else _list(principal)
        if statement.get("Effect") != "Allow" or not (set(map(str, aws)) & (root | {"*"})):
            continue
        if any(fnmatch.fnmatchcase("kms:PutKeyPolicy", a) for a in _list(statement.get("Action"))):
            return False
    return True


class KmsRefusal(JsonRESTError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@contextmanager
def kms_rules(rules: AwsRules) -> Iterator[AwsRules]:
    kms_names = (
        "get_key_id_from_alias",
        "put_key_policy",
        "create_alias",
        "create_key",
        "schedule_key_deletion",
    )
    originals = {name: getattr(KmsBackend, name) for name in kms_names}
    original_set_state = CloudWatchBackend.set_alarm_state

    def refuse(rule: str, code: str, message: str) -> KmsRefusal:
        rules.fired[rule] += 1
        return KmsRefusal(code, f"{message} [aws_rules: {rule}]")

    def get_key_id_from_alias(self: Any, alias_name: str) -> str | None:
        if not str(alias_name).startswith("alias/aws/"):
            answer: str | None = originals["get_key_id_from_alias"](self, alias_name)
            return answer
        found = next((k.id for k in self.keys.values() if alias_name in k.aliases), None)
        if found is None:  # AWS makes its managed key on first use
            key = originals["create_key"](
                self, None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "Default key", None
            )
            originals["create_alias"](self, key.id, alias_name)
            found = key.id
        key = self.keys[found]
        if key.key_manager != "AWS":
            service = alias_name.split("/", 2)[2]
            key.key_manager = "AWS"
            key.policy = aws_managed_policy(self.account_id, self.region_name, service)
        return found

    def put_key_policy(self: Any, key_id: str, policy: str) -> None:
        key = self.keys[self.get_key_id(key_id)]
        if key.key_manager == "AWS":
            raise refuse(
                "aws_managed_key_policy",
                "AccessDeniedException",
                f"the policy of the AWS managed key {key.arn} cannot be changed",
            )
        if _locks_out(policy, self.account_id):
            raise refuse(
                "key_policy_lockout",
                "MalformedPolicyDocumentException",
                "The new key policy will not allow you to update the key policy in the future.",
            )
        originals["put_key_policy"](self, key_id, policy)

    def create_alias(self: Any, target_key_id: str, alias_name: str) -> Any:
        if str(alias_name).startswith("alias/aws/"):
            raise refuse(
                "reserved_alias",
                "NotAuthorizedException",
                f"{alias_name}: the alias/aws/ prefix is reserved for AWS managed keys",
            )
        return originals["create_alias"](self, target_key_id, alias_name)

    def create_key(self: Any, policy: str | None, *args: Any, **kwargs: Any) -> Any:
        if policy and _locks_out(policy, self.account_id):
            raise refuse(
                "key_policy_lockout",
                "MalformedPolicyDocumentException",
                "The new key policy will not allow you to update the key policy in the future.",
            )
        return originals["create_key"](self, policy, *args, **kwargs)

    def schedule_key_deletion(self: Any, key_id: str, pending_window_in_days: int) -> Any:
        if not 7 <= int(pending_window_in_days) <= 30:
            raise refuse(
                "key_deletion_window",
                "ValidationException",
                f"PendingWindowInDays must be between 7 and 30, got {pending_window_in_days}",
            )
        return originals["schedule_key_deletion"](self, key_id, pending_window_in_days)

    def set_alarm_state(
        self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str
    ) -> None:
        original_set_state(self, alarm_name, reason, reason_data, state_value)
        alarm = self.alarms[alarm_name]
        if state_value == "ALARM" and alarm.actions_enabled:
            for action in alarm.alarm_actions:
                if ":sns:" in action:
                    _deliver(rules, self, alarm, action, reason)

    KmsBackend.get_key_id_from_alias = get_key_id_from_alias  # type: ignore[method-assign]
    KmsBackend.put_key_policy = put_key_policy  # type: ignore[method-assign]
    KmsBackend.create_alias = create_alias  # type: ignore[method-assign]
    KmsBackend.create_key = create_key  # type: ignore[method-assign]
    KmsBackend.schedule_key_deletion = schedule_key_deletion  # type: ignore[method-assign]
    CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]
    try:
        yield rules
    finally:
        for name, original in originals.items():
            setattr(KmsBackend, name, original)
        CloudWatchBackend.set_alarm_state = original_set_state  # type: ignore[method-assign]


def _deliver(rules: AwsRules, cloudwatch: Any, alarm: Any, topic_arn: str, reason: str) -> None:
    """What CloudWatch does with a topic action: publish, unless the topic's key refuses it."""
    from moto.sns.models import sns_backends

    region, account = topic_arn.split(":")[3], topic_arn.split(":")[4]
    topic = sns_backends[account][region].topics.get(topic_arn)
    if topic is None:
        return
    key = str(topic.kms_master_key_id or "")
    if key and not _cloudwatch_may_use(cloudwatch, alarm, topic_arn, key):
        rules.fired["alarm_topic_key_unusable"] += 1
        alarm.history.append(("Action", ALARM_KEY_FAILURE.format(action=topic_arn)))
        return
    message = {"AlarmName": alarm.name, "NewStateValue": "ALARM", "NewStateReason": reason}
    topic.publish(json.dumps(message), subject=f'ALARM: "{alarm.name}"')


def _cloudwatch_may_use(cloudwatch: Any, alarm: Any, topic_arn: str, key: str) -> bool:
    from moto.kms.models import kms_backends

    region = key.split(":")[3] if key.startswith("arn:") else topic_arn.split(":")[3]
    account = key.split(":")[4] if key.startswith("arn:") else topic_arn.split(":")[4]
    kms = kms_backends[account][region]
    try:
        record = kms.keys.get(kms.any_id_to_key_id(key))
    except Exception:  # an alias that names no key
        record = None
    if record is None or record.key_state != "Enabled":
        return False
    context = {
        "aws:SourceAccount": cloudwatch.account_id,
        "aws:SourceArn": alarm.alarm_arn,
        "kms:ViaService": f"sns.{region}.amazonaws.com",
    }
    return service_may_use(record.policy, "cloudwatch.amazonaws.com", context)
