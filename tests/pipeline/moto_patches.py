"""Test support: make moto behave enough like AWS for the pipeline's wait loops and swaps.

What moto does not model, and what this module adds (patching moto's backend classes, so it
applies to every region and thread, including Step Functions' interpreter threads):

- Statuses: on AWS a snapshot copy is `creating`/`copying` for minutes, a restored cluster is
  `creating`, renames go through `renaming`. moto reports `available` on the next read, so a
  polling loop would never loop. `script_snapshot(id, "copying", "copying")` makes the next
  describes of that snapshot report those statuses, then `available` (or whatever the last
  scripted status is, if it is a failure such as `failed`). `script_cluster` does the same for
  a cluster id.
- Renames: AWS moves a cluster's instances (and automated backups) with it. moto renames the
  cluster but its instances keep the old cluster id, so member lists go wrong after a swap, and
  its automated snapshots `rds:<old id>-<minute>` keep blocking a new cluster under the old id
  within the same minute; `modify_db_cluster` is wrapped to re-point both.
- Automated snapshots: AWS deletes a cluster's automated snapshots with the cluster (unless
  asked to retain them); moto keeps them, so deleting `x` and restoring `x` in the same minute
  (strategy `replace`) clashes on `rds:x-<minute>`. `delete_db_cluster` is wrapped to drop them.
- Shared snapshots: on AWS a cluster snapshot shared with this account (its `restore`
  attribute lists the account) is described and copied by its ARN. moto looks every ARN up in
  the caller's own account, so `get_snapshot` and `describe_db_cluster_snapshots` are wrapped
  to resolve an ARN of another account in that account, if (and only if) it is shared.
- Encryption at restore: on AWS, RestoreDBClusterFromSnapshot with KmsKeyId encrypts the new
  cluster with that key even when the snapshot is unencrypted; moto keeps the snapshot's
  `StorageEncrypted`. `restore_db_cluster_from_snapshot` is wrapped to set it.
- What settings parity and the quotas read: aurora_restore_cli/sandbox/rds_settings.py, the
  sandbox's own patches (DescribeAccountAttributes, DescribeDBClusterEndpoints, IAM auth and
  log exports on ModifyDBCluster, Performance Insights on ModifyDBInstance, pending reboots
  after a parameter group change), installed with these.
- Secrets Manager: moving AWSCURRENT with `update_secret_version_stage` leaves moto's
  `get_secret_value` returning the old version (moto 5.2.5 does not update its default
  version); the wrapper updates it, as AWS does.
- Speed only: moto generates an RSA private key for every KMS key, even symmetric ones
  (~0.1–0.5 s each); the tests reuse one per key spec. And moto's Step Functions interpreter
  calls `jsonpath_ng.parse` for every path it evaluates, which rebuilds a ply parser each time
  (~70 ms); the tests memoise the parsed expressions (they are immutable once built). It also
  builds a new boto3 client for every Lambda Task (~40 ms); the tests reuse one per region;
  and it parses the definition with ANTLR at every execution start (~0.5 s); the tests reuse
  the parsed program per definition text (its components keep their run state in the
  execution's environment, not in themselves, and the tests run executions one at a time).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.kms.models as kms_models
import moto.stepfunctions.parser.asl.component.common.path.result_path as sfn_result_path
import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as sfn_lambda
import moto.stepfunctions.parser.asl.utils.json_path as sfn_json_path
from moto.core.models import botocore_stubber
from moto.rds.models import DBClusterSnapshot, RDSBackend, rds_backends
from moto.secretsmanager.models import SecretsManagerBackend
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

TERMINAL_FAILURES = frozenset(
    {"failed", "incompatible-restore", "inaccessible-encryption-credentials"}
)

_KEYS: dict[str, Any] = {}  # one generated private key per KMS key spec, for the whole run


_PARSED: dict[Any, Any] = {}
_PROGRAMS: dict[str, Any] = {}


def _memoised(parse: Any) -> Any:
    @functools.wraps(parse)
    def cached(path: str) -> Any:
        key = (parse, path)
        if key not in _PARSED:
            _PARSED[key] = parse(path)
        return _PARSED[key]

    return cached


def _shared_snapshot(backend: Any, identifier: str, resource_type: Any) -> Any:
    """The snapshot an ARN of another account names, if it is shared with `backend`'s account."""
    parts = identifier.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[4] == backend.account_id:
        return None
    region, account, name = parts[3], parts[4], ":".join(parts[6:])
    if account not in rds_backends or region not in rds_backends[account]:
        return None
    owner = rds_backends[account][region]
    found = owner.resource_map[resource_type].get(name.lower())
    if found is None:
        return None
    restore = found.attributes.get("restore") or []
    return found if backend.account_id in restore or "all" in restore else None


class RdsScript:
    def __init__(self) -> None:
        self.snapshots: dict[str, list[str]] = defaultdict(list)
        self.clusters: dict[str, list[str]] = defaultdict(list)
        self.reads: dict[str, int] = defaultdict(int)

    def script_snapshot(self, snapshot_id: str, *statuses: str) -> None:
        self.snapshots[snapshot_id].extend(statuses)

    def script_cluster(self, cluster_id: str, *statuses: str) -> None:
        self.clusters[cluster_id].extend(statuses)

    def next_status(self, queue: list[str]) -> str:
        if len(queue) > 1 or (queue and queue[0] not in TERMINAL_FAILURES):
            return queue.pop(0)
        return queue[0] if queue else "available"


