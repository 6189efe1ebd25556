"""The IAM roles: the guide's three, `aurora-restore-<kind>-role-<env>` for the Lambda
functions, the state machine and the DBAs, and automatic recovery's state machine's. Documents come from `documents/policies/` (pure).

Trust and inline policies are compared as parsed, normalised documents (IAM returns them
URL-encoded; single strings and one-element lists are the same thing; order of statements and
of list values does not matter) and updated in place. Inline policies we no longer want are
deleted, and managed policies attached behind our back are detached: the roles hold exactly
what the config says. No waiting here: a just-created role may not be assumable for a few
seconds; the `lambdas` kind retries its create_function for that (bounded).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..config.settings import Settings
from ..contract.naming import Names, is_managed
from ..documents import policies
from ..documents.policies.compare import normalise, parse_document, same_document
from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.resource import Context, Resource, concurrently, tag_dict, tag_differences, tag_list
from .managed_policy import ManagedPolicy, created_in_this_walk

STEP = "roles"
DESCRIPTIONS = {
    "lambda": "aurora-restore {env}: execution role of the pipeline's Lambda functions",
    "stepfunctions": "aurora-restore {env}: role of the pipeline state machine",
    "dba": "aurora-restore {env}: DBAs read the audit trail and secrets, start/stop refreshes",
    "recovery": "aurora-restore {env}: role of automatic recovery's state machine",
}


@dataclass(frozen=True)
class RoleState:
    arn: str
    description: str
    trust: dict[str, Any] = field(repr=False)
    inline: dict[str, dict[str, Any]] = field(repr=False)  # policy name → parsed document
    managed: tuple[str, ...]  # attached managed policy ARNs
    tags: dict[str, str]


MANAGED_PURPOSES = {
    "lambda-logs": "the Lambda functions write their own log groups (attached to the Lambda role)",
    "lambda-data": "the Lambda functions use the secrets, audit table, topic, metrics and "
    "recovery (attached to the Lambda role)",
}


def resources(ctx: Context) -> list[Resource[Any]]:
    """The customer managed policies first (the roles attach them), then the roles."""
    found: list[Resource[Any]] = []
    for kind in policies.ROLE_KINDS:
        for what in policies.MANAGED_POLICIES.get(kind, ()):
            document = policies.managed_policies(kind, ctx.settings, ctx.names)[
                ctx.names.managed_policy(what)
            ]
            found.append(ManagedPolicy(ctx, what, document, MANAGED_PURPOSES[what]))
    roles: list[Resource[Any]] = [Role(ctx, kind) for kind in policies.ROLE_KINDS]
    for role in roles:
        role.after = tuple(found)  # a role attaches our managed policies: they exist first
    return [*found, *roles]


class Role(Resource[RoleState]):
    kind = "IAM role"

    def __init__(self, ctx: Context, role_kind: str) -> None:
        super().__init__(ctx, ctx.names.role(role_kind))
        self.role_kind = role_kind

    def arn(self) -> str:
        return self.ctx.names.role_arn(self.role_kind)

    @property
    def iam(self) -> Any:
        return self.client("iam")

    def _description(self) -> str:
        return DESCRIPTIONS[self.role_kind].format(env=self.ctx.env)

    def _trust(self) -> dict[str, Any]:
        return policies.trust_policy(self.role_kind, self.ctx.settings, self.ctx.names)

    def _inline(self) -> dict[str, dict[str, Any]]:
        return policies.inline_policies(self.role_kind, self.ctx.settings, self.ctx.names)

    def _managed(self) -> set[str]:
        """The ARNs of the customer managed policies of ours this role has attached."""
        names = self.ctx.names
        return {
            names.managed_policy_arn(w) for w in policies.MANAGED_POLICIES.get(self.role_kind, ())
        }

    def read(self) -> RoleState | None:
        # The role, its inline and its attached policies: all at once (one round trip, plus
        # one for the inline documents); a missing role makes each of them NoSuchEntity. A
        # role the config does not want is most often missing: ask for it alone first.
        get_role = partial(self.iam.get_role, RoleName=self.name)
        try:
            if self.unwanted:
                found = get_role()
                inline, managed = concurrently([self._inline_documents, self._attached])
            else:
                found, inline, managed = concurrently(
                    [get_role, self._inline_documents, self._attached]
                )
        except self.iam.exceptions.NoSuchEntityException:
            return None
        role = found["Role"]
        return RoleState(
            arn=role["Arn"],
            description=role.get("Description") or "",
            trust=parse_document(role["AssumeRolePolicyDocument"]),
            inline=inline,
            managed=tuple(sorted(managed)),
            tags=tag_dict(role["Tags"]) if "Tags" in role else self._list_tags(),
        )

    def _list_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        for page in self.iam.get_paginator("list_role_tags").paginate(RoleName=self.name):
            tags.update(tag_dict(page["Tags"]))
        return tags

    def _inline_documents(self) -> dict[str, dict[str, Any]]:
        names = [
            name
            for page in self.iam.get_paginator("list_role_policies").paginate(RoleName=self.name)
            for name in page["PolicyNames"]
        ]
        documents = concurrently(
            [partial(self.iam.get_role_policy, RoleName=self.name, PolicyName=n) for n in names]
        )
        return {
            name: parse_document(found["PolicyDocument"])
            for name, found in zip(names, documents, strict=True)
        }

    def _attached(self) -> list[str]:
        pages = self.iam.get_paginator("list_attached_role_policies").paginate(RoleName=self.name)
        return [p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]]

    def tags(self, current: RoleState) -> dict[str, str]:
        return current.tags

    def _policy_changes(self, current: RoleState) -> tuple[list[str], list[str]]:
        """(inline policies to put, inline policies to delete)."""
        desired = self._inline()
        to_put = [
            name
            for name, document in sorted(desired.items())
            if name not in current.inline or not same_document(current.inline[name], document)
        ]
        to_delete = sorted(name for name in current.inline if name not in desired)
        return to_put, to_delete

    def differences(self, current: RoleState) -> list[str]:
        diffs = []
        if current.description != self._description():
            diffs.append("description")
        if not same_document(current.trust, self._trust()):
            diffs.append("trust policy")
        to_put, to_delete = self._policy_changes(current)
        diffs += [f"inline policy {name}" for name in to_put]
        diffs += [f"unwanted inline policy {name}" for name in to_delete]
        extra = set(current.managed) - self._managed()
        if extra:
            diffs.append(f"managed policies attached ({len(extra)})")
        if self._managed() - set(current.managed):
            diffs.append("managed policies to attach")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def values(self, current: RoleState, differences: list[str]) -> list[Difference]:
        found: list[Difference] = []
        if "description" in differences:
            found.append(scalar("description", current.description, self._description()))
        if "trust policy" in differences:
            found.append(document_diff("trust policy", normalise(current.trust),
                                  normalise(self._trust())))
        desired = self._inline()
        to_put, to_delete = self._policy_changes(current)
        for name in to_put:
            old = current.inline.get(name)
            found.append(document_diff(f"inline policy {name}", normalise(old) if old else None,
                                  normalise(desired[name])))
        for name in to_delete:
            found.append(document_diff(f"inline policy {name}", normalise(current.inline[name]), None))
        if set(current.managed) != self._managed():
            found.append(document_diff("managed policies", sorted(current.managed),
                                  sorted(self._managed())))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def create(self) -> None:
        self.iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(self._trust()),
            Description=self._description(),
            Tags=tag_list(self.ctx.tags()),
        )
        # Policies are put as an update, so an interrupted create is finished by a re-run. Each
        # inline policy and each attachment needs only the role: all at once.
        concurrently(
            self._put_calls(sorted(self._inline().items()))
            + [partial(self._attach, arn) for arn in sorted(self._managed())]
        )

    def _put_calls(self, policies: list[tuple[str, dict[str, Any]]]) -> list[Callable[[], Any]]:
        return [
            partial(
                self.iam.put_role_policy,
                RoleName=self.name,
                PolicyName=name,
                PolicyDocument=json.dumps(document),
            )
            for name, document in policies
        ]

    def _put_policies(self, policies: list[tuple[str, dict[str, Any]]]) -> None:
        """Put inline policies, all at once (each is its own document)."""
        concurrently(self._put_calls(policies))

    def update(self, current: RoleState, differences: list[str]) -> None:
        if current.description != self._description():
            self.iam.update_role_description(RoleName=self.name, Description=self._description())
        if not same_document(current.trust, self._trust()):
            self.iam.update_assume_role_policy(
                RoleName=self.name, PolicyDocument=json.dumps(self._trust())
            )
        to_put, to_delete = self._policy_changes(current)
        desired = self._inline()
        # What the role gains first, what it loses last: permissions moving from an inline
        # policy to a managed one (an upgrade) are never missing in between.
        self._put_policies([(name, desired[name]) for name in to_put])
        for arn in sorted(self._managed() - set(current.managed)):
            self._attach(arn)
        for name in to_delete:
            self.iam.delete_role_policy(RoleName=self.name, PolicyName=name)
        for arn in sorted(set(current.managed) - self._managed()):  # attached behind our back
            self.iam.detach_role_policy(RoleName=self.name, PolicyArn=arn)
        to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
        if to_set:
            self.iam.tag_role(RoleName=self.name, Tags=tag_list(to_set))
        if to_remove:
            self.iam.untag_role(RoleName=self.name, TagKeys=to_remove)

    def _attach(self, arn: str) -> None:
        """Attach one of our managed policies — only if it carries our tags: a same-named
        policy someone else made (reported `foreign`) must never grant our role anything.
        One this walk created carries our tags: no need to read them again."""
        if arn in created_in_this_walk(self.ctx):
            self.iam.attach_role_policy(RoleName=self.name, PolicyArn=arn)
            return
        try:
            tags = self.iam.list_policy_tags(PolicyArn=arn).get("Tags", [])
        except self.iam.exceptions.NoSuchEntityException:
            return  # not created (yet): a re-run of setup attaches it
        if is_managed(tag_dict(tags), self.ctx.env):
            self.iam.attach_role_policy(RoleName=self.name, PolicyArn=arn)

    def delete(self, current: RoleState) -> None:
        # IAM refuses to delete a role that still has policies or instance profiles.
        calls: list[Callable[[], Any]] = [
            partial(self.iam.delete_role_policy, RoleName=self.name, PolicyName=name)
            for name in sorted(current.inline)
        ]
        calls += [
            partial(self.iam.detach_role_policy, RoleName=self.name, PolicyArn=arn)
            for arn in current.managed
        ]
        calls.append(partial(self.iam.list_instance_profiles_for_role, RoleName=self.name))
        profiles = concurrently(calls)[-1]
        for profile in profiles.get("InstanceProfiles", []):
            self.iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=self.name
            )
        self.iam.delete_role(RoleName=self.name)


def validate_offline(settings: Settings, names: Names) -> str:
    """Build every trust, inline and managed policy and check it (`aurora-restore validate`)."""
    allowed = policies.env_resources(settings, names)
    found: list[str] = []
    statements = exceptions = 0
    for kind in policies.ROLE_KINDS:
        role = names.role(kind)
        trust = policies.trust_policy(kind, settings, names)
        if not all(s.get("Principal") for s in trust["Statement"]):
            found.append(f"{role}: trust policy without a principal")
        documents = policies.inline_policies(kind, settings, names)
        managed = policies.managed_policies(kind, settings, names)
        for name, document in {**documents, **managed}.items():
            found += policies.problems(document, allowed, f"{role}/{name}")
            for statement in document["Statement"]:
                statements += 1
                exceptions += statement["Sid"] in policies.RESOURCE_EXCEPTIONS
        size = policies.inline_size(documents.values())
        if size > policies.INLINE_SIZE_LIMIT:
            found.append(
                f"{role}: inline policies total {size} characters; IAM allows "
                f"{policies.INLINE_SIZE_LIMIT}"
            )
        for name, document in managed.items():
            size = policies.inline_size([document])
            if size > policies.MANAGED_SIZE_LIMIT:
                found.append(
                    f"{name}: {size} characters; IAM allows {policies.MANAGED_SIZE_LIMIT} in a "
                    "managed policy"
                )
    if found:
        raise ValueError("IAM policies: " + "; ".join(found))
    summary = (
        f"IAM policies of {len(policies.ROLE_KINDS)} roles: {statements} statements, no wildcard "
        f"action, resources scoped to env {settings.environment} "
        f"({exceptions} documented exceptions)"
    )
    overlapping = policies.overlapping_clusters(settings)
    if overlapping:
        summary += (
            f"; warning: {', '.join(overlapping)} fall under the role's `"
            f"{settings.target.cluster_id.lower()}-*` instance pattern (the pipeline's guard "
            "still refuses them; IAM alone would not)"
        )
    return summary
