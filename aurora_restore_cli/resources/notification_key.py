"""The topic's KMS key, when the config names `alias/aurora-restore-<env>-notifications` as
`notifications.kms_key_id`: a customer managed symmetric key that `setup` creates with that
alias and tags like everything else, and whose policy (documents/policies/key_policy.py) lets
CloudWatch alarms (and EventBridge) publish to the encrypted topic — which the AWS managed
aws/sns key can never do.

The key is found by its alias; it is ours when it carries our tags. Its policy is compared as
a parsed document and put back when it drifted; a key that is disabled or pending deletion is
enabled again (CancelKeyDeletion leaves it disabled).

KMS keys cannot be deleted at once: cleanup deletes the alias and schedules the key's deletion
with the shortest window KMS allows (7 days; `aws kms cancel-key-deletion` undoes it until
then). When the config names another key (or none), the key is `unwanted` (base.py): setup
schedules its deletion the same way, once the topic no longer uses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..documents.policies.key_policy import notification_key_policy
from .base.resource import Context, Resource, tag_differences

PENDING_WINDOW_DAYS = 7  # KMS's minimum (7–30)
POLICY_NAME = "default"  # the only key policy name KMS knows
NOT_CONFIGURED = f"not in config: deletion scheduled in {PENDING_WINDOW_DAYS} days"
DELETION_NOTE = (
    f"alias deleted; key deletion scheduled in {PENDING_WINDOW_DAYS} days (KMS's minimum "
    "window: `aws kms cancel-key-deletion` keeps it)"
)


@dataclass(frozen=True)
class KeyState:
    key_id: str
    arn: str
    state: str  # Enabled | Disabled | PendingDeletion | …
    policy: dict[str, Any]
    tags: dict[str, str]


def kms_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """KMS spells tags TagKey/TagValue."""
    return [{"TagKey": k, "TagValue": v} for k, v in sorted(tags.items())]


class NotificationKey(Resource[KeyState]):
    kind = "KMS key"

    def __init__(self, ctx: Context, wanted: bool) -> None:
        super().__init__(ctx, ctx.names.notification_key_alias)
        self.unwanted = not wanted

    def arn(self) -> str:
        return self.ctx.names.notification_key_alias_arn

    @property
    def kms(self) -> Any:
        return self.client("kms")

    def read(self) -> KeyState | None:
        try:
            meta = self.kms.describe_key(KeyId=self.name)["KeyMetadata"]
        except self.kms.exceptions.NotFoundException:
            return None
        key_id = meta["KeyId"]
        tags: dict[str, str] = {}
        for page in self.kms.get_paginator("list_resource_tags").paginate(KeyId=key_id):
            tags.update({t["TagKey"]: t["TagValue"] for t in page.get("Tags", [])})
        if meta.get("KeyManager") == "AWS":  # never ours (and its policy is not readable as ours)
            return KeyState(key_id, meta["Arn"], str(meta.get("KeyState")), {}, tags)
        policy = self.kms.get_key_policy(KeyId=key_id, PolicyName=POLICY_NAME)["Policy"]
        return KeyState(key_id, meta["Arn"], str(meta.get("KeyState")), json.loads(policy), tags)

    def tags(self, current: KeyState) -> dict[str, str]:
        return current.tags

    def _policy(self) -> dict[str, Any]:
        return notification_key_policy(self.ctx.names)

    def differences(self, current: KeyState) -> list[str]:
        if self.unwanted:
            return [] if current.state == "PendingDeletion" else [NOT_CONFIGURED]
        diffs = []
        if current.state != "Enabled":
            diffs.append(f"key state {current.state}")
        if current.policy != self._policy():
            diffs.append("key policy")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def create(self) -> None:
        if self.unwanted:  # only reached if it vanished after we read it
            return
        key = self.kms.create_key(
            Description=f"aurora-restore {self.ctx.env}: encrypts the notification topic "
            f"{self.ctx.names.topic}",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Policy=json.dumps(self._policy()),
            Tags=kms_tags(self.ctx.tags()),
        )["KeyMetadata"]
        self.kms.create_alias(AliasName=self.name, TargetKeyId=key["KeyId"])

    def update(self, current: KeyState, differences: list[str]) -> None:
        if self.unwanted:
            self.delete(current)
            return
        if current.state == "PendingDeletion":
            self.kms.cancel_key_deletion(KeyId=current.key_id)  # leaves it Disabled
        if current.state != "Enabled":
            self.kms.enable_key(KeyId=current.key_id)
        if "key policy" in differences:
            self.kms.put_key_policy(
                KeyId=current.key_id, PolicyName=POLICY_NAME, Policy=json.dumps(self._policy())
            )
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.kms.tag_resource(KeyId=current.key_id, Tags=kms_tags(to_set))
            if to_remove:
                self.kms.untag_resource(KeyId=current.key_id, TagKeys=to_remove)

    def delete(self, current: KeyState) -> None:
        self.kms.delete_alias(AliasName=self.name)
        if current.state != "PendingDeletion":
            self.kms.schedule_key_deletion(
                KeyId=current.key_id, PendingWindowInDays=PENDING_WINDOW_DAYS
            )

    def deletion_note(self) -> str:
        return DELETION_NOTE