@contextmanager
def patched_moto() -> Iterator[RdsScript]:
    script = RdsScript()
    originals = {
        name: getattr(RDSBackend, name)
        for name in (
            "describe_db_cluster_snapshots",
            "describe_db_clusters",
            "modify_db_cluster",
            "delete_db_cluster",
            "get_snapshot",
            "restore_db_cluster_from_snapshot",
        )
    }
    original_stage = SecretsManagerBackend.update_secret_version_stage
    original_key = kms_models.generate_private_key

    def generate_private_key(key_spec: str) -> Any:
        if key_spec not in _KEYS:
            _KEYS[key_spec] = original_key(key_spec)
        return _KEYS[key_spec]

    def get_snapshot(
        self: Any, identifier: str, resource_type: Any, not_found_exception: Any
    ) -> Any:
        shared = _shared_snapshot(self, identifier, resource_type)
        if shared is not None:
            return shared
        return originals["get_snapshot"](self, identifier, resource_type, not_found_exception)

    def describe_db_cluster_snapshots(self: Any, *args: Any, **kwargs: Any) -> Any:
        wanted = kwargs.get("db_snapshot_identifier", args[1] if len(args) > 1 else None)
        shared = _shared_snapshot(self, str(wanted or ""), DBClusterSnapshot)
        found = (
            [shared]
            if shared is not None
            else originals["describe_db_cluster_snapshots"](self, *args, **kwargs)
        )
        for snapshot in found:
            sid = snapshot.db_cluster_snapshot_identifier
            if sid in script.snapshots:
                script.reads[sid] += 1
                snapshot.status = script.next_status(script.snapshots[sid])
        return found

    def restore_db_cluster_from_snapshot(
        self: Any, from_snapshot_id: str, overrides: dict[str, Any]
    ) -> Any:
        cluster = originals["restore_db_cluster_from_snapshot"](self, from_snapshot_id, overrides)
        if overrides.get("kms_key_id"):
            cluster.storage_encrypted = True
        return cluster

    def describe_db_clusters(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = originals["describe_db_clusters"](self, *args, **kwargs)
        for cluster in found:
            cid = cluster.db_cluster_identifier
            if cid in script.clusters:
                script.reads[cid] += 1
                cluster.status = script.next_status(script.clusters[cid])
        return found

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        old_id = kwargs["db_cluster_identifier"]
        new_id = kwargs.get("new_db_cluster_identifier")
        result = originals["modify_db_cluster"](self, kwargs)
        if new_id and new_id != old_id:
            for instance in self.databases.values():
                if getattr(instance, "db_cluster_identifier", None) == old_id:
                    instance.db_cluster_identifier = new_id
            # AWS keeps automated backups with the cluster (by resource id), so a new cluster
            # may take the old id at once; moto names them after the id: move them along.
            prefix = f"rds:{old_id}-"
            for sid in [s for s in self.cluster_snapshots if s.startswith(prefix)]:
                moved = f"rds:{new_id}-" + sid[len(prefix) :]
                self.cluster_snapshots[moved] = self.cluster_snapshots.pop(sid)
                self.cluster_snapshots[moved].db_cluster_snapshot_identifier = moved
        return result

    def delete_db_cluster(self: Any, cluster_identifier: str, *args: Any, **kwargs: Any) -> Any:
        result = originals["delete_db_cluster"](self, cluster_identifier, *args, **kwargs)
        prefix = f"rds:{cluster_identifier}-"
        for sid in [s for s in self.cluster_snapshots if s.startswith(prefix)]:
            del self.cluster_snapshots[sid]
        return result

    def update_secret_version_stage(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> Any:
        result = original_stage(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return result

    RDSBackend.describe_db_cluster_snapshots = describe_db_cluster_snapshots  # type: ignore[method-assign]
    RDSBackend.describe_db_clusters = describe_db_clusters  # type: ignore[method-assign]
    RDSBackend.modify_db_cluster = modify_db_cluster  # type: ignore[method-assign]
    RDSBackend.delete_db_cluster = delete_db_cluster  # type: ignore[method-assign]
    RDSBackend.get_snapshot = get_snapshot  # type: ignore[method-assign,assignment]
    RDSBackend.restore_db_cluster_from_snapshot = restore_db_cluster_from_snapshot  # type: ignore[method-assign]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]
    kms_models.generate_private_key = generate_private_key
    parsers = {module: module.parse for module in (sfn_json_path, sfn_result_path)}
    for module, parse in parsers.items():
        module.parse = _memoised(parse)  # type: ignore[attr-defined]
    client_for = sfn_lambda.boto_client_for
    clients: dict[Any, Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, botocore_stubber.enabled)
        if key not in clients:
            clients[key] = client_for(region=region, service=service)
        return clients[key]

    sfn_lambda.boto_client_for = boto_client_for
    parse_asl = AmazonStateLanguageParser.__dict__["parse"]

    def parse_definition(definition: str) -> Any:
        if definition not in _PROGRAMS:
            _PROGRAMS[definition] = parse_asl.__func__(definition)
        return _PROGRAMS[definition]

    AmazonStateLanguageParser.parse = staticmethod(parse_definition)  # type: ignore[method-assign,assignment]
    # What the sandbox answers where moto lacks it (quotas, cluster endpoints, IAM auth and log
    # exports on modify, pending reboots): the sandbox's own patches, on top of these.
    from aurora_restore_cli.sandbox import rds_settings

    rds_settings.install()
    try:
        yield script
    finally:
        rds_settings.uninstall()
        for name, original in originals.items():
            setattr(RDSBackend, name, original)
        SecretsManagerBackend.update_secret_version_stage = original_stage  # type: ignore[method-assign]
        kms_models.generate_private_key = original_key
        for module, parse in parsers.items():
            module.parse = parse  # type: ignore[attr-defined]
        sfn_lambda.boto_client_for = client_for
        AmazonStateLanguageParser.parse = parse_asl  # type: ignore[method-assign]
