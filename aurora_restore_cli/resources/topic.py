"""The notification topic `aurora-restore-notifications-<env>`: KMS option, tags, e-mail
subscriptions; and, when the config names it, the topic's own KMS key (notification_key.py),
made before the topic and removed after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.resource import Context, Resource, tag_dict, tag_differences, tag_list
from .notification_key import NotificationKey

STEP = "topic"
PENDING = "PendingConfirmation"


@dataclass(frozen=True)
class TopicState:
    arn: str
    kms_key: str | None
    tags: dict[str, str]
    subscriptions: dict[str, str]  # e-mail → subscription ARN (or "PendingConfirmation")


def resources(ctx: Context) -> list[Resource[Any]]:
    wanted = ctx.settings.owns_notification_key
    key, topic = NotificationKey(ctx, wanted), Topic(ctx, ctx.names.topic)
    if wanted:
        topic.after = (key,)  # the topic is encrypted with it
    else:
        key.after = (topic,)  # the topic leaves it before its deletion is scheduled
    return [key, topic]


class Topic(Resource[TopicState]):
    kind = "SNS topic"

    def arn(self) -> str:
        return self.ctx.names.topic_arn

    @property
    def sns(self) -> Any:
        return self.client("sns")

    def read(self) -> TopicState | None:
        arn = self.arn()
        try:
            attributes = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        except self.sns.exceptions.NotFoundException:
            return None
        tags = self.indexed_tags(arn)
        if tags is None:
            tags = tag_dict(self.sns.list_tags_for_resource(ResourceArn=arn).get("Tags", []))
        subscriptions: dict[str, str] = {}
        for page in self.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            for sub in page["Subscriptions"]:
                if sub["Protocol"] == "email":
                    subscriptions[sub["Endpoint"].lower()] = sub["SubscriptionArn"]
        return TopicState(arn, attributes.get("KmsMasterKeyId") or None, tags, subscriptions)

    def tags(self, current: TopicState) -> dict[str, str]:
        return current.tags

    def _emails(self) -> set[str]:
        return {e.lower() for e in self.ctx.settings.notifications.emails}

    def differences(self, current: TopicState) -> list[str]:
        diffs = []
        if current.kms_key != self.ctx.settings.notifications.kms_key_id:
            diffs.append("encryption key")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        missing = self._emails() - set(current.subscriptions)
        extra = {
            e
            for e, arn in current.subscriptions.items()
            if e not in self._emails() and arn != PENDING
        }
        if missing or extra:
            diffs.append(f"subscriptions (+{len(missing)} -{len(extra)})")
        return diffs

    def values(self, current: TopicState, differences: list[str]) -> list[Difference]:
        found: list[Difference] = []
        if "encryption key" in differences:
            found.append(scalar("encryption key", current.kms_key,
                                self.ctx.settings.notifications.kms_key_id))
        if any(d.startswith("subscriptions") for d in differences):
            found.append(document_diff("e-mail subscriptions", sorted(current.subscriptions),
                                  sorted(self._emails())))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def create(self) -> None:
        attributes = {}
        if self.ctx.settings.notifications.kms_key_id:
            attributes["KmsMasterKeyId"] = self.ctx.settings.notifications.kms_key_id
        self.sns.create_topic(Name=self.name, Attributes=attributes, Tags=tag_list(self.ctx.tags()))
        for email in sorted(self._emails()):
            self.sns.subscribe(TopicArn=self.arn(), Protocol="email", Endpoint=email)

    def update(self, current: TopicState, differences: list[str]) -> None:
        if "encryption key" in differences:
            self.sns.set_topic_attributes(
                TopicArn=current.arn,
                AttributeName="KmsMasterKeyId",
                AttributeValue=self.ctx.settings.notifications.kms_key_id or "",
            )
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.sns.tag_resource(ResourceArn=current.arn, Tags=tag_list(to_set))
            if to_remove:
                self.sns.untag_resource(ResourceArn=current.arn, TagKeys=to_remove)
        for email in sorted(self._emails() - set(current.subscriptions)):
            self.sns.subscribe(TopicArn=current.arn, Protocol="email", Endpoint=email)
        for email, arn in sorted(current.subscriptions.items()):
            # A pending subscription has no ARN yet and cannot be removed; SNS expires it.
            if email not in self._emails() and arn != PENDING:
                self.sns.unsubscribe(SubscriptionArn=arn)

    def delete(self, current: TopicState) -> None:
        self.sns.delete_topic(TopicArn=current.arn)  # removes its subscriptions too
