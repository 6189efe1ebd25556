"""Preflight: can the alarms notify? Every alarm publishes to the topic, and CloudWatch can
publish to an encrypted topic only when the key's policy lets `cloudwatch.amazonaws.com` use it
(kms:GenerateDataKey*, kms:Decrypt). The key is the one the topic really uses (SNS), else the
configured one; its policy is read (kms:GetKeyPolicy) and evaluated for CloudWatch's request.
A policy this check cannot read or evaluate is "not checkable", never a pass.
"""

from __future__ import annotations

from ..documents.policies.key_policy import ALLOWED, DENIED, service_use
from ..resources.base.resource import Context
from .preflight_checks import FAIL, NOT_CHECKABLE, PASS, Check

NAME = "alarms may use the topic's key"
CLOUDWATCH = "cloudwatch.amazonaws.com"


def topic_key(ctx: Context) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    names, env = ctx.names, ctx.env
    own = names.notification_key_alias
    use_own = (
        f"set notifications.kms_key_id: {own} (setup creates that key with a policy letting "
        f"CloudWatch use it) and run `aurora-restore setup topic --env {env}`"
    )
    sns, kms = ctx.clients.get("sns"), ctx.clients.get("kms")
    try:
        attributes = sns.get_topic_attributes(TopicArn=names.topic_arn)["Attributes"]
        key = attributes.get("KmsMasterKeyId") or None
    except sns.exceptions.NotFoundException:
        key = ctx.settings.notifications.kms_key_id  # not set up yet: the setup rows say so
    if not key:
        return Check("alarms", NAME, PASS, "the topic is not encrypted: alarms can publish")
    setup_fixes = f"aurora-restore setup topic --env {env}" if key.endswith(own) else use_own
    try:
        meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        return Check("alarms", NAME, FAIL, f"the topic's key {key} does not exist", setup_fixes)
    except (BotoCoreError, ClientError) as exc:
        return Check("alarms", NAME, NOT_CHECKABLE, f"cannot describe {key}: {exc}")
    if meta.get("KeyManager") == "AWS":
        return Check(
            "alarms",
            NAME,
            FAIL,
            f"the topic is encrypted with the AWS managed key {key}: its fixed policy cannot "
            "let CloudWatch use it, so every alarm action fails and nobody is notified",
            use_own,
        )
    if meta.get("KeyState") != "Enabled":
        return Check("alarms", NAME, FAIL, f"{key} is {meta.get('KeyState')}", setup_fixes)
    try:
        policy = kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"]
    except (BotoCoreError, ClientError) as exc:
        return Check(
            "alarms",
            NAME,
            NOT_CHECKABLE,
            f"cannot read the key policy of {key}: {exc}",
            "allow your principal kms:GetKeyPolicy on the key (or read it in its account)",
        )
    context = {
        "aws:SourceAccount": names.account_id,
        "aws:SourceArn": names.alarm_arn(names.alarm("pipeline-failures")),
        "kms:ViaService": f"sns.{names.region}.amazonaws.com",
        "kms:EncryptionContext:aws:sns:topicArn": names.topic_arn,
    }
    verdict, why = service_use(policy, CLOUDWATCH, context)
    if verdict == ALLOWED:
        return Check("alarms", NAME, PASS, f"{key}: {why}")
    if verdict == DENIED:
        fix = (
            setup_fixes
            if key.endswith(own)
            else f"add to the key policy of {key} a statement allowing Service {CLOUDWATCH} "
            f"kms:GenerateDataKey* and kms:Decrypt (Condition aws:SourceAccount "
            f"{names.account_id}), or {use_own}"
        )
        return Check("alarms", NAME, FAIL, f"{key}: {why}: no alarm would notify", fix)
    return Check("alarms", NAME, NOT_CHECKABLE, f"{key}: {why}")
