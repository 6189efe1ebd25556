"""A CloudWatch Logs group we create and delete: retention from config, tagged at birth.

Used for the state machine's execution log (`/aws/vendedlogs/states/<state machine>`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from .base import Context, Resource, tag_differences


@dataclass(frozen=True)
class LogGroupState:
    arn: str  # without the trailing ":*"
    retention_days: int | None
    tags: dict[str, str]


class LogGroup(Resource[LogGroupState]):
    kind = "log group"

    def __init__(self, ctx: Context, name: str, retention_days: int) -> None:
        super().__init__(ctx, name)
        self.retention_days = retention_days

    def arn(self) -> str:
        return self.ctx.names.log_group_arn(self.name)

    @property
    def logs(self) -> Any:
        return self.client("logs")

    def read(self) -> LogGroupState | None:
        pages = self.logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=self.name
        )
        for page in pages:
            for group in page["logGroups"]:
                if group["logGroupName"] == self.name:
                    arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
                    tags = self.logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
                    return LogGroupState(arn, group.get("retentionInDays"), dict(tags))
        return None

    def tags(self, current: LogGroupState) -> dict[str, str]:
        return current.tags

    def differences(self, current: LogGroupState) -> list[str]:
        diffs = []
        if current.retention_days != self.retention_days:
            diffs.append("retention")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def create(self) -> None:
        self.logs.create_log_group(logGroupName=self.name, tags=self.ctx.tags())
        self._put_retention()  # an interrupted create leaves retention unset: a re-run sets it

    def _put_retention(self) -> None:
        self.logs.put_retention_policy(logGroupName=self.name, retentionInDays=self.retention_days)

    def update(self, current: LogGroupState, differences: list[str]) -> None:
        if "retention" in differences:
            self._put_retention()
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.logs.tag_resource(resourceArn=current.arn, tags=to_set)
            if to_remove:
                self.logs.untag_resource(resourceArn=current.arn, tagKeys=to_remove)

    def delete(self, current: LogGroupState) -> None:
        # Gone since we read it: the goal is reached.
        with contextlib.suppress(self.logs.exceptions.ResourceNotFoundException):
            self.logs.delete_log_group(logGroupName=self.name)
