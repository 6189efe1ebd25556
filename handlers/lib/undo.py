"""Undo a failed run (the failure path's first step, and what `recover` runs): one pass.

The pass reads the state of AWS under the ids this operation derives (lib/naming) — so it works
from the execution document *and* when the document lost track (a step that acted and then
failed, a timed-out or aborted execution) — and moves it one step towards "a cluster serves
under the target id, nothing of this run is left without an expiry". Every pass is idempotent;
when a cluster is still in transition (AWS renames and deletes take minutes and refuse
non-`available` clusters) the pass says what it waits for (`pending`) and the caller runs it
again later (the state machine's WaitForUndo loop, or recovery's bounded loop).

Strategy `swap` (restore beside, then rename):
- the target id holds this run's cluster (the swap-in happened): roll forward — it passed
  verification before the swap; promote this run's master password to AWSCURRENT; the old
  target (`-old-`) is kept with an expiry;
- nothing under the target id and the old target exists: rename it back (guarded: ours, this
  run's id, available) — the staging cluster did not take its place;
- the old target still holds the target id: nothing to undo.
The staging cluster is kept for inspection with an expiry (`target.failed_run_expiry_hours`).
A cluster this run restored starts with the master password of what it was restored from —
production's, for a clone or a point-in-time restore of the source cluster as for a
snapshot's: unless ResetMasterPassword replaced it, the pass gives it this run's (the master
secret's version of this run, found by its label `aurora-restore-<token>`) before keeping it,
waiting for it to be available if need be (`replace_production_password`).

Strategy `replace` (delete the target with a mandatory final snapshot, then restore under its
id):
- this run's cluster under the target id, verified: roll forward as above;
- this run's cluster, *not* verified (masking may not have run): it must not serve. It is
  renamed to the staging id (kept with an expiry; the app secret never pointed at it), or
  deleted if it is broken; then the target is restored from its final snapshot
  `<target>-final-<token>` with the configured instances (ids `<target>-<token>-r<n>`), which
  brings back the data as it was before the run (the master secret's AWSCURRENT opens it);
- the target was never deleted: nothing to undo.

Always: the cross-region copy is deleted (kept with an expiry when AWS refuses; kept without
one when `delete_copied_snapshot` is false, as after a successful run); AWSCURRENT of the
master secret changes only when this run's cluster serves. Nothing happens unless this
operation holds the target's lock (taken if free): with another run in flight the pass
touches nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from handlers.lib import (
    audit,
    aws,
    clusters,
    engine_versions,
    expiry,
    guards,
    naming,
    polling,
    rds,
    restore,
    secrets,
    tags,
)
from handlers.lib import document as doc
from handlers.lib.errors import Locked, UnsafeTarget

LOG = logging.getLogger("aurora_restore")
MASTER_SECRET = "MASTER_SECRET_ID"
PASSWORD_STEP = "reset-master-password"
LOCK_GRACE_SECONDS = 600  # as acquire_lock: the lock outlives the execution a little
MAX_PASSES = 200  # ~1,800 history events: the pipeline's budget leaves room for that

SERVING_NEW = "this run's refreshed cluster"
SERVING_OLD = "the target as it was before this run"
SERVING_RESTORED = "the target as it was before this run, restored from its final snapshot"
SERVING_NONE = "nothing"
SERVING_FOREIGN = "a cluster that is not aurora-restore's (left alone)"


def run_pass(document: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """One pass; updates and returns `document["undo"]` (shape in handlers/CONTRACT.md)."""
    undo = document.setdefault("undo", {"attempt": 0, "actions": []})
    undo["attempt"] = int(undo.get("attempt") or 0) + 1
    try:
        _take_lock(document)
    except Locked as exc:
        undo.update(
            done=True, serving="unknown", left=[], pending=[], note=f"{exc}; nothing touched"
        )
        return dict(undo)
    work = _Pass(document, now or datetime.now(timezone.utc))
    if doc.strategy(document) == "replace":
        work.replace()
    else:
        work.swap()
    work.copy()
    if work.serving == SERVING_NEW:
        work.promote_master_password()
    undo["actions"] = list(dict.fromkeys([*undo.get("actions", []), *work.actions]))
    undo.update(serving=work.serving, left=work.left, pending=work.pending, done=not work.pending)
    _pace(document, undo, work.waits_for_restore)
    if undo["done"]:
        swept = expiry.sweep(document, work.rds, work.now)
        if swept:
            undo["swept"] = swept
    LOG.info(
        "%s undo pass %s: %s",
        doc.operation_id(document),
        undo["attempt"],
        "done" if undo["done"] else f"waiting for {'; '.join(work.pending)}",
    )
    return dict(undo)


def _pace(document: dict[str, Any], undo: dict[str, Any], waits_for_restore: bool = False) -> None:
    """When to pass again (`wait_seconds`, the WaitForUndo state's SecondsPath) and how many
    passes at most (`max_passes`, UndoDone's bound): the undo waits on renames (swap), or on a
    rename, a restore and its instances (replace), so it paces itself like those wait loops
    (lib/polling) and is bounded by their `max_seconds` together — at most MAX_PASSES. A swap
    whose restored cluster is still being made (its production password is replaced once it is
    available) waits like the restore too."""
    pipeline = document.get("pipeline") or {}
    waits = pipeline.get("waits") or {}
    loops: tuple[str, ...] = ("rename",)
    if doc.strategy(document) != "swap":
        loops = ("rename", "restore", "instances")
    elif waits_for_restore:
        loops = ("rename", "restore")
    settings = [waits.get(loop) or {} for loop in loops]
    poll = int(settings[0].get("poll_seconds", polling.FALLBACK_WAIT_SECONDS))
    growth = int(pipeline.get("poll_growth_percent", 0))
    limit = sum(int(s.get("max_seconds", 0)) for s in settings) * (2 if len(loops) == 1 else 1)
    checks = 2 * sum(int(s.get("max_polls", 0)) for s in settings)
    if poll >= 1 or growth >= 1:
        checks = max(checks, polling.checks_within(poll, poll, growth, limit)[0])
    waited = int(undo.get("waited_seconds", 0)) + int(undo.get("wait_seconds", 0))
    undo["waited_seconds"] = waited
    undo["wait_seconds"] = polling.next_wait(poll, growth, waited)
    undo["max_passes"] = min(MAX_PASSES, checks + 3)


def _take_lock(document: dict[str, Any]) -> None:
    audit.acquire_lock(
        doc.target_cluster_id(document),
        doc.operation_id(document),
        doc.env(document),
        hold_seconds=doc.timeout_seconds(document) + LOCK_GRACE_SECONDS,
    )


class _Pass:
    def __init__(self, document: dict[str, Any], now: datetime) -> None:
        self.document = document
        self.now = now
        self.op = doc.operation_id(document)
        self.env = doc.env(document)
        self.target_id = doc.target_cluster_id(document).lower()
        self.old_id = naming.old_cluster_id(self.target_id, self.op)
        self.staging_id = naming.staging_cluster_id(self.target_id, self.op)
        self.final_id = naming.final_snapshot_id(self.target_id, self.op)
        self.rds = aws.client("rds", doc.region(document))
        self.guard = guards.Guard(document)
        self.writes = clusters.Writes(self.guard, self.rds)
        self.expires_at = tags.expiry(now, doc.failed_run_expiry_hours(document))
        self.serving = SERVING_NONE
        self.actions: list[str] = []
        self.left: list[str] = []
        self.pending: list[str] = []
        self.waits_for_restore = False

    # --- reading ---------------------------------------------------------------------------

    def describe(self, cluster_id: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
        cluster = rds.describe_cluster(self.rds, cluster_id)
        return cluster, (rds.cluster_tags(self.rds, cluster) if cluster else {})

    def is_new(self, cluster_tags: dict[str, str]) -> bool:
        """This run's restored cluster (not one brought back from a final snapshot)."""
        return (
            cluster_tags.get(tags.OPERATION_KEY) == self.op
            and tags.RESTORED_FROM_KEY not in cluster_tags
        )

    def ours(
        self, cluster_id: str, cluster: dict[str, Any], cluster_tags: dict[str, str], action: str
    ) -> bool:
        """The guard's verdict (lib/guards); a cluster that is not ours is reported and never
        written to — not even tagged — and the undo goes on without it."""
        try:
            self.guard.cluster(cluster, cluster_tags, action)
        except UnsafeTarget as exc:
            self.left.append(f"{cluster_id} left alone: {exc}")
            return False
        return True

    def serves(self, cluster: dict[str, Any], cluster_tags: dict[str, str]) -> None:
        """The cluster under the target id stays: it must never carry an expiry (a sweep
        would take it once it is swapped out by a later run) nor this run's swapped-out mark."""
        if clusters.status(cluster) == clusters.AVAILABLE and self.ours(
            self.target_id, cluster, cluster_tags, "untag"
        ):
            removed = self.writes.remove_tags(
                cluster, cluster_tags, [tags.EXPIRES_KEY, tags.SWAPPED_OUT_KEY]
            )
            if tags.EXPIRES_KEY in removed:
                self.actions.append(f"removed the expiry tag from {self.target_id}")
            # Rolled forward: this run's cluster is the target now, protected as configured.
            if self.serving == SERVING_NEW and self.writes.protect(cluster, cluster_tags):
                self.actions.append(f"turned on deletion protection of {self.target_id}")
        self.settling(self.target_id, cluster)

    def settling(self, cluster_id: str, cluster: dict[str, Any]) -> None:
        state = clusters.status(cluster)
        # A stopped cluster does not start by waiting (CheckTarget refuses one up front, and
        # the run changed nothing): report it, do not hold the lock for it.
        if state in clusters.BROKEN or state == "stopped":
            self.left.append(f"{cluster_id} is {state}")
        elif state != clusters.AVAILABLE:
            self.pending.append(f"{cluster_id} is {state}")

    def keep(
        self, cluster_id: str, cluster: dict[str, Any], cluster_tags: dict[str, str], why: str
    ) -> None:
        state = clusters.status(cluster)
        if state == "deleting":
            self.left.append(f"{cluster_id} ({why}) is being deleted")
            return
        if state == "renaming":  # it may be becoming the target: never mark that one
            self.pending.append(f"{cluster_id} is renaming")
            return
        if not self.ours(cluster_id, cluster, cluster_tags, "tag"):
            return
        if self.writes.mark_expiring(cluster, cluster_tags, self.expires_at):
            self.actions.append(f"tagged {cluster_id} to expire at {self.expires_at}")
        until = cluster_tags.get(tags.EXPIRES_KEY) or self.expires_at
        self.left.append(f"{cluster_id} ({why}) kept until {until}")

    def replace_production_password(
        self, cluster_id: str, cluster: dict[str, Any], cluster_tags: dict[str, str]
    ) -> None:
        """A cluster this run restored and keeps must not keep the password it was restored
        with (production's): unless ResetMasterPassword set this run's, set it now — once the
        cluster is available (pending until then) — and mark it so a later pass (or `recover`)
        knows it is done."""
        if not self.is_new(cluster_tags) or PASSWORD_STEP in doc.progress(self.document):
            return
        if cluster_tags.get(tags.PASSWORD_KEY) == self.op:
            return
        state = clusters.status(cluster)
        if state in ("deleting", "renaming"):
            return  # going away, or becoming the target (renamed: handled under its new id)
        if state != clusters.AVAILABLE:
            if state not in clusters.BROKEN:
                self.waits_for_restore = True
                self.pending.append(
                    f"{cluster_id} is {state}: the master password it was restored with "
                    "(production's) is replaced once it is available"
                )
            return
        if not self.ours(cluster_id, cluster, cluster_tags, "change the master password of"):
            return
        sm = aws.client("secretsmanager", doc.region(self.document))
        password = secrets.staged_master_password(
            sm,
            secrets.secret_id(MASTER_SECRET),
            self.op,
            str(cluster.get("MasterUsername") or ""),
        )
        self.writes.set_master_password(cluster, cluster_tags, password)
        self.writes.add_tags(cluster, cluster_tags, {tags.PASSWORD_KEY: self.op})
        cluster_tags[tags.PASSWORD_KEY] = self.op
        self.actions.append(
            f"gave {cluster_id} this run's master password (it had the one it was restored "
            f"with: production's; label {secrets.cluster_label(self.op)})"
        )

    # --- swap --------------------------------------------------------------------------------

    def swap(self) -> None:
        target, target_tags = self.describe(self.target_id)
        old, old_tags = self.describe(self.old_id)
        staging, staging_tags = self.describe(self.staging_id)
        if staging is not None:
            self.replace_production_password(self.staging_id, staging, staging_tags)
            self.keep(self.staging_id, staging, staging_tags, "staging cluster, for inspection")
        staging_renaming = clusters.status(staging) == "renaming"  # maybe becoming the target
        if target is not None:
            self.serving = SERVING_NEW if self.is_new(target_tags) else SERVING_OLD
            if not tags.is_managed(target_tags, self.env):
                self.serving = SERVING_FOREIGN
            self.serves(target, target_tags)
            if old is not None:
                why = (
                    "the target before this run"
                    if self.serving == SERVING_NEW
                    else (f"not renamed back: {self.target_id} is taken")
                )
                self.keep(self.old_id, old, old_tags, why)
        elif old is not None and not staging_renaming:
            self.rename_back(old, old_tags)
        elif not staging_renaming:
            self.left.append(
                f"no cluster serves under {self.target_id}: it did not exist "
                "before this run, or was removed outside aurora-restore"
            )

    def rename_back(self, old: dict[str, Any], old_tags: dict[str, str]) -> None:
        state = clusters.status(old)
        if state != clusters.AVAILABLE:
            self.pending.append(f"{self.old_id} is {state} (renamed back once available)")
            return
        if not self.ours(self.old_id, old, old_tags, "rename"):
            return
        # It serves again: it must never be swept. (Its swapped-out mark, the proof that it is
        # this run's to rename back, goes once it serves: `serves`.)
        self.writes.remove_tags(old, old_tags, [tags.EXPIRES_KEY])
        self.writes.rename(old, old_tags, self.target_id)
        self.actions.append(f"renamed {self.old_id} back to {self.target_id}")
        self.pending.append(f"{self.target_id}: the rename back is settling")
        self.serving = SERVING_OLD

    # --- replace -----------------------------------------------------------------------------

    def replace(self) -> None:
        target, target_tags = self.describe(self.target_id)
        staging, staging_tags = self.describe(self.staging_id)
        if staging is not None:
            self.replace_production_password(self.staging_id, staging, staging_tags)
            self.keep(
                self.staging_id,
                staging,
                staging_tags,
                "this run's unverified cluster, for inspection",
            )
        if target is None:
            if clusters.status(staging) != "renaming":  # else: moving off the target id
                self.restore_from_final()
        elif self.is_new(target_tags):
            self.unverified_or_new(target, target_tags, staging)
        elif target_tags.get(tags.RESTORED_FROM_KEY) == self.final_id:
            self.serving = SERVING_RESTORED
            self.ensure_instances(target, target_tags)
        elif clusters.status(target) == "deleting":
            self.pending.append(
                f"{self.target_id} is being deleted; it comes back from {self.final_id}"
            )
        else:
            managed = tags.is_managed(target_tags, self.env)
            self.serving = SERVING_OLD if managed else SERVING_FOREIGN
            self.serves(target, target_tags)

    def unverified_or_new(
        self, target: dict[str, Any], target_tags: dict[str, str], staging: dict[str, Any] | None
    ) -> None:
        if doc.verified(self.document):
            self.serving = SERVING_NEW
            self.serves(target, target_tags)
            return
        state = clusters.status(target)
        if not self.ours(self.target_id, target, target_tags, "delete"):
            self.pending.append(f"{self.target_id} must not serve unverified data")
            return
        if state in clusters.BROKEN:
            outcome = self.writes.delete_with_instances(target, target_tags, None)
            self.actions.append(f"deleting {self.target_id} ({state}; restored by this run)")
            self.pending.append(f"{self.target_id} {outcome}")
        elif state != clusters.AVAILABLE:
            self.pending.append(f"{self.target_id} (restored by this run, unverified) is {state}")
        elif staging is not None:
            self.left.append(
                f"{self.target_id} holds unverified data and {self.staging_id} "
                "is taken: move or delete one of them"
            )
            self.pending.append(f"{self.target_id} must not serve unverified data")
        else:
            self.writes.rename(target, target_tags, self.staging_id)
            self.actions.append(
                f"moved {self.target_id} (restored by this run, not verified: possibly "
                f"unmasked) out of the target id to {self.staging_id}"
            )
            self.pending.append(f"{self.staging_id}: the rename is settling")

    def restore_from_final(self) -> None:
        snapshot = rds.describe_cluster_snapshot(self.rds, self.final_id)
        if snapshot is None:
            self.left.append(
                f"no cluster serves under {self.target_id} and there is no final "
                f"snapshot {self.final_id}: it did not exist before this run"
            )
            return
        if snapshot.get("Status") != "available":
            self.pending.append(f"final snapshot {self.final_id} is {snapshot.get('Status')}")
            return
        params = self.final_restore_parameters(snapshot)
        try:
            self.rds.restore_db_cluster_from_snapshot(**params)
        except Exception as exc:
            # Another pass (automatic recovery and `recover` by hand may overlap) restored it
            # since this one looked: the next pass sees what now holds the target id.
            if aws.error_code(exc) != "DBClusterAlreadyExistsFault":
                raise
            self.pending.append(f"{self.target_id} appeared while this pass restored it")
            return
        self.actions.append(f"restoring {self.target_id} from its final snapshot {self.final_id}")
        self.pending.append(f"{self.target_id} is being restored")
        self.serving = SERVING_RESTORED

    def final_restore_parameters(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Like the run's restore, but at the final snapshot's own engine version: the target
        may have been upgraded past production (RDS refuses to restore a snapshot below its
        version). The configured parameter group belongs to the configured major version: left
        out (RDS's default for the snapshot's) when the final snapshot is of another major."""
        params = restore.restore_parameters(self.document, self.target_id, self.final_id)
        params["Tags"] = tags.to_list(
            {**tags.managed(self.env, self.op), tags.RESTORED_FROM_KEY: self.final_id}
        )
        # It serves at once: protected as the config asks (restore_cluster's are not, yet).
        params["DeletionProtection"] = bool(doc.target(self.document).get("deletion_protection"))
        own = str(snapshot.get("EngineVersion") or "")
        configured = str(params.pop("EngineVersion", "") or "")
        if own:
            params["EngineVersion"] = own
        engine = doc.target(self.document).get("engine")
        if own and configured and not same_major(engine, own, configured):
            params.pop("DBClusterParameterGroupName", None)
        return params

    def ensure_instances(self, target: dict[str, Any], target_tags: dict[str, str]) -> None:
        state = clusters.status(target)
        if state != clusters.AVAILABLE:
            self.pending.append(f"{self.target_id} is {state}")
            return
        if not self.ours(self.target_id, target, target_tags, "create instances in"):
            return
        settings = doc.target(self.document)
        for number in range(1, int(settings.get("instance_count") or 1) + 1):
            instance_id = naming.recovery_instance_id(self.target_id, self.op, number)
            instance = rds.describe_instance(self.rds, instance_id)
            if instance is None:
                self.writes.create_instance(
                    target,
                    target_tags,
                    DBInstanceIdentifier=instance_id,
                    Engine=settings.get("engine") or "aurora-postgresql",
                    DBInstanceClass=settings.get("instance_class") or "db.r6g.large",
                    PubliclyAccessible=False,
                    Tags=tags.to_list(tags.managed(self.env, self.op)),
                )
                self.actions.append(f"created instance {instance_id} in {self.target_id}")
                self.pending.append(f"instance {instance_id} is creating")
            elif instance.get("DBInstanceStatus") != "available":
                self.pending.append(f"instance {instance_id} is {instance.get('DBInstanceStatus')}")

    # --- both --------------------------------------------------------------------------------

    def copy(self) -> None:
        copy_id = naming.copy_snapshot_id(self.target_id, self.op)
        snapshot = rds.describe_cluster_snapshot(self.rds, copy_id)
        if snapshot is None:
            return
        snapshot_tags = tags.from_list(snapshot.get("TagList"))
        try:
            self.guard.snapshot(snapshot, "delete")
        except UnsafeTarget as exc:
            self.left.append(f"snapshot {copy_id} left alone: {exc}")
            return
        if not doc.target(self.document).get("delete_copied_snapshot", True):
            self.left.append(f"snapshot copy {copy_id} kept (delete_copied_snapshot: false)")
            return
        try:
            self.writes.delete_snapshot(snapshot)
            self.actions.append(f"deleted the snapshot copy {copy_id}")
            return
        except Exception as exc:  # e.g. still in use by a restore: keep it, with an expiry
            LOG.warning("%s: cannot delete %s yet: %s", self.op, copy_id, exc)
        if self.writes.mark_expiring(snapshot, snapshot_tags, self.expires_at):
            self.actions.append(f"tagged {copy_id} to expire at {self.expires_at}")
        until = snapshot_tags.get(tags.EXPIRES_KEY) or self.expires_at
        self.left.append(f"snapshot copy {copy_id} kept until {until}")

    def promote_master_password(self) -> None:
        sm = aws.client("secretsmanager", doc.region(self.document))
        secret = secrets.secret_id(MASTER_SECRET)
        if secrets.promote(sm, secret, secrets.master_version_id(self.op)):
            self.actions.append(
                "master secret: this run's password promoted to AWSCURRENT (its cluster serves)"
            )


def same_major(engine: str | None, one: str, other: str) -> bool:
    """Versions of one major (compared as versions; unreadable ones count as different)."""
    try:
        return engine_versions.major_key(engine, one) == engine_versions.major_key(engine, other)
    except engine_versions.VersionError:
        return False
