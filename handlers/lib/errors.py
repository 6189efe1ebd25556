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
    """The snapshot is of another engine or of a cluster other than the configured source."""


class UnsafeTarget(PipelineError):
    """The safety guard refused to rename or delete a cluster (nothing was changed)."""


class CopyFailed(PipelineError):
    """The snapshot copy failed or disappeared."""


class RestoreFailed(PipelineError):
    """The restored cluster or one of its instances failed."""


class PollTimeout(PipelineError):
    """A wait loop ran out of attempts (raised by the state machine, named here for Catch)."""


class SqlScriptFailed(PipelineError):
    """A post-restore SQL file failed; the staging cluster is left for inspection."""


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
