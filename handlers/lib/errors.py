"""Named pipeline failures.

A handler fails by raising one of these; Lambda reports the class name as `errorType`, and
the state machine's Retry/Catch match on it (`TransientError` is retried, the rest go to the
failure path). Messages must never contain secrets.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every failure the pipeline raises on purpose."""


class TransientError(PipelineError):
    """Throttling or a momentary AWS state; the state machine retries it with backoff."""


class Locked(PipelineError):
    """Another operation holds the lock for this target."""


class SnapshotNotFound(PipelineError):
    """No snapshot matched (the given id/ARN, or none of the source cluster)."""


class SnapshotTooOld(PipelineError):
    """The chosen snapshot is older than source.max_age_hours."""


class SnapshotNotAvailable(PipelineError):
    """The snapshot exists but is not in the `available` state."""


class SnapshotIncompatible(PipelineError):
    """The snapshot is not of the configured source (cluster, region, account), or of another
    engine, or of an engine version the target cannot be restored to."""


class SnapshotKeyUnusable(PipelineError):
    """The snapshot's encryption cannot be carried over: its key is not the configured source
    key (or none is configured), no target key is configured for an encrypted copy, or it is
    the default aws/rds key of another account (such snapshots cannot be shared)."""


class UnsafeTarget(PipelineError):
    """The safety guard refused to rename or delete a cluster (nothing was changed)."""


class TargetNotAvailable(PipelineError):
    """The target cluster exists but is not `available` (stopped, modifying, …): AWS refuses
    renames and deletes then, so the run stops before anything is copied."""


class TargetUnsupported(PipelineError):
    """The target is of a kind aurora-restore does not refresh (e.g. an RDS-managed master
    password, to which RDS refuses MasterUserPassword)."""


class QuotaExceeded(PipelineError):
    """The run would exceed one of the account's RDS quotas (clusters, manual snapshots,
    copies in flight, clones): refused before anything is copied, naming quota and usage."""

    usages: tuple[object, ...] = ()  # lib/quotas.Usage of each quota without room


class CopyFailed(PipelineError):
    """The snapshot copy failed or disappeared."""


class RestoreFailed(PipelineError):
    """The restored cluster or one of its instances failed."""


class PollTimeout(PipelineError):
    """A wait loop ran out of attempts (raised by the state machine, named here for Catch)."""


class SqlScriptFailed(PipelineError):
    """A post-restore SQL file failed; the staging cluster is left for inspection."""


class MaskingRuleInvalid(PipelineError):
    """A masking rule cannot run on the restored database (no such table or column, a type the
    transformer cannot take, a unique column it cannot keep unique), or a batch failed."""


class MaskingIncomplete(PipelineError):
    """Masking did not finish in the time it was given (a batch, or all its invocations)."""


class PiiFound(PipelineError):
    """The PII gate found personal data in columns no masking rule covers: no swap."""


class QuarantineRuleInvalid(PipelineError):
    """A quarantine rule in the settings document cannot be read (the CLI validates them)."""


class QuarantineFailed(PipelineError):
    """A quarantine rule's statement or check, or a built-in check, failed: production's side
    effects are not proven harmless, so no swap (the error names the rule and the fix)."""


class QuarantineIncomplete(PipelineError):
    """The quarantine did not finish in all the invocations it was given."""


class SettingsMismatch(PipelineError):
    """Settings parity: a setting of the old target could not be made the refreshed cluster's
    (AWS refused it, or it still differs after being applied), or the old target owns what its
    deletion would take from the applications: no swap (the error names the field)."""


class VerificationFailed(PipelineError):
    """The restored database did not pass verification."""


class DatabaseUnreachable(PipelineError):
    """The database steps could not connect."""


class UserResetFailed(PipelineError):
    """Creating or altering an application user failed."""


class SwapFailed(PipelineError):
    """Renaming the clusters failed (rolled back where possible)."""


class DeleteFailed(PipelineError):
    """Deleting the old cluster failed."""


class SettingsInvalid(PipelineError):
    """The state document or the function's environment lacks something required."""


class RestorePathRefused(PipelineError):
    """The run asks for a way to restore (a snapshot, a clone, a point in time) that the config
    does not allow (`source.restore_from`; the Lambda role is granted only those paths)."""


class SourceUnavailable(PipelineError):
    """The source cluster cannot be cloned or restored to a point in time: not visible from
    this account (not shared through AWS RAM), not available, without an instance (clone), or
    at its copy-on-write clone limit."""


class SourceIncompatible(PipelineError):
    """The source cluster is of another engine or version than a clone or point-in-time restore
    can give the target, or encrypted with a key the Lambda role is not granted."""


class RestoreTimeOutsideWindow(PipelineError):
    """The point in time asked for is outside the source's restorable window
    [EarliestRestorableTime, LatestRestorableTime]: refused before anything is created."""
