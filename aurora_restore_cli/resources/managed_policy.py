"""A customer managed IAM policy of ours (`aurora-restore-<what>-<env>`), attached to one of
our roles by resources/roles.py. Used where a role's permissions would not fit in its inline
policies (IAM caps them at 10,240 characters per role; a managed policy holds 6,144).

Compared by its default version's parsed document and its tags. A changed document becomes a
new default version (IAM keeps at most five: the oldest non-default one is deleted first).
Deleting it detaches it from every role first (IAM refuses otherwise) and deletes its older
versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..documents.policies.compare import normalise, parse_document, same_document
from .base.changes import Difference, document_diff, tags_difference
from .base.resource import Context, Resource, tag_dict, tag_differences, tag_list

MAX_VERSIONS = 5  # IAM's limit per managed policy
# ctx.cache key: ARNs of the managed policies this walk created (so, with our tags): a role
# attaching one of them need not read its tags again (resources/roles.py).
CREATED_KEY = "managed-policies-created"


def created_in_this_walk(ctx: Context) -> set[str]:
    created: set[str] = ctx.cache.setdefault(CREATED_KEY, set())
    return created


@dataclass(frozen=True)
class PolicyState:
    arn: str
    description: str
    document: dict[str, Any] = field(repr=False)  # the default version, parsed
    tags: dict[str, str]


class ManagedPolicy(Resource[PolicyState]):
    kind = "IAM policy"

    def __init__(self, ctx: Context, what: str, document: dict[str, Any], purpose: str) -> None:
        super().__init__(ctx, ctx.names.managed_policy(what))
        self.what = what
        self.document = document
        self.purpose = purpose

    def arn(self) -> str:
        return self.ctx.names.managed_policy_arn(self.what)

    @property
    def iam(self) -> Any:
        return self.client("iam")

    def _description(self) -> str:
        return f"aurora-restore {self.ctx.env}: {self.purpose}"

    def read(self) -> PolicyState | None:
        try:
            policy = self.iam.get_policy(PolicyArn=self.arn())["Policy"]
        except self.iam.exceptions.NoSuchEntityException:
            return None
        version = self.iam.get_policy_version(
            PolicyArn=self.arn(), VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]
        tags = policy.get("Tags")
        if tags is None:
            tags = self.iam.list_policy_tags(PolicyArn=self.arn()).get("Tags", [])
        return PolicyState(
            arn=policy["Arn"],
            description=policy.get("Description") or "",
            document=parse_document(version["Document"]),
            tags=tag_dict(tags),
        )

    def tags(self, current: PolicyState) -> dict[str, str]:
        return current.tags

    def differences(self, current: PolicyState) -> list[str]:
        diffs = []
        if not same_document(current.document, self.document):
            diffs.append("document")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs  # the description cannot change in place; it only explains

    def values(self, current: PolicyState, differences: list[str]) -> list[Difference]:
        found: list[Difference] = []
        if "document" in differences:
            found.append(document_diff("document", normalise(current.document),
                                  normalise(self.document)))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def create(self) -> None:
        created = self.iam.create_policy(
            PolicyName=self.name,
            PolicyDocument=json.dumps(self.document),
            Description=self._description(),
            Tags=tag_list(self.ctx.tags()),
        )
        created_in_this_walk(self.ctx).add(created["Policy"]["Arn"])

    def update(self, current: PolicyState, differences: list[str]) -> None:
        if "document" in differences:
            versions = self.iam.list_policy_versions(PolicyArn=current.arn)["Versions"]
            if len(versions) >= MAX_VERSIONS:
                oldest = min(
                    (v for v in versions if not v["IsDefaultVersion"]),
                    key=lambda v: v["CreateDate"],
                )
                self.iam.delete_policy_version(PolicyArn=current.arn, VersionId=oldest["VersionId"])
            self.iam.create_policy_version(
                PolicyArn=current.arn, PolicyDocument=json.dumps(self.document), SetAsDefault=True
            )
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.iam.tag_policy(PolicyArn=current.arn, Tags=tag_list(to_set))
            if to_remove:
                self.iam.untag_policy(PolicyArn=current.arn, TagKeys=to_remove)

    def delete(self, current: PolicyState) -> None:
        entities = self.iam.list_entities_for_policy(PolicyArn=current.arn)
        for role in entities.get("PolicyRoles", []):
            self.iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=current.arn)
        for user in entities.get("PolicyUsers", []):
            self.iam.detach_user_policy(UserName=user["UserName"], PolicyArn=current.arn)
        for group in entities.get("PolicyGroups", []):
            self.iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=current.arn)
        for version in self.iam.list_policy_versions(PolicyArn=current.arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                self.iam.delete_policy_version(
                    PolicyArn=current.arn, VersionId=version["VersionId"]
                )
        self.iam.delete_policy(PolicyArn=current.arn)
