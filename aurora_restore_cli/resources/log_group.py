"""A CloudWatch Logs group we create and delete: retention from config, tagged at birth.

Used for the functions' logs (`/aws/lambda/<function>`) and the state machine's execution log
(`/aws/vendedlogs/states/<state machine>`). Groups that share a name prefix can be read with
one paginated DescribeLogGroups (`log_groups_by_prefix`); tags come from the tag index.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from .base.changes import Difference, scalar, tags_difference
from .base.resource import BulkRead, Context, Loadable, Resource, tag_differences


def log_groups_by_prefix(ctx: Context, prefix: str) -> BulkRead[dict[str, Any]]:
    """Every log group whose name starts with `prefix`, from one paginated call, on first use."""

    def load() -> dict[str, dict[str, Any]]:
        pages = ctx.clients.get("logs").get_paginator("describe_log_groups")
        found: dict[str, dict[str, Any]] = {}
        for page in pages.paginate(logGroupNamePrefix=prefix):
            found.update({group["logGroupName"]: group for group in page["logGroups"]})
        return found

    return BulkRead(load)


@dataclass(frozen=True)
class LogGroupState:
    arn: str  # without the trailing ":*"
    retention_days: int | None
    tags: dict[str, str]


class LogGroup(Resource[LogGroupState]):
    kind = "log group"

    def __init__(
        self,
        ctx: Context,
        name: str,
        retention_days: int,
        listed: BulkRead[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(ctx, name)
        self.retention_days = retention_days
        self.listed = listed

    def arn(self) -> str:
        return self.ctx.names.log_group_arn(self.name)

    @property
    def logs(self) -> Any:
        return self.client("logs")

    def bulk_reads(self) -> tuple[Loadable, ...]:
        return self.bulk_with_index(self.listed)

    def read(self) -> LogGroupState | None:
        bulk, group = self.listed.take(self.name) if self.listed else (False, None)
        if not bulk:
            group = self._describe()
        if group is None:
            return None
        arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
        tags = self.indexed_tags(arn)
        if tags is None:
            tags = self.logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
        return LogGroupState(arn, group.get("retentionInDays"), dict(tags))

    def _describe(self) -> dict[str, Any] | None:
        pages = self.logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=self.name
        )
        for page in pages:
            for group in page["logGroups"]:
                if group["logGroupName"] == self.name:
                    return dict(group)
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

    def values(self, current: LogGroupState, differences: list[str]) -> list[Difference]:
        found: list[Difference] = []
        if "retention" in differences:
            found.append(scalar("retention (days)", current.retention_days, self.retention_days))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

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
