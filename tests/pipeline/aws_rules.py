"""Test support: AWS's rules that moto does not enforce, as a thin layer on top of moto.

moto accepts requests that real AWS refuses (notes/aws-rules.md), so a pipeline that passes on
plain moto can still fail on its first real run. This module patches moto's RDS backend classes
(like moto_patches, so it applies to every region, account and thread, including Step
Functions' interpreter threads) to refuse what AWS refuses, with the error code AWS returns:

| request | AWS's answer | rule |
|---|---|---|
| CopyDBClusterSnapshot with KmsKeyId of an unencrypted snapshot | InvalidParameterValue | `kms_on_unencrypted_copy` |
| CopyDBClusterSnapshot of an encrypted snapshot across regions/accounts without KmsKeyId | InvalidParameterValue | `encrypted_copy_needs_key` |
| CopyDBClusterSnapshot of another account's automated snapshot | DBClusterSnapshotNotFoundFault (automated snapshots cannot be shared) | `shared_automated` |
| CopyDBClusterSnapshot of another account's snapshot encrypted with its aws/rds key | KMSKeyNotAccessibleFault | `shared_default_key` |
| RestoreDBClusterFromSnapshot with an EngineVersion below the snapshot's | InvalidParameterCombination | `lower_engine_version` |
| RestoreDBClusterFromSnapshot onto an id a cluster already has (moto overwrites it, or clashes on its automated snapshot within the same minute) | DBClusterAlreadyExistsFault | `restore_onto_existing` |
| CreateDBInstance db.serverless in a cluster without ServerlessV2ScalingConfiguration | InvalidParameterCombination | `serverless_without_scaling` |
| ModifyDBCluster (rename or anything else) of a cluster that is not `available` | InvalidDBClusterStateFault | `modify_not_available` |
| ModifyDBCluster renaming onto an existing id (moto silently overwrites) | DBClusterAlreadyExistsFault | `rename_onto_existing` |
| ModifyDBCluster MasterUserPassword on a cluster with an RDS-managed password | InvalidParameterCombination | `password_on_managed` |
| DeleteDBCluster of a cluster with DeletionProtection | InvalidParameterCombination | `delete_protected` |
| DeleteDBCluster of a cluster that still has instances | InvalidDBClusterStateFault | `delete_with_instances` |
| DeleteDBCluster of a cluster that is not `available` | InvalidDBClusterStateFault | `delete_not_available` |
| DeleteDBCluster without SkipFinalSnapshot and without FinalDBSnapshotIdentifier | InvalidParameterCombination | `delete_without_final_choice` |
| RestoreDBClusterToPointInTime with both RestoreToTime and UseLatestRestorableTime, or neither | InvalidParameterCombination | `restore_time_exclusive` |
| RestoreDBClusterToPointInTime with a RestoreToTime outside the source's [EarliestRestorableTime, LatestRestorableTime] | InvalidRestoreFault | `restore_time_outside_window` |
| RestoreDBClusterToPointInTime of a cluster in another region (a clone, or a point in time: both only within a region) | DBClusterNotFoundFault | `clone_other_region` |
| RestoreDBClusterToPointInTime copy-on-write of another account's cluster not shared with this account through AWS RAM | DBClusterNotFoundFault | `clone_not_shared` |
| RestoreDBClusterToPointInTime full-copy of another account's cluster (its backups are its own) | DBClusterNotFoundFault | `full_copy_other_account` |
| RestoreDBClusterToPointInTime copy-on-write of a cluster without a DB instance | InvalidDBClusterStateFault | `clone_without_instance` |

A cluster of another account shared with this one through RAM (an ACTIVE share of moto's RAM
backend in the owner's account listing the cluster's ARN and this account) is described by its
ARN, as on AWS (`DescribeDBClusters` with `IncludeShared`; moto looks every id up in the
caller's own account), and cloned from there.

And renames are asynchronous, as on AWS: after `ModifyDBCluster NewDBClusterIdentifier`, the
cluster reports `renaming` under its new id for `rename_polls` describes, and the old id still
resolves (to the same cluster, `renaming`) for as many describes of it. While renaming, the
cluster refuses further modifications and deletion (it is not `available`).

`AwsRules.fired` counts refusals per rule, so a test can show that a rule fired.

KMS keys (AWS managed keys, reserved aliases, the key policy lockout check) and alarms that
publish to encrypted topics: aws_rules_kms.py; the calls of settings parity (parameter group
families, backup retention and windows, roles, instance-level settings): aws_rules_parity.py;
both switched on with the rest by `aws_rules()`.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBClusterSnapshotNotFoundError,
    RDSClientError,
)
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

DEFAULT_RENAME_POLLS = 2


@dataclass
class AwsRules:
    rename_polls: int = DEFAULT_RENAME_POLLS
    fired: Counter[str] = field(default_factory=Counter)
    # new id -> describes left in `renaming`; old id -> (new id, describes left resolving)
    renaming: dict[tuple[str, str, str], int] = field(default_factory=dict)
    ghosts: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)

    def refuse(self, rule: str, code: str, message: str) -> RDSClientError:
        self.fired[rule] += 1
        return RDSClientError(code, f"{message} [aws_rules: {rule}]")

    def key(self, backend: Any, cluster_id: str) -> tuple[str, str, str]:
        return (backend.account_id, backend.region_name, cluster_id.lower())

    def settle(self) -> None:
        """Let every rename in flight finish (what CheckRename waits for in the pipeline):
        for unit tests that call one step after another without polling."""
        self.renaming.clear()
        self.ghosts.clear()

    def is_renaming(self, backend: Any, cluster_id: str) -> bool:
        return self.renaming.get(self.key(backend, cluster_id), 0) > 0


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _status(rules: AwsRules, backend: Any, cluster: Any) -> str:
    if rules.is_renaming(backend, cluster.db_cluster_identifier):
        return "renaming"
    return str(cluster.status)


def _is_default_rds_key(backend: Any, snapshot: Any) -> bool:
    """Encrypted with the owning account's AWS managed aws/rds key."""
    key = str(getattr(snapshot, "kms_key_id", "") or "")
    if key.endswith("alias/aws/rds"):
        return True
    try:
        kms = backend.get_backend("kms", snapshot.backend.region_name, snapshot.backend.account_id)
        default = kms.describe_key("alias/aws/rds")
    except Exception:
        return False
    return bool(key) and key.rsplit("/", 1)[-1] == default.id


