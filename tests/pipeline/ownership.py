"""Test support: the ownership rule (DESIGN.md §5, Undo contract) — nothing the pipeline writes,
tags included, ever goes to a resource that lacks our managed tags and its operation's id.

moto lets anyone write anything, and so does AWS: only our own checks stand between a failure
path and somebody else's cluster. This layer watches every RDS write (patched on moto's backend
classes, so Step Functions' interpreter threads are covered) and records the ones made by
pipeline code (a `handlers.*` frame on the call stack: the tests' own set-up is not judged)
against a resource that is not ours. The resource is judged as it was just before the write.

Ours = tagged `aurora-restore:managed-by=aurora-restore` and `aurora-restore:env=<env>`, and:
- a configured target (`targets`): earlier runs or a human made it, it has no operation of
  its own; or
- an id derived from an operation (`<target>-stg|old|drill|src|final-<token>`, instances
  `<target>-<token>-<n>` / `-r<n>`) carrying that operation's id — `aurora-restore:operation`
  (made or restored by it) or `aurora-restore:swapped-out-by` (the target it renamed away) —
  whose token is the one in the id; or
- an instance of a cluster that is ours; or
- a final snapshot that a DeleteDBCluster of one of our clusters, by the pipeline, just made
  (it is born without our tags; the pipeline tags it next).

| write | judged resource |
|---|---|
| AddTagsToResource, RemoveTagsFromResource | the resource the ARN names |
| ModifyDBCluster (rename, password, protection, …), DeleteDBCluster | the cluster |
| CreateDBInstance | the cluster it joins |
| ModifyDBInstance, RebootDBInstance, DeleteDBInstance | the instance (ours if its cluster is) |
| AddRoleToDBCluster | the cluster |
| DeleteDBClusterSnapshot | the snapshot |
| RestoreDBClusterFromSnapshot onto an existing id (moto overwrites it) | the existing cluster |
| RestoreDBClusterToPointInTime onto an existing id (moto overwrites it) | the existing cluster |

A clone or a point-in-time restore only reads its source: the source is judged by none of
these (a write to it would be judged, and is not ours).

`Ownership.violations` lists (write, resource id, why); `Ownership.checked` counts the pipeline
writes judged, so a test can show the rule was watching.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.rds.models import DBCluster, DBClusterSnapshot, DBInstance, RDSBackend

MANAGED_BY = ("aurora-restore:managed-by", "aurora-restore")
ENV_KEY = "aurora-restore:env"
OWNER_KEYS = ("aurora-restore:operation", "aurora-restore:swapped-out-by")
DERIVED = re.compile(r"(?P<base>.+)-(?:stg|old|drill|src|final)-(?P<token>[0-9a-f]{8})")
INSTANCE = re.compile(r"(?P<base>.+)-(?P<token>[0-9a-f]{8})-r?\d+")


def token(operation_id: str) -> str:
    """handlers.lib.naming.token, restated (the rule must not trust the code it judges)."""
    return hashlib.sha256(operation_id.encode("utf-8")).hexdigest()[:8]


@dataclass
class Ownership:
    env: str
    targets: frozenset[str]
    violations: list[tuple[str, str, str]] = field(default_factory=list)
    checked: int = 0
    born: set[str] = field(default_factory=set)  # final snapshots our deletes made
    everything: bool = False  # judge every write (the rule's own tests), not only the pipeline's

    def judge(self, write: str, backend: Any, resource: Any) -> None:
        if not (self.everything or _from_pipeline()):
            return
        self.checked += 1
        if resource is None:
            return  # AWS refuses a write to nothing; nothing of anybody's changes
        why = self.why_not_ours(backend, resource)
        if why:
            self.violations.append((write, _identifier(resource), why))

    def why_not_ours(self, backend: Any, resource: Any) -> str | None:
        identifier = _identifier(resource).lower()
        tags = {t["Key"]: t.get("Value", "") for t in resource.get_tags() or []}
        if isinstance(resource, DBClusterSnapshot) and identifier in self.born:
            return None
        if isinstance(resource, DBInstance):
            cluster = backend.clusters.get(str(resource.db_cluster_identifier or "").lower())
            if cluster is not None and self.why_not_ours(backend, cluster) is None:
                return None
        if tags.get(MANAGED_BY[0]) != MANAGED_BY[1] or tags.get(ENV_KEY) != self.env:
            return f"lacks the tags {MANAGED_BY[0]}={MANAGED_BY[1]} and {ENV_KEY}={self.env}"
        if identifier in self.targets and not isinstance(resource, DBInstance):
            return None
        pattern = INSTANCE if isinstance(resource, DBInstance) else DERIVED
        match = pattern.fullmatch(identifier)
        if match is None or match["base"] not in self.targets:
            return "neither a configured target nor derived from one"
        owners = [tags[k] for k in OWNER_KEYS if tags.get(k)]
        if not any(token(owner) == match["token"] for owner in owners):
            return f"carries no operation id of token {match['token']} (has {owners or 'none'})"
        return None


def _identifier(resource: Any) -> str:
    if isinstance(resource, DBClusterSnapshot):
        return str(resource.db_cluster_snapshot_identifier)
    if isinstance(resource, DBInstance):  # it has a db_cluster_identifier too: check first
        return str(resource.db_instance_identifier)
    if isinstance(resource, DBCluster):
        return str(resource.db_cluster_identifier)
    return repr(resource)


def _from_pipeline() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("handlers."):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _tagged(backend: Any, arn: str) -> Any:
    try:
        return backend._get_resource_for_tagging(arn)
    except Exception:
        return None


@contextmanager
def ownership_rule(env: str, targets: set[str]) -> Iterator[Ownership]:
    rule = Ownership(env=env, targets=frozenset(t.lower() for t in targets))
    names = (
        "add_tags_to_resource",
        "remove_tags_from_resource",
        "modify_db_cluster",
        "delete_db_cluster",
        "create_db_instance",
        "modify_db_instance",
        "delete_db_instance",
        "reboot_db_instance",
        "add_role_to_db_cluster",
        "delete_db_cluster_snapshot",
        "restore_db_cluster_from_snapshot",
        "restore_db_cluster_to_point_in_time",
    )
    originals = {name: getattr(RDSBackend, name) for name in names}

    def cluster(backend: Any, cluster_id: Any) -> DBCluster | None:
        found: DBCluster | None = backend.clusters.get(str(cluster_id or "").lower())
        return found

    def add_tags_to_resource(self: Any, arn: str, tags: Any) -> Any:
        rule.judge("AddTagsToResource", self, _tagged(self, arn))
        return originals["add_tags_to_resource"](self, arn, tags)

    def remove_tags_from_resource(self: Any, arn: str, tag_keys: Any) -> Any:
        rule.judge("RemoveTagsFromResource", self, _tagged(self, arn))
        return originals["remove_tags_from_resource"](self, arn, tag_keys)

    def modify_db_cluster(self: Any, kwargs: dict[str, Any]) -> Any:
        rule.judge("ModifyDBCluster", self, cluster(self, kwargs.get("db_cluster_identifier")))
        return originals["modify_db_cluster"](self, kwargs)

    def delete_db_cluster(self: Any, cluster_identifier: str, *args: Any, **kwargs: Any) -> Any:
        found = cluster(self, cluster_identifier)
        violations = len(rule.violations)
        rule.judge("DeleteDBCluster", self, found)
        result = originals["delete_db_cluster"](self, cluster_identifier, *args, **kwargs)
        final = kwargs.get("snapshot_name") or (args[0] if args else None)
        if final and found is not None and len(rule.violations) == violations:
            rule.born.add(str(final).lower())
        return result

    def create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
        joined = db_kwargs.get("db_cluster_identifier")
        if joined:
            rule.judge("CreateDBInstance", self, cluster(self, joined))
        return originals["create_db_instance"](self, db_kwargs)

    def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: Any) -> Any:
        found = self.databases.get(db_instance_identifier)
        rule.judge("ModifyDBInstance", self, found)
        return originals["modify_db_instance"](self, db_instance_identifier, db_kwargs)

    def delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kw: Any) -> Any:
        rule.judge("DeleteDBInstance", self, self.databases.get(db_instance_identifier))
        return originals["delete_db_instance"](self, db_instance_identifier, *args, **kw)

    def reboot_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kw: Any) -> Any:
        rule.judge("RebootDBInstance", self, self.databases.get(db_instance_identifier))
        return originals["reboot_db_instance"](self, db_instance_identifier, *args, **kw)

    def add_role_to_db_cluster(self: Any, db_cluster_identifier: str, *args: Any,
                               **kw: Any) -> Any:
        rule.judge("AddRoleToDBCluster", self, cluster(self, db_cluster_identifier))
        return originals["add_role_to_db_cluster"](self, db_cluster_identifier, *args, **kw)

    def delete_db_cluster_snapshot(self: Any, db_snapshot_identifier: str) -> Any:
        found = self.cluster_snapshots.get(db_snapshot_identifier)
        rule.judge("DeleteDBClusterSnapshot", self, found)
        return originals["delete_db_cluster_snapshot"](self, db_snapshot_identifier)

    def restore_db_cluster_from_snapshot(
        self: Any, from_snapshot_id: str, overrides: dict[str, Any]
    ) -> Any:
        existing = cluster(self, overrides.get("db_cluster_identifier"))
        if existing is not None:  # AWS: DBClusterAlreadyExistsFault; moto: overwritten
            rule.judge("RestoreDBClusterFromSnapshot", self, existing)
        return originals["restore_db_cluster_from_snapshot"](self, from_snapshot_id, overrides)

    def restore_db_cluster_to_point_in_time(
        self: Any, db_cluster_identifier: str, *args: Any, **kwargs: Any
    ) -> Any:
        existing = cluster(self, db_cluster_identifier)
        if existing is not None:  # AWS: DBClusterAlreadyExistsFault; moto: overwritten
            rule.judge("RestoreDBClusterToPointInTime", self, existing)
        return originals["restore_db_cluster_to_point_in_time"](
            self, db_cluster_identifier, *args, **kwargs
        )

    for name in names:
        setattr(RDSBackend, name, locals()[name])
    try:
        yield rule
    finally:
        for name, original in originals.items():
            setattr(RDSBackend, name, original)


__all__ = ["Ownership", "ownership_rule", "token"]
