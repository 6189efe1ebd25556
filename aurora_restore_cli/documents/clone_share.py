"""What the production account's operator runs so that this env may clone the source cluster
across accounts (docs/fast-paths.md): an AWS RAM resource share of the cluster with this
account, and a key-policy statement that lets this account use the cluster's KMS key through
RDS in that region; then, in this account, accepting the share's invitation (not needed inside
an AWS Organization with RAM sharing enabled). Pure: from the settings, no AWS call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config.settings import Settings
from ..contract.naming import Names

# What RDS needs of the source key to make an encrypted clone for another account (the
# Aurora User Guide's cross-account cloning page; the same grants as a shared snapshot's copy).
KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


@dataclass(frozen=True)
class ShareInstructions:
    production_account: str
    this_account: str
    region: str
    cluster_arn: str
    share_name: str
    key_arn: str | None
    key_statement: dict[str, Any] | None
    production_commands: tuple[str, ...]
    this_account_commands: tuple[str, ...]
    notes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "production_account": self.production_account,
            "this_account": self.this_account,
            "region": self.region,
            "cluster_arn": self.cluster_arn,
            "share_name": self.share_name,
            "key_arn": self.key_arn,
            "key_statement": self.key_statement,
            "production_commands": list(self.production_commands),
            "this_account_commands": list(self.this_account_commands),
            "notes": list(self.notes),
        }


def instructions(settings: Settings, names: Names) -> ShareInstructions:
    source = settings.source
    region, owner, this = source.region, source.account_id, names.account_id
    cluster_arn = f"arn:{names.partition}:rds:{region}:{owner}:cluster:{source.cluster_id.lower()}"
    share = f"aurora-restore-{source.cluster_id.lower()}-{settings.environment}"
    statement = _key_statement(this, region) if source.kms_key_id else None
    commands = [
        f"aws ram create-resource-share --region {region} --name {share} "
        f"--resource-arns {cluster_arn} --principals {this}",
    ]
    notes = []
    if source.kms_key_id:
        key = source.kms_key_id
        commands += [
            f"aws kms get-key-policy --region {region} --key-id {key} --policy-name default "
            "--query Policy --output text > key-policy.json",
            "# add the statement below to the Statement list of key-policy.json, then:",
            f"aws kms put-key-policy --region {region} --key-id {key} --policy-name default "
            "--policy file://key-policy.json",
        ]
    else:
        notes.append(
            "source.kms_key_id is not set: an unencrypted cluster needs no key; an encrypted "
            "one needs its key in source.kms_key_id (the Lambda role is granted only that key)"
        )
    notes += [
        "a cluster encrypted with the production account's AWS managed aws/rds key cannot be "
        "cloned across accounts (that key's policy cannot be changed)",
        "Aurora clones only within a region: the target must be in " + region,
    ]
    if settings.region != region:
        notes.append(
            f"this env's region is {settings.region}: no clone is possible; auto restores a "
            "snapshot"
        )
    accept = (
        f"aws ram get-resource-share-invitations --region {region} "
        f"--query \"resourceShareInvitations[?resourceShareName=='{share}']"
        ".resourceShareInvitationArn\" --output text",
        f"aws ram accept-resource-share-invitation --region {region} "
        "--resource-share-invitation-arn <the ARN above>",
        f"aurora-restore preflight --env {settings.environment}   # the share is visible, the "
        "key usable, the chain has room",
    )
    return ShareInstructions(
        production_account=owner,
        this_account=this,
        region=region,
        cluster_arn=cluster_arn,
        share_name=share,
        key_arn=source.kms_key_id,
        key_statement=statement,
        production_commands=tuple(commands),
        this_account_commands=accept,
        notes=tuple(notes),
    )


def _key_statement(account: str, region: str) -> dict[str, Any]:
    return {
        "Sid": f"AllowAuroraCloneBy{account}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": list(KEY_ACTIONS),
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": f"rds.{region}.amazonaws.com"}},
    }


def as_text(found: ShareInstructions) -> str:
    lines = [
        f"# In the production account {found.production_account}, {found.region}:",
        *found.production_commands,
    ]
    if found.key_statement is not None:
        lines += ["", "# the key-policy statement:", json.dumps(found.key_statement, indent=2)]
    lines += [
        "",
        f"# Then in this account {found.this_account} (not needed inside an AWS Organization "
        "with RAM sharing enabled):",
        *found.this_account_commands,
        "",
        *(f"# note: {note}" for note in found.notes),
    ]
    return "\n".join(lines)
