"""Step: choose how this run gets production's data — a snapshot, a copy-on-write clone of
the source cluster, or a point-in-time restore of it — and record which and why.

The decision and its checks are lib/source_cluster.py's (`aurora-restore preflight` and
`run --to-time` run the same code read-only): a path the config does not allow is refused
(RestorePathRefused), a clone or point-in-time restore the source cannot give is refused
(SourceUnavailable, SourceIncompatible), and a time outside the source's restorable window
is refused (RestoreTimeOutsideWindow) — before anything is copied or created. With
`restore_from: auto` it clones when it can and otherwise restores a snapshot, saying why.

The state machine's RestorePath Choice reads `restore_from.path`: `snapshot` goes on to
FindSnapshot, a clone or a point in time straight to the restore.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, source_cluster
from handlers.lib.step import Document, StepResult, pipeline_step

SUMMARY = ("path", "reason", "configured", "source", "to_time", "rpo_seconds", "clones")


@pipeline_step("choose-source")
def handler(document: Document, context: Any) -> StepResult:
    chosen = source_cluster.choose(document, lambda region: aws.client("rds", region))
    document["restore_from"] = chosen
    return document, {key: chosen[key] for key in SUMMARY if chosen.get(key) is not None}
