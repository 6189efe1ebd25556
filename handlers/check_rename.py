"""Step (poll): has the rename in `document["rename"]` settled?

Settled = the new id exists and is available and the old id is gone (on AWS a rename takes a
while, and the old id stays taken until it is done). Used after both halves of the swap. When
the swap-in has settled, the new cluster serves under the target id: this run's master
password (staged AWSPENDING by reset_master_password) becomes AWSCURRENT at that moment.
"""

from __future__ import annotations

from typing import Any

from handlers.lib import aws, polling, rds, secrets
from handlers.lib import document as doc
from handlers.lib.errors import SwapFailed
from handlers.lib.step import Document, StepResult, pipeline_step

MASTER_SECRET = "MASTER_SECRET_ID"


@pipeline_step("check-rename")
def handler(document: Document, context: Any) -> StepResult:
    what = str((document.get("poll") or {}).get("what") or "rename")
    rename = document.get("rename")
    if not rename:
        return document, polling.record(document, what, ready=True, status="nothing to rename")
    client = aws.client("rds", doc.region(document))
    renamed = rds.describe_cluster(client, str(rename["to"]))
    leftover = rds.describe_cluster(client, str(rename["from"]))
    status = str(renamed.get("Status")) if renamed else "not yet visible"
    if renamed is not None and status in ("failed", "deleting"):
        raise SwapFailed(f"cluster {rename['to']} is {status} after the rename")
    ready = status == "available" and leftover is None
    if leftover is not None and renamed is not None:
        status += f"; {rename['from']} still present"
    details = polling.record(document, what, ready=ready, status=status)
    if ready and what == "swap-in":
        sm = aws.client("secretsmanager", doc.region(document))
        version = secrets.master_version_id(doc.operation_id(document))
        details["master_password_promoted"] = secrets.promote(
            sm, secrets.secret_id(MASTER_SECRET), version
        )
    return document, details
