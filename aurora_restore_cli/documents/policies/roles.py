"""IAM documents of the four roles, from settings and names only (pure: no AWS call).

`trust_policy(kind, …)` and `inline_policies(kind, …)` give what `resources/roles.py` puts
on `aurora-restore-<kind>-role-<env>` for kind ∈ ROLE_KINDS. Least privilege, scoped to this
env's ARNs:

- RDS: the target cluster id (lower-case, as RDS stores it) and the ids the pipeline derives
  from it (handlers/lib/naming.py): staging `<target>-stg-<token>`, old `<target>-old-<token>`,
  instances `<target>-<token>-<n>` (and `-r<n>`), copies `<target>-src-<token>`, final
  snapshots `<target>-final-<token>`. Wildcards appear only as suffixes of those names. Instances are matched as `<target>-*`: it also covers the instances
  of a pre-existing target named after it (the console default is `<target>-instance-1`),
  which the first refresh deletes with the old cluster; instances named otherwise would be
  refused by IAM. Modifying or deleting a cluster, and deleting a copied snapshot, also
  require the resource tag `aurora-restore:env=<env>` (as the pipeline's guard does), so a
  name that happens to fall under another env's pattern is still out of reach.
- The source snapshots: copy (and, in the same region and account, restore) in the source
  account and region only; `rds:<source>-*` when only automated snapshots are used.
- Secrets Manager: this env's two secrets (`…:secret:<name>-??????`); DynamoDB item actions on
  the audit table; `sns:Publish` on the topic; `lambda:InvokeFunction` on this env's functions;
  the functions' own log groups.
- Recovery (the recovery function shares the Lambda role): read-only `states:` actions on this
  state machine's executions, and starting (and finding) automatic recovery's executions;
  automatic recovery's state machine has a role of its own (`recovery`) that may invoke the
  recovery function only; the DBA role may invoke the recovery function (`recover`) and
  follow or stop automatic recovery.
  Final snapshots: restore (the failure path of `replace`) and, tagged for this env, delete
  (retention).
- KMS: only the configured keys, each with `kms:ViaService` for the one service that uses it.
  A key given by alias is matched with `kms:ResourceAliases` (IAM authorises key operations
  on the key ARN, never the alias ARN). AWS managed keys (`alias/aws/…`) need no IAM grant:
  their key policies already allow use through their service within the account. The key
  encrypting the *source* snapshots (`source.kms_key_id`, in the source region/account) gets
  Decrypt/DescribeKey/CreateGrant/ReEncrypt* via `rds.<source region>.amazonaws.com`: a copy
  across regions or accounts needs it in this policy as well as in the key's policy (and
  `setup` removes inline policies it does not own, so it cannot be patched in by hand).
- RDS: each action on every resource type RDS authorises it against (`RDS_TYPES_TOUCHED`,
  checked against AWS's table in the tests), including RDS's default parameter and option
  groups of the engine's major version when none is configured.
- A Deny on the protected cluster ids (and the source id in the target region), as a second
  line behind the pipeline's own guard.
- Restore drills: their temporary clusters `<target>-drill-<token>` are restored, modified
  (password) and deleted like the staging cluster (tag condition included), every copy a
  drill makes is deleted again (so deleting our tagged copies is always allowed), the drill
  secret is read and written, and drill metrics may be put only in the `AuroraRestore`
  namespace (`cloudwatch:namespace` condition). The DBA role may start and stop drills.

Every statement carries a `Sid`. `Resource: "*"` (or a resource not named after this env)
appears only in the statements listed in `RESOURCE_EXCEPTIONS`, each with the reason AWS gives
no narrower scope; `problems()` checks all of it and `aurora-restore validate` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...config.settings import Settings
from ...contract.naming import Names
from .arns import Arns
from .dba_role import dba
from .lambda_role import lambda_data, lambda_logs, lambda_network, lambda_rds
from .statements import POLICY_PREFIX, VERSION, Document, Statement
from .stepfunctions_role import recovery_invoke, stepfunctions_invoke, stepfunctions_logs

# `recovery`: the role of automatic recovery's state machine (invokes the recovery function).
ROLE_KINDS: tuple[str, ...] = ("lambda", "stepfunctions", "dba", "recovery")

# IAM's limit for all inline policies of one role together (characters, whitespace excluded).
INLINE_SIZE_LIMIT = 10_240

# IAM's limit for one customer managed policy (characters, whitespace excluded).
MANAGED_SIZE_LIMIT = 6_144

# Role kind → the customer managed policies it gets (what → document builder). The Lambda
# role's permissions do not fit its inline policies (IAM: 10,240 characters in total, and the
# ARNs grow with the config's names): the log permissions (every function's log group) and
# the data permissions (secrets, audit, topic, metrics, recovery) are managed policies of
# their own (6,144 characters each), the RDS and network ones stay inline.
MANAGED_POLICIES: Mapping[str, tuple[str, ...]] = {"lambda": ("lambda-logs", "lambda-data")}

def trust_policy(kind: str, settings: Settings, names: Names) -> Document:
    """Who may assume the role. The DBA role trusts `roles.dba_principals`, or, when none are
    configured, the account root (i.e. IAM principals of this account that are allowed
    sts:AssumeRole on it by their own policies)."""
    statement: Statement = {"Sid": "Assume", "Effect": "Allow", "Action": "sts:AssumeRole"}
    if kind == "lambda":
        statement["Principal"] = {"Service": "lambda.amazonaws.com"}
    elif kind in ("stepfunctions", "recovery"):
        statement["Principal"] = {"Service": "states.amazonaws.com"}
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": names.account_id}}
    elif kind == "dba":
        principals = sorted(settings.dba_principals) or [
            f"arn:{names.partition}:iam::{names.account_id}:root"
        ]
        statement["Principal"] = {"AWS": principals}
    else:
        raise ValueError(f"unknown role kind {kind!r}")
    return {"Version": VERSION, "Statement": [statement]}

def inline_policies(kind: str, settings: Settings, names: Names) -> dict[str, Document]:
    """Policy name → document, for every inline policy the role should have (and no other)."""
    arns = Arns(settings, names)
    found: dict[str, Document | None]
    if kind == "lambda":
        found = {
            "rds": lambda_rds(settings, arns),
            "network": lambda_network(settings, arns),
        }
    elif kind == "stepfunctions":
        found = {"invoke": stepfunctions_invoke(arns), "logs": stepfunctions_logs()}
    elif kind == "recovery":
        found = {"invoke": recovery_invoke(arns), "logs": stepfunctions_logs()}
    elif kind == "dba":
        found = {"operate": dba(settings, arns)}
    else:
        raise ValueError(f"unknown role kind {kind!r}")
    return {POLICY_PREFIX + name: doc for name, doc in found.items() if doc is not None}

def managed_policies(kind: str, settings: Settings, names: Names) -> dict[str, Document]:
    """Managed policy name → document, for every customer managed policy the role gets
    (MANAGED_POLICIES); resources/roles.py creates them and attaches them to the role."""
    arns = Arns(settings, names)
    builders = {
        "lambda-logs": lambda: lambda_logs(arns),
        "lambda-data": lambda: lambda_data(settings, arns),
    }
    return {names.managed_policy(what): builders[what]() for what in MANAGED_POLICIES.get(kind, ())}

def all_policies(kind: str, settings: Settings, names: Names) -> dict[str, Document]:
    """Inline and managed policies of the role, by name (what the role may do in total)."""
    return {**inline_policies(kind, settings, names), **managed_policies(kind, settings, names)}
