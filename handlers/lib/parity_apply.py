"""Applying settings parity (lib/parity.py) to the staging cluster, in rounds, through the
guarded writes (lib/clusters.Writes).

A round applies the fields that differ and were not attempted before: the cluster parameter
group alone first (so that a refusal names it, and because its reboot is waited for anyway),
then every other field at once — one ModifyDBCluster, AddRoleToDBCluster per missing role,
AddTagsToResource, ModifyDBInstance per instance, instances created or deleted to match the
count. `check_settings` runs a round whenever the cluster has settled, until nothing is left
to attempt; a field that still differs after its attempt blocks the swap (SettingsMismatch).
AWS refusing a change fails at once, naming the field(s) and AWS's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.lib import aws, clusters, naming, parity, rds, tags
from handlers.lib import document as doc
from handlers.lib.errors import SettingsMismatch
from handlers.lib.step import Document

FIX = ("fix the old target's setting, or let the config decide it where it has a key "
       "(parity.pin: [target.<key>], e.g. target.instance_class)")


def state(document: Document) -> dict[str, Any]:
    found: dict[str, Any] = document.setdefault("parity", {})
    return found


def apply_round(document: Document, writes: clusters.Writes, staging: dict[str, Any],
                staging_tags: dict[str, str], current: parity.Settings) -> list[str]:
    """Apply what differs and was not attempted yet; returns the fields attempted now."""
    facts = state(document)
    wanted: parity.Settings = facts["desired"]
    attempted = set(facts.get("attempted") or [])
    todo = [d.field for d in parity.differences(current, wanted) if d.field not in attempted]
    if not todo:
        return []
    if "parameter_group" in todo:
        todo = ["parameter_group"]
        _refused(todo, lambda: writes.modify_settings(
            staging, staging_tags, DBClusterParameterGroupName=wanted["parameter_group"]))
    else:
        _cluster(writes, staging, staging_tags, current, wanted, todo)
        _instances(document, writes, staging, staging_tags, current, wanted, todo)
    facts["attempted"] = sorted(attempted | set(todo))
    return todo


def _cluster(writes: clusters.Writes, staging: dict[str, Any], staging_tags: dict[str, str],
             current: parity.Settings, wanted: parity.Settings, todo: Sequence[str]) -> None:
    params = parity.cluster_changes(current, wanted)
    if params:
        fields = [f for f in todo if f in parity.CLUSTER_FIELDS and f not in ("iam_roles", "tags")]
        _refused(fields, lambda: writes.modify_settings(staging, staging_tags, **params))
    for arn, feature in parity.roles_to_add(current, wanted):
        _refused(["iam_roles"], lambda a=arn, f=feature: writes.add_role(staging, staging_tags,
                                                                          a, f))
    added = parity.tags_to_add(current, wanted)
    if added:
        _refused(["tags"], lambda: writes.add_tags(staging, staging_tags, added))


def _instances(document: Document, writes: clusters.Writes, staging: dict[str, Any],
               staging_tags: dict[str, str], current: parity.Settings,
               wanted: parity.Settings, todo: Sequence[str]) -> None:
    have, want = current["instances"], wanted["instances"]
    ids = parity.writer_first(staging)
    for instance_id, now, then in zip(ids, have, want, strict=False):
        params = parity.instance_changes(now, then)
        if params:
            fields = [f for f in parity.INSTANCE_FIELDS if f in todo] or ["instance settings"]
            _refused(fields, lambda i=instance_id, p=params: writes.modify_instance(
                staging, staging_tags, i, **p))
    target = doc.target(document)
    operation_id = doc.operation_id(document)
    if len(want) > len(have):
        taken = set(ids)
        number = 1
        for extra in want[len(have):]:
            while naming.instance_id(doc.target_cluster_id(document), operation_id,
                                     number) in taken:
                number += 1
            new_id = naming.instance_id(doc.target_cluster_id(document), operation_id, number)
            taken.add(new_id)
            _refused(["instance_count"], lambda i=new_id, w=extra: writes.create_instance(
                staging, staging_tags, DBInstanceIdentifier=i,
                Engine=target.get("engine") or "aurora-postgresql", PubliclyAccessible=False,
                Tags=tags.to_list(tags.managed(doc.env(document), operation_id)),
                **parity.create_parameters(w)))
            ids.append(new_id)
    for extra_id in ids[len(want):][::-1] if len(ids) > len(want) else []:
        _refused(["instance_count"], lambda i=extra_id: writes.delete_instance(
            staging, staging_tags, i))
        ids.remove(extra_id)
    document["instance_ids"] = ids


def _refused(fields: Sequence[str], call: Any) -> None:
    try:
        call()
    except Exception as exc:
        code = aws.error_code(exc)
        if not code or aws.is_transient(exc):
            raise
        message = str(getattr(exc, "response", {}).get("Error", {}).get("Message") or exc)
        raise SettingsMismatch(
            f"{', '.join(fields)}: AWS refused to apply the old target's value to the refreshed "
            f"cluster ({code}: {message[:300]}); the swap is blocked, the target untouched: "
            f"{FIX}"
        ) from None


def staging_cluster(document: Document, client: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The cluster this operation restored, and its tags (SettingsMismatch otherwise)."""
    staging_id = str(document["staging_cluster_id"])
    staging = rds.describe_cluster(client, staging_id)
    staging_tags = rds.cluster_tags(client, staging) if staging else {}
    if staging is None or staging_tags.get(tags.OPERATION_KEY) != doc.operation_id(document):
        raise SettingsMismatch(f"{staging_id} is not the cluster this operation restored")
    return staging, staging_tags
