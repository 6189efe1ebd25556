"""Step: settings parity, part 1 — read the old target's settings and start applying them to
the staging cluster (handlers/lib/parity.py says which, and how; lib/parity_apply.py applies
them in rounds). `check_settings` then waits, reboots where a parameter group change is
pending, applies what is left, reads back and compares; a field that differs blocks the swap.

Before anything, what the old target owns that its deletion after the swap would take from the
applications (an RDS-managed master secret, custom endpoints, read replicas) refuses the run:
SettingsMismatch names it and how to move it first.

Nothing to match (SKIPPED) with strategy `replace` (the old target was deleted before the
restore: the config's settings apply) or when there is no target yet (the first refresh).
When nothing was applied (skipped, or nothing differs), CheckSettings checks at once instead
of after the loop's `first_seconds`: there is no modification to wait for.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, parity, parity_apply, polling, rds
from handlers.lib import document as doc
from handlers.lib.errors import SettingsMismatch
from handlers.lib.step import Document, StepResult, pipeline_step, skipped


@pipeline_step("match-settings")
def handler(document: Document, context: Any) -> StepResult:
    polling.start(document, "settings")
    if doc.strategy(document) != "swap":
        document["parity"] = {"skipped": True}
        polling.check_now(document)
        return document, skipped("strategy replace: the old target was deleted before the "
                                 "restore, the config's settings apply")
    client = aws.client("rds", doc.region(document))
    target_id = doc.target_cluster_id(document)
    old = rds.describe_cluster(client, target_id)
    if old is None:
        document["parity"] = {"skipped": True}
        polling.check_now(document)
        return document, skipped(f"no cluster {target_id} yet: the config's settings apply")
    gone = parity.what_goes_away(client, old)
    if gone:
        raise SettingsMismatch(
            f"the old target {target_id} owns what its deletion after the swap would take from "
            "the applications: " + "; ".join(gone)
        )
    staging, staging_tags = parity_apply.staging_cluster(document, client)
    pinned = pinned_fields(document)
    old_settings = parity.read(client, old)
    wanted = parity.desired(old_settings, doc.target(document), pinned)
    document["parity"] = {
        "desired": wanted,
        "pinned": pinned,
        "attempted": [],
        "rebooted": [],
        "old_cluster_resource_id": old.get("DbClusterResourceId"),
        "old_pending_reboots": parity.pending_reboots(client, old),
    }
    current = parity.read(client, staging)
    writes = clusters.Writes(guards.Guard(document), client)
    applied = parity_apply.apply_round(document, writes, staging, staging_tags, current)
    if not applied:
        polling.check_now(document)
    return document, {
        "old_cluster_id": target_id,
        "staging_cluster_id": staging["DBClusterIdentifier"],
        "pinned": pinned,
        "differences": [d.describe() for d in parity.differences(current, wanted)],
        "applying": applied,
        **({"old_pending_reboots": document["parity"]["old_pending_reboots"]}
           if document["parity"]["old_pending_reboots"] else {}),
    }


def pinned_fields(document: Document) -> list[str]:
    """The fields `settings.parity.pin` leaves to the config (config keys → parity fields)."""
    keys = ((doc.settings(document).get("parity") or {}).get("pin")) or []
    by_key = {key: field for field, key in parity.PINNABLE.items()}
    return sorted(by_key[k] for k in keys if k in by_key)
