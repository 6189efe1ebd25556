"""Our tags of many resources at once, from the Resource Groups Tagging API.

One paginated `GetResources` call, filtered on our two managed tags for this env and on the
services below, returns every resource of ours there with all its tags — instead of one
tags call per log group, function, alarm, table, topic, state machine and rule. Resources use it
through `Resource.indexed_tags()`, which trusts an entry only when it holds exactly the tags
we want; anything else (absent from the index, other tags, the index unavailable) is read
from the service itself. So the index only ever saves calls: it never decides that a
resource is ours when the service says otherwise, nor hides a difference it reports.

The API is eventually consistent (tags changed in the last moments may not show yet): a tag
change made by someone else just before a run can be seen by the next run only. Ownership
before a delete is always checked with the service itself (cleanup does not use the index).
Needs `tag:GetResources`; without it (or on any error) every resource reads its own tags.
"""

from __future__ import annotations

import threading
from typing import Any

from ...aws import Clients
from ...contract.naming import managed_tags

# Services whose resources we read tags of through the index (ARN service names).
INDEXED_SERVICES = ("lambda", "logs", "cloudwatch", "states", "dynamodb", "sns", "events")
RESOURCES_PER_PAGE, TAGS_PER_PAGE = 100, 500  # the API's maximums


def normalise_arn(arn: str) -> str:
    """Log group ARNs come with and without the trailing ':*'."""
    return arn.removesuffix(":*")


class TagIndex:
    """`index.load()` once (thread-safe, idempotent; `get` does it too), then `index.get(arn)`."""

    def __init__(self, clients: Clients, env: str) -> None:
        self.clients = clients
        self.env = env
        self._tags: dict[str, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Read the index (once; later calls return at once)."""
        from botocore.exceptions import BotoCoreError, ClientError

        with self._lock:
            if self._tags is not None:
                return
            try:
                self._tags = self._load()
            except (ClientError, BotoCoreError):
                self._tags = {}  # no index: every resource reads its own tags

    def _load(self) -> dict[str, dict[str, str]]:
        api: Any = self.clients.get("resourcegroupstaggingapi")
        filters = [{"Key": k, "Values": [v]} for k, v in sorted(managed_tags(self.env).items())]
        found: dict[str, dict[str, str]] = {}
        pages = api.get_paginator("get_resources").paginate(
            TagFilters=filters,
            ResourceTypeFilters=list(INDEXED_SERVICES),
            ResourcesPerPage=RESOURCES_PER_PAGE,
            TagsPerPage=TAGS_PER_PAGE,
        )
        for page in pages:
            for item in page.get("ResourceTagMappingList", []):
                tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
                found[normalise_arn(item["ResourceARN"])] = tags
        return found

    def get(self, arn: str) -> dict[str, str] | None:
        """The resource's tags as the index knows them, None when it does not list it."""
        self.load()
        assert self._tags is not None
        return self._tags.get(normalise_arn(arn))