@contextmanager
def aws_rules(rename_polls: int = DEFAULT_RENAME_POLLS) -> Iterator[AwsRules]:
    rules = AwsRules(rename_polls=rename_polls)
    names = (
        "copy_db_cluster_snapshot",
        "restore_db_cluster_from_snapshot",
        "create_db_instance",
        "modify_db_cluster",
        "delete_db_cluster",
        "describe_db_clusters",
        "restore_db_cluster_to_point_in_time",
    )
    originals = {name: getattr(RDSBackend, name) for name in names}
    original_delete_response = RDSResponse.delete_db_cluster

    def copy_db_cluster_snapshot(
        self: Any,
        source_db_cluster_snapshot_identifier: str,
        target_db_cluster_snapshot_identifier: str,
        kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        source = self.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
        owner = source.backend
        other_account = owner.account_id != self.account_id
        crosses = other_account or owner.region_name != self.region_name
        if other_account and source.snapshot_type == "automated":
            raise rules.refuse(
                "shared_automated",
                "DBClusterSnapshotNotFoundFault",
                f"{source_db_cluster_snapshot_identifier}: automated snapshots cannot be shared "
                "with another account",
            )
        if other_account and source.encrypted and _is_default_rds_key(self, source):
            raise rules.refuse(
                "shared_default_key",
                "KMSKeyNotAccessibleFault",
                f"The source snapshot KMS key [{source.kms_key_id}] does not exist, is not "
                "enabled or you do not have permissions to access it (aws/rds keys cannot be "
                "used by another account)",
            )
        if kms_key_id and not source.encrypted:
            raise rules.refuse(
                "kms_on_unencrypted_copy",
                "InvalidParameterValue",
                "KmsKeyId cannot be specified when copying an unencrypted snapshot",
            )
        if source.encrypted and crosses and not kms_key_id:
            raise rules.refuse(
                "encrypted_copy_needs_key",
                "InvalidParameterValue",
                "Must specify new KMS key for a cross-region or shared encrypted snapshot copy",
            )
        return originals["copy_db_cluster_snapshot"](
            self,
            source_db_cluster_snapshot_identifier,
            target_db_cluster_snapshot_identifier,
            kms_key_id,
            **kwargs,
        )

    def restore_db_cluster_from_snapshot(
        self: Any, from_snapshot_id: str, overrides: dict[str, Any]
    ) -> Any:
        wanted = overrides.get("engine_version")
        new_id = str(overrides.get("db_cluster_identifier") or "").lower()
        ghost = rules.ghosts.get(rules.key(self, new_id)) if new_id else None
        if new_id in self.clusters or (ghost is not None and ghost[1] > 0):
            raise rules.refuse(
                "restore_onto_existing",
                "DBClusterAlreadyExistsFault",
                f"DB Cluster already exists: {new_id}",
            )
        snapshot = self.get_db_cluster_snapshot(from_snapshot_id)
        if wanted and _version(wanted) < _version(snapshot.engine_version):
            raise rules.refuse(
                "lower_engine_version",
                "InvalidParameterCombination",
                f"Cannot restore snapshot {from_snapshot_id} (engine version "
                f"{snapshot.engine_version}) to the lower engine version {wanted}",
            )
        return originals["restore_db_cluster_from_snapshot"](self, from_snapshot_id, overrides)

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        cluster = self.clusters.get(str(db_kwargs.get("db_cluster_identifier") or "").lower())
        if (
            db_kwargs.get("db_instance_class") == "db.serverless"
            and cluster is not None
            and not getattr(cluster, "serverless_v2_scaling_configuration", None)
        ):
            raise rules.refuse(
                "serverless_without_scaling",
                "InvalidParameterCombination",
                "A db.serverless instance needs ServerlessV2ScalingConfiguration on its cluster",
            )
        return originals["create_db_instance"](self, db_kwargs)

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        cluster_id = str(kwargs["db_cluster_identifier"]).lower()
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            raise DBClusterNotFoundError(cluster_id)
        status = _status(rules, self, cluster)
        if status != "available":
            raise rules.refuse(
                "modify_not_available",
                "InvalidDBClusterStateFault",
                f"DB cluster {cluster_id} is in {status} state and cannot be modified",
            )
        new_id = str(kwargs.get("new_db_cluster_identifier") or "").lower()
        ghost = rules.ghosts.get(rules.key(self, new_id)) if new_id else None
        if (
            new_id
            and new_id != cluster_id
            and (new_id in self.clusters or (ghost is not None and ghost[1] > 0))
        ):
            raise rules.refuse(
                "rename_onto_existing",
                "DBClusterAlreadyExistsFault",
                f"DB cluster {new_id} already exists",
            )
        if kwargs.get("master_user_password") and getattr(
            cluster, "manage_master_user_password", False
        ):
            raise rules.refuse(
                "password_on_managed",
                "InvalidParameterCombination",
                f"DB cluster {cluster_id} manages its master user password in Secrets Manager: "
                "MasterUserPassword cannot be specified",
            )
        result = originals["modify_db_cluster"](self, kwargs)
        if new_id and new_id != cluster_id:
            rules.ghosts.pop(rules.key(self, new_id), None)
        if new_id and new_id != cluster_id and rules.rename_polls > 0:
            rules.renaming[rules.key(self, new_id)] = rules.rename_polls
            rules.ghosts[rules.key(self, cluster_id)] = (new_id, rules.rename_polls)
        return result

    def delete_db_cluster(self: Any, cluster_identifier: str, *args: Any, **kwargs: Any) -> Any:
        cluster = self.clusters.get(str(cluster_identifier).lower())
        if cluster is not None and getattr(cluster, "deletion_protection", False):
            raise rules.refuse(
                "delete_protected",
                "InvalidParameterCombination",
                "Cannot delete protected Cluster, please disable deletion protection and try "
                "again.",
            )
        if cluster is not None:
            members = [
                i.db_instance_identifier
                for i in self.databases.values()
                if str(getattr(i, "db_cluster_identifier", "") or "").lower()
                == cluster.db_cluster_identifier
            ]
            if members:
                raise rules.refuse(
                    "delete_with_instances",
                    "InvalidDBClusterStateFault",
                    f"Cluster {cluster_identifier} still has instances: {', '.join(members)}",
                )
            status = _status(rules, self, cluster)
            if status != "available":
                raise rules.refuse(
                    "delete_not_available",
                    "InvalidDBClusterStateFault",
                    f"DB cluster {cluster_identifier} is in {status} state and cannot be deleted",
                )
        return originals["delete_db_cluster"](self, cluster_identifier, *args, **kwargs)

    def delete_db_cluster_response(self: Any) -> Any:
        if not _truthy(self.params.get("SkipFinalSnapshot")) and not self.params.get(
            "FinalDBSnapshotIdentifier"
        ):
            raise rules.refuse(
                "delete_without_final_choice",
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified",
            )
        return original_delete_response(self)

    def restore_db_cluster_to_point_in_time(
        self: Any,
        db_cluster_identifier: str,
        source_db_cluster_identifier: str,
        restore_type: str = "full-copy",
        restore_to_time: Any = None,
        use_latest_restorable_time: Any = False,
        **overrides: Any,
    ) -> Any:
        latest = _truthy(use_latest_restorable_time)
        if (restore_to_time is not None) == latest:
            raise rules.refuse(
                "restore_time_exclusive",
                "InvalidParameterCombination",
                "Exactly one of RestoreToTime and UseLatestRestorableTime must be specified",
            )
        source_id = str(source_db_cluster_identifier)
        parts = source_id.split(":")
        region, account = (parts[3], parts[4]) if source_id.startswith("arn:") else (
            self.region_name,
            self.account_id,
        )
        if region != self.region_name:
            raise rules.refuse(
                "clone_other_region",
                "DBClusterNotFoundFault",
                f"DBCluster {source_id} not found: a cluster is cloned or restored to a point "
                f"in time only within its region ({region}), not in {self.region_name}",
            )
        if account != self.account_id:
            if restore_type != "copy-on-write":
                raise rules.refuse(
                    "full_copy_other_account",
                    "DBClusterNotFoundFault",
                    f"DBCluster {source_id} not found: another account's cluster is only "
                    "cloned (copy-on-write), never restored from its backups",
                )
            if _shared_cluster(self, source_id) is None:
                raise rules.refuse(
                    "clone_not_shared",
                    "DBClusterNotFoundFault",
                    f"DBCluster {source_id} not found: it is not shared with account "
                    f"{self.account_id} through AWS RAM",
                )
        source = self.describe_db_clusters(db_cluster_identifier=source_id)[0]
        if restore_type == "copy-on-write" and not _members(source.backend, source):
            raise rules.refuse(
                "clone_without_instance",
                "InvalidDBClusterStateFault",
                f"DB cluster {source.db_cluster_identifier} has no DB instance: Aurora clones "
                "only a cluster with at least one",
            )
        if restore_to_time is not None:
            moment = _aware(restore_to_time)
            earliest = _aware(source.earliest_restorable_time)
            newest = _aware(source.latest_restorable_time)
            if not earliest <= moment <= newest:
                raise rules.refuse(
                    "restore_time_outside_window",
                    "InvalidRestoreFault",
                    f"The restore time {moment.isoformat()} is outside the restorable window "
                    f"[{earliest.isoformat()}, {newest.isoformat()}] of "
                    f"{source.db_cluster_identifier}",
                )
        return originals["restore_db_cluster_to_point_in_time"](
            self,
            db_cluster_identifier,
            source_db_cluster_identifier,
            restore_type,
            restore_to_time,
            latest,
            **overrides,
        )

    def describe_db_clusters(
        self: Any, db_cluster_identifier: str | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        wanted = str(db_cluster_identifier or "").lower()
        if wanted.startswith("arn:") and wanted.split(":")[4] != self.account_id:
            shared = _shared_cluster(self, wanted)
            if shared is None:
                raise DBClusterNotFoundError(str(db_cluster_identifier))
            return [shared]
        ghost = rules.ghosts.get(rules.key(self, wanted)) if wanted else None
        if ghost is not None and ghost[1] > 0 and ghost[0] in self.clusters:
            rules.ghosts[rules.key(self, wanted)] = (ghost[0], ghost[1] - 1)
            view = copy.copy(self.clusters[ghost[0]])
            view.db_cluster_identifier = wanted
            view.status = "renaming"
            return [view]
        found = originals["describe_db_clusters"](self, db_cluster_identifier, *args, **kwargs)
        views = []
        for cluster in found:
            key = rules.key(self, cluster.db_cluster_identifier)
            if rules.renaming.get(key, 0) > 0:
                if wanted:
                    rules.renaming[key] -= 1
                cluster = copy.copy(cluster)
                cluster.status = "renaming"
            views.append(cluster)
        return views

    for name in names:
        setattr(RDSBackend, name, locals()[name])
    RDSResponse.delete_db_cluster = delete_db_cluster_response  # type: ignore[method-assign]
    from .aws_rules_kms import kms_rules  # beside this one; it uses AwsRules
    from .aws_rules_parity import parity_rules

    try:
        with kms_rules(rules), parity_rules(rules):
            yield rules
    finally:
        for name, original in originals.items():
            setattr(RDSBackend, name, original)
        RDSResponse.delete_db_cluster = original_delete_response  # type: ignore[method-assign]


def _shared_cluster(backend: Any, arn: str) -> Any:
    """The cluster another account's ARN names, if that account shares it with `backend`'s
    account through RAM (an ACTIVE resource share listing both); else None."""
    from moto.ram.models import ram_backends
    from moto.rds.models import rds_backends

    parts = arn.split(":")
    if len(parts) < 7:
        return None
    region, account, name = parts[3], parts[4], parts[6].lower()
    owner = rds_backends[account][region]
    cluster = owner.clusters.get(name)
    if cluster is None:
        return None
    principals = {backend.account_id, f"arn:aws:iam::{backend.account_id}:root"}
    for share in ram_backends[account][region].resource_shares:
        arns = {str(a).lower() for a in share.resource_arns}
        if share.status == "ACTIVE" and cluster.arn.lower() in arns and principals & set(
            share.principals
        ):
            return cluster
    return None


def _members(backend: Any, cluster: Any) -> list[str]:
    return [
        i.db_instance_identifier
        for i in backend.databases.values()
        if str(getattr(i, "db_cluster_identifier", "") or "").lower()
        == cluster.db_cluster_identifier
    ]


def _aware(moment: Any) -> Any:
    from datetime import datetime, timezone

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(text).split(".") if p.isdigit())


__all__ = ["DEFAULT_RENAME_POLLS", "AwsRules", "DBClusterSnapshotNotFoundError", "aws_rules"]
