"""Preflight: the account's RDS quotas (the pipeline's own check, handlers/lib/quotas.py, which
CheckTarget runs before anything is copied) and what IAM database authentication means for a
refresh (the cluster's resource id changes, and `rds-db:connect` policies name it)."""

from __future__ import annotations

import json
from typing import Any

from ..resources.base.resource import Context
from .preflight_checks import FAIL, NOT_CHECKABLE, PASS, WARN, Check, pipeline

QUOTA_FIX = ("delete what is no longer needed (old manual snapshots, clusters kept by failed "
             "runs past their expiry), or ask for more in Service Quotas (Amazon Relational "
             "Database Service: {label})")
CLONES_FIX = ("delete clones of the source that are no longer needed (the clusters of its clone "
              "group), or restore a snapshot (source.restore_from: snapshot, or auto, which "
              "does so by itself)")
MAX_POLICIES = 200  # customer managed policies read when looking for the resource id


def quotas(ctx: Context, settings: dict[str, Any], target: dict[str, Any] | None,
           copy: bool | None, clone_source: dict[str, Any] | None = None) -> list[Check]:
    """One row per quota the run needs; `copy`: whether the chosen snapshot is copied (None:
    as the settings say); `clone_source`: the source cluster, when the run clones it (its
    clone group's quota, as ChooseSource checks it)."""
    lib = pipeline("lib.quotas")
    try:
        usage = lib.check(ctx.clients.get("rds"), settings, target is not None, copy,
                          clone_source)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        return [Check("quotas", "RDS quotas", NOT_CHECKABLE,
                      f"DescribeAccountAttributes failed ({code}): the run checks them itself "
                      "before it copies anything", "allow rds:DescribeAccountAttributes")]
    rows = []
    for used in usage:
        label = lib.LABELS.get(used.quota, used.quota)
        status = PASS if used.room else FAIL
        detail = used.describe() + ("" if used.room else ": the run would be refused")
        fix = CLONES_FIX if used.quota == lib.CLONES else QUOTA_FIX.format(label=label)
        rows.append(Check("quotas", label, status, detail, "" if used.room else fix))
    return rows


def iam_auth(ctx: Context, cluster: dict[str, Any] | None) -> list[Check]:
    """A warning when the target uses IAM database authentication: its resource id (which
    `rds-db:connect` policies name) changes with every refresh; the policies of this account
    that name it are listed."""
    if not cluster or not cluster.get("IAMDatabaseAuthenticationEnabled"):
        return []
    resource_id = str(cluster.get("DbClusterResourceId") or "")
    named, note = _policies_naming(ctx, resource_id)
    which = (f"policies naming it: {', '.join(named)}" if named
             else f"no customer managed policy names it{note}")
    return [Check(
        "target", "IAM database authentication", WARN,
        f"on: the refreshed cluster gets a new resource id (today {resource_id}), and "
        f"rds-db:connect policies name arn:aws:rds-db:{ctx.settings.region}:"
        f"{ctx.names.account_id}:dbuser:{resource_id}/<user>; {which}. The success "
        "notification and the audit give the new id",
        "after each refresh, update those policies with the new id (or grant "
        "rds-db:connect on dbuser:*/<user> of this account if that is acceptable)",
    )]


def _policies_naming(ctx: Context, resource_id: str) -> tuple[list[str], str]:
    iam = ctx.clients.get("iam")
    named: list[str] = []
    read = 0
    try:
        pages = iam.get_paginator("list_policies").paginate(Scope="Local", OnlyAttached=True)
        for page in pages:
            for policy in page.get("Policies") or []:
                read += 1
                if read > MAX_POLICIES:
                    return named, f" among the first {MAX_POLICIES} attached ones"
                version = iam.get_policy_version(PolicyArn=policy["Arn"],
                                                 VersionId=policy["DefaultVersionId"])
                document = version["PolicyVersion"]["Document"]
                text = document if isinstance(document, str) else json.dumps(document)
                if resource_id and resource_id in text:
                    named.append(str(policy["PolicyName"]))
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        return named, f" that could be read (iam:ListPolicies: {code})"
    return named, " (inline policies of roles and users are not searched)"



