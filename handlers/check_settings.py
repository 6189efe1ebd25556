"""Step (poll): settings parity, part 2 — has the staging cluster taken the old target's
settings? (handlers/lib/parity.py.)

Each check: while the cluster or an instance is not `available` or has pending modifications,
wait; an instance whose (cluster or instance) parameter group waits for a reboot is rebooted
(guarded); once settled, the fields not attempted yet are applied (lib/parity_apply.py) and the
loop waits again; when nothing is left to attempt, the settings are read back and compared:
any field that still differs raises SettingsMismatch, naming it — the swap never happens.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, clusters, guards, parity, parity_apply, polling, rds
from handlers.lib import document as doc
from handlers.lib.errors import SettingsMismatch
from handlers.lib.step import Document, StepResult, pipeline_step


@pipeline_step("check-settings")
def handler(document: Document, context: Any) -> StepResult:
    facts = parity_apply.state(document)
    if facts.get("skipped") or "desired" not in facts:
        return document, polling.record(document, "settings", ready=True, status="nothing to match")
    client = aws.client("rds", doc.region(document))
    staging, staging_tags = parity_apply.staging_cluster(document, client)
    waiting = _unsettled(client, staging)
    writes = clusters.Writes(guards.Guard(document), client)
    if not waiting:
        for instance_id in parity.pending_reboots(client, staging):
            writes.reboot_instance(staging, staging_tags, instance_id)
            facts["rebooted"] = sorted({*facts.get("rebooted", []), instance_id})
            waiting.append(f"{instance_id} rebooting (a parameter group change)")
    if not waiting:
        current = parity.read(client, staging)
        applied = parity_apply.apply_round(document, writes, staging, staging_tags, current)
        if applied:
            waiting.append("applying " + ", ".join(applied))
        else:
            left = parity.differences(current, facts["desired"])
            if left:
                raise SettingsMismatch(
                    f"{len(left)} setting(s) of the refreshed cluster could not be made equal "
                    "to the old target's, so the swap is blocked (the target untouched): "
                    + "; ".join(d.describe() for d in left) + f"; {parity_apply.FIX}"
                )
            facts["matched"] = [f for f in parity.FIELDS if f not in facts.get("pinned", [])]
    ready = not waiting
    details = polling.record(document, "settings", ready=ready,
                             status="matched" if ready else "; ".join(waiting))
    if ready:
        details.update(matched=facts["matched"], pinned=facts.get("pinned", []),
                       rebooted=facts.get("rebooted", []))
    return document, details


def _unsettled(client: Any, cluster: dict[str, Any]) -> list[str]:
    waiting = []
    if cluster.get("Status") != "available" or cluster.get("PendingModifiedValues"):
        waiting.append(f"cluster {cluster.get('Status')}")
    for instance_id in parity.writer_first(cluster):
        instance = rds.describe_instance(client, instance_id) or {}
        state = instance.get("DBInstanceStatus", "missing")
        if state != "available" or instance.get("PendingModifiedValues"):
            waiting.append(f"{instance_id} {state}")
    return waiting
