"""Preflight checks of access: what the Lambda role may do (IAM's policy simulator), and the
KMS key of a snapshot restored in place. (How the database steps reach the cluster and the AWS
APIs: preflight_network.py.)

`planned_requests()` lists every (action, resource ARNs, condition context) a run performs as
the Lambda role — the KMS keys it uses and every RDS action on every resource RDS authorises it
against, including parameter, option and subnet groups; `permissions()` asks
`iam:SimulatePrincipalPolicy` about each and reports one row per action. The simulator
evaluates the role's identity policies; a key policy in another account is not visible from
here (the detail says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..documents.policies.arns import Arns
from ..documents.policies.statements import RDS_KEY_ACTIONS, SOURCE_KEY_ACTIONS
from ..resources.base.resource import Context
from .preflight_checks import FAIL, NOT_CHECKABLE, OPERATION, PASS, Check, pipeline, sandbox_row

ENV_TAG = "aws:ResourceTag/aurora-restore:env"
INSTANCE_FIX = (
    "the Lambda role may delete only instances named {target}-*: rename the others (aws rds "
    "modify-db-instance --db-instance-identifier ID --new-db-instance-identifier {target}-ID "
    "--apply-immediately), or run `aurora-restore setup roles` if the role drifted"
)


@dataclass(frozen=True)
class Request:
    """One question to the simulator: may the role do `action` on all of `resources`?"""

    area: str
    action: str
    resources: tuple[str, ...]
    context: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (type, value)
    fix: str = ""  # when denied; the generic fix (setup roles) otherwise

    def context_entries(self) -> list[dict[str, Any]]:
        return [
            {"ContextKeyName": key, "ContextKeyType": kind, "ContextKeyValues": [value]}
            for key, (kind, value) in sorted(self.context.items())
        ]


@dataclass(frozen=True)
class _Restore:
    """What a refresh and a drill share: the snapshot, its copy, the restore's instance — or,
    for a clone or a point-in-time restore, the source cluster it reads (`source_cluster`)."""

    arns: Arns
    env: dict[str, tuple[str, str]]
    instance: str
    copy: str
    source: str
    copied: bool
    source_cluster: str | None = None

    def cluster(self, cluster_id: str) -> str:
        return self.arns.rds(f"cluster:{cluster_id}")

    def requests(self, restored: str) -> list[Request]:
        """Find the snapshot, copy it if needed, restore it as `restored` with an instance
        (or clone / restore the source cluster to a point in time as `restored`)."""
        arns, copy, instance = self.arns, self.copy, self.instance
        groups = (arns.subnet_group(), arns.option_group())
        if self.source_cluster is not None:
            return [
                Request("rds", "rds:DescribeDBClusters", ("*",)),
                Request("rds", "rds:DescribeDBInstances", ("*",)),
                Request(
                    "rds",
                    "rds:RestoreDBClusterToPointInTime",
                    (self.source_cluster, restored, arns.cluster_parameter_group(), *groups),
                ),
                Request("rds", "rds:AddTagsToResource", (restored, instance)),
                Request(
                    "rds",
                    "rds:CreateDBInstance",
                    (instance, restored, arns.instance_parameter_group(), *groups),
                ),
            ]
        snapshot = copy if self.copied else self.source
        copying = [Request("rds", "rds:CopyDBClusterSnapshot", (self.source, copy))]
        return [
            Request("rds", "rds:DescribeDBClusters", ("*",)),
            Request("rds", "rds:DescribeDBInstances", ("*",)),
            Request("rds", "rds:DescribeDBClusterSnapshots", ("*",)),
            *(copying if self.copied else []),
            Request(
                "rds",
                "rds:RestoreDBClusterFromSnapshot",
                (restored, snapshot, arns.cluster_parameter_group(), *groups),
            ),
            Request(
                "rds",
                "rds:AddTagsToResource",
                (restored, instance, *((copy,) if self.copied else ())),
            ),
            Request(
                "rds",
                "rds:CreateDBInstance",
                (instance, restored, arns.instance_parameter_group(), *groups),
            ),
        ]


def _restore(
    ctx: Context, snapshot: dict[str, Any] | None, chosen: dict[str, Any] | None = None
) -> _Restore:
    naming = pipeline("lib.naming")
    arns = Arns(ctx.settings, ctx.names)
    target = arns.target
    from_source = chosen is not None and chosen.get("path") in ("clone", "point_in_time")
    return _Restore(
        source_cluster=str(chosen.get("source_arn") or arns.source_cluster())
        if chosen is not None and from_source
        else None,
        arns=arns,
        env={ENV_TAG: ("string", ctx.env)},
        instance=arns.rds(f"db:{naming.instance_id(target, OPERATION, 1)}"),
        copy=arns.rds(f"cluster-snapshot:{naming.copy_snapshot_id(target, OPERATION)}"),
        source=str((snapshot or {}).get("arn") or arns.source_snapshots().replace("*", "example")),
        copied=not from_source and (snapshot is None or bool(_copy_needed(ctx, snapshot))),
    )


def planned_requests(
    ctx: Context,
    snapshot: dict[str, Any] | None,
    key_arns: dict[str, str],
    members: Sequence[str] = (),
    chosen: dict[str, Any] | None = None,
) -> list[Request]:
    """What the run asks of IAM, as the Lambda role. `snapshot`: the one preflight found (else
    a sample of the source's snapshots); `key_arns`: configured key → key ARN (aliases
    resolved); `members`: the target's instance ids (after the swap the run deletes them with
    the old cluster; without a target, the instances a run creates, which a later run
    deletes)."""
    naming = pipeline("lib.naming")
    settings, plan = ctx.settings, _restore(ctx, snapshot, chosen)
    target_id = plan.arns.target
    target = plan.cluster(target_id)
    staging = plan.cluster(naming.staging_cluster_id(target_id, OPERATION))
    old = plan.cluster(naming.old_cluster_id(target_id, OPERATION))
    restored = target if settings.target.strategy == "replace" else staging
    requests = [
        *plan.requests(restored),
        Request("rds", "rds:ListTagsForResource", (target,)),
        Request("rds", "rds:ModifyDBCluster", (target, old, staging), plan.env),
        Request(
            "rds",
            "rds:DeleteDBInstance",
            tuple(plan.arns.rds(f"db:{m.lower()}") for m in members) or (plan.instance,),
            fix=INSTANCE_FIX.format(target=target_id),
        ),
        Request("rds", "rds:DeleteDBCluster", (old,), plan.env),
        # settings parity: the old target's settings on the staging cluster and its instances
        Request("rds", "rds:AddRoleToDBCluster", (staging,), plan.env),
        Request("rds", "rds:ModifyDBInstance", (plan.instance,)),
        Request("rds", "rds:RebootDBInstance", (plan.instance,)),
        Request("rds", "rds:DescribeDBClusterEndpoints", ("*",)),
        Request("rds", "rds:DescribeAccountAttributes", ("*",)),  # the quotas, before a copy
    ]
    if settings.target.final_snapshot:
        final = plan.arns.rds(f"cluster-snapshot:{naming.final_snapshot_id(target_id, OPERATION)}")
        # IAM authorises each resource on its own: the old cluster as tagged, the final
        # snapshot (not there yet) without tags.
        requests += [
            Request("rds", "rds:CreateDBClusterSnapshot", (old,), plan.env),
            Request("rds", "rds:DeleteDBCluster", (final,)),
            Request("rds", "rds:CreateDBClusterSnapshot", (final,)),
        ]
    if settings.target.delete_copied_snapshot and plan.copied:
        requests.append(Request("rds", "rds:DeleteDBClusterSnapshot", (plan.copy,), plan.env))
    return requests + _key_requests(ctx, snapshot, key_arns, plan.copied, chosen)


def planned_drill_requests(
    ctx: Context,
    snapshot: dict[str, Any] | None,
    key_arns: dict[str, str],
    chosen: dict[str, Any] | None = None,
) -> list[Request]:
    """What a restore drill asks of IAM, as the Lambda role: the same copy and keys as a
    refresh, a restore into its own cluster `<target>-drill-<token>`, a password change on it,
    and the deletion of that cluster (no final snapshot), its instances and its copy."""
    naming = pipeline("lib.naming")
    plan = _restore(ctx, snapshot, chosen)
    drill = plan.cluster(naming.drill_cluster_id(plan.arns.target, OPERATION))
    requests = [
        *plan.requests(drill),
        Request("rds", "rds:ModifyDBCluster", (drill,), plan.env),
        Request("rds", "rds:DeleteDBInstance", (plan.instance,)),
        Request("rds", "rds:DeleteDBCluster", (drill,), plan.env),
    ]
    if plan.copied:
        requests.append(Request("rds", "rds:DeleteDBClusterSnapshot", (plan.copy,), plan.env))
    return requests + _key_requests(ctx, snapshot, key_arns, plan.copied, chosen)


def copy_needed(ctx: Context, snapshot: dict[str, Any]) -> list[str]:
    """Why the chosen snapshot is copied before the restore (empty: restored in place)."""
    return _copy_needed(ctx, snapshot)


def _copy_needed(ctx: Context, snapshot: dict[str, Any]) -> list[str]:
    from ..contract.pipeline_settings import pipeline_settings

    document = {"settings": pipeline_settings(ctx.settings, ctx.names), "snapshot": snapshot}
    reasons: list[str] = pipeline("lib.snapshots").copy_reasons(document)
    return reasons


def _key_requests(
    ctx: Context,
    snapshot: dict[str, Any] | None,
    key_arns: dict[str, str],
    copied: bool,
    chosen: dict[str, Any] | None = None,
) -> list[Request]:
    settings = ctx.settings
    found: list[Request] = []
    source_key = settings.source.kms_key_id
    encrypted = snapshot is None or bool(snapshot.get("encrypted"))
    # Restored in place (same account and region, no copy), the restore uses the snapshot's
    # own key: the role's grant on it is the source key's statement.
    in_place = not copied and snapshot is not None and _same_key(snapshot, source_key)
    # A clone or a point-in-time restore of an encrypted source cluster uses its key (shared
    # by the production account for a cross-account clone): "the key usable", asked here.
    from_source = chosen is not None and chosen.get("path") in ("clone", "point_in_time")
    if from_source:
        encrypted = bool(chosen.get("encrypted")) if chosen else False
        in_place = True
    if source_key and (copied or in_place) and encrypted:
        via = {"kms:ViaService": ("string", f"rds.{settings.source.region}.amazonaws.com")}
        grant = {**via, "kms:GrantIsForAWSResource": ("boolean", "true")}
        for action in SOURCE_KEY_ACTIONS:
            context = grant if action == "kms:CreateGrant" else via
            found.append(Request("kms", action, (key_arns.get(source_key, source_key),), context))
    target_key = settings.target.kms_key_id
    if target_key and target_key in key_arns:
        via = {"kms:ViaService": ("string", f"rds.{settings.region}.amazonaws.com")}
        if target_key.rsplit(":", 1)[-1].startswith("alias/") or target_key.startswith("alias/"):
            via["kms:ResourceAliases"] = ("stringList", target_key.split(":")[-1])
        grant = {**via, "kms:GrantIsForAWSResource": ("boolean", "true")}
        for action in (*RDS_KEY_ACTIONS, "kms:CreateGrant"):
            context = grant if action == "kms:CreateGrant" else via
            found.append(Request("kms", action, (key_arns[target_key],), context))
    return found


def _same_key(snapshot: dict[str, Any], key: str | None) -> bool:
    same: bool = pipeline("lib.snapshots").same_key(str(snapshot.get("kms_key_id") or ""), key or "")
    return bool(key) and same


def snapshot_key(ctx: Context, snapshot: dict[str, Any] | None) -> list[Check]:
    """A snapshot restored in place (same account and region, no copy) and encrypted with a
    customer managed key: the restore uses that key, and the Lambda role is granted only the
    configured keys (`source.kms_key_id`, `target.kms_key_id`). Else RDS answers
    KMSKeyNotAccessibleFault at the restore. (The simulator then checks the deployed role.)"""
    if snapshot is None or not snapshot.get("encrypted") or _copy_needed(ctx, snapshot):
        return []
    key = str(snapshot.get("kms_key_id") or "")
    name = "snapshot key usable in place"
    settings = ctx.settings
    if _same_key(snapshot, settings.source.kms_key_id) or _same_key(
        snapshot, settings.target.kms_key_id
    ):
        return [Check("kms", name, PASS, f"{key} is a configured key: the Lambda role is granted it")]
    kms = ctx.clients.get("kms", snapshot.get("region") or settings.region)
    try:
        manager = kms.describe_key(KeyId=key)["KeyMetadata"].get("KeyManager")
    except Exception as exc:  # any AWS answer: we cannot tell who manages the key
        return [Check("kms", name, NOT_CHECKABLE, f"cannot describe {key}: {exc}")]
    if manager == "AWS":  # aws/rds: its key policy lets the account use it through RDS
        return [Check("kms", name, PASS, f"{key} is the AWS managed aws/rds key")]
    return [
        Check(
            "kms",
            name,
            FAIL,
            f"snapshot {snapshot.get('id')} is restored in place (no copy) and encrypted with "
            f"the customer managed key {key}, which the Lambda role is not granted: the restore "
            "would fail with KMSKeyNotAccessibleFault",
            f"set source.kms_key_id: {key} in {settings.file.name}, run `aurora-restore setup "
            "roles`; the key's policy must let this account use it",
        )
    ]


def resolve_keys(ctx: Context) -> tuple[dict[str, str], list[Check]]:
    """Configured key → key ARN (aliases resolved with the CLI's own credentials)."""
    resolved: dict[str, str] = {}
    problems: list[Check] = []
    for name, key, region in (
        ("source key", ctx.settings.source.kms_key_id, ctx.settings.source.region),
        ("target key", ctx.settings.target.kms_key_id, ctx.settings.region),
    ):
        if not key:
            continue
        if ":key/" in key:
            resolved[key] = key
            continue
        kms = ctx.clients.get("kms", region)
        try:
            resolved[key] = str(kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"])
        except Exception as exc:  # any AWS answer: the key cannot be resolved from here
            problems.append(
                Check("kms", name, FAIL, f"cannot resolve {key}: {exc}", "fix the key id")
            )
    return resolved, problems


def permissions(
    ctx: Context,
    document: dict[str, Any],
    snapshot: dict[str, Any] | None,
    drill: bool = False,
    members: Sequence[str] = (),
    chosen: dict[str, Any] | None = None,
) -> list[Check]:
    if ctx.sandbox:
        return [
            sandbox_row("kms", "Lambda role may use the keys", "moto has no IAM policy simulator"),
            sandbox_row(
                "iam", "Lambda role may do every RDS action", "moto has no IAM policy simulator"
            ),
        ]
    from botocore.exceptions import BotoCoreError, ClientError

    key_arns, problems = resolve_keys(ctx)
    if drill:
        requests = planned_drill_requests(ctx, snapshot, key_arns, chosen)
    else:
        requests = planned_requests(ctx, snapshot, key_arns, members, chosen)
    iam = ctx.clients.get("iam")
    try:
        return problems + simulate(iam, ctx.names.role_arn("lambda"), requests)
    except (BotoCoreError, ClientError) as exc:  # e.g. no iam:SimulatePrincipalPolicy for us
        why = f"IAM's policy simulator answered: {exc}"
        fix = "allow your principal iam:SimulatePrincipalPolicy on the Lambda role"
        return [
            *problems,
            Check("kms", "Lambda role may use the keys", NOT_CHECKABLE, why, fix),
            Check("iam", "Lambda role may do every RDS action", NOT_CHECKABLE, why, fix),
        ]


def simulate(iam: Any, role_arn: str, requests: Iterable[Request]) -> list[Check]:
    """One row per request: allowed on every resource, or which ones are denied and how."""
    rows = []
    for request in requests:
        denied = []
        kwargs: dict[str, Any] = {
            "PolicySourceArn": role_arn,
            "ActionNames": [request.action],
            "ResourceArns": list(request.resources),
        }
        if request.context:
            kwargs["ContextEntries"] = request.context_entries()
        for page in iam.get_paginator("simulate_principal_policy").paginate(**kwargs):
            for result in page.get("EvaluationResults", []):
                decision = result.get("EvalDecision")
                if decision != "allowed":
                    denied.append(f"{result.get('EvalResourceName')} ({decision})")
        where = ", ".join(request.resources)
        name = f"{request.action}"
        if denied:
            rows.append(
                Check(
                    request.area,
                    name,
                    FAIL,
                    f"denied on {'; '.join(denied)}",
                    request.fix
                    or "run `aurora-restore setup roles`; for keys also check the key policy",
                )
            )
        else:
            note = " (identity policy; the key's own policy is checked by KMS at run time)"
            rows.append(
                Check(
                    request.area,
                    name,
                    PASS,
                    f"allowed on {where}" + (note if request.area == "kms" else ""),
                )
            )
    return rows
