"""`aurora-restore recover OPERATION_ID`: run the deployed recovery function for one execution.

Why invoke the function rather than import its code: the recovery then runs exactly the
deployed handlers with the Lambda role's permissions and environment (table, topic, secrets),
the operator needs only `lambda:InvokeFunction` on it (the DBA role has it), and `handlers/`
stays free of the CLI (the function is `handlers/recover_execution.py`, logic in
`handlers/lib/recovery.py` and `handlers/lib/undo.py`). Each invocation is one undo pass; while
the answer is "pending" (a cluster is still renaming or being restored) this loop waits the
undo's `wait_seconds` and invokes again, up to `max_seconds`.

No printing here: the command renders what `recover` returns.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Any

from ..bundled import recovery_functions
from ..resources.base.resource import Context

FUNCTION = recovery_functions()[0]
FINAL = ("recovered", "already recovered", "nothing to recover", "refused")


class RecoveryFailed(Exception):
    """The recovery function itself failed (its error type and message)."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function} failed: {error_type}: {message}")
        self.error_type = error_type


def recover(
    ctx: Context,
    operation_id: str,
    max_seconds: float,
    on_pass: Callable[[dict[str, Any]], None] = lambda _: None,
) -> dict[str, Any]:
    lam = ctx.clients.get("lambda")
    function = ctx.names.function(FUNCTION)
    payload = {"operation_id": operation_id, "wait": False, "requested_by": _requester()}
    deadline = ctx.monotonic() + max_seconds
    while True:
        response = lam.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        answer = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise RecoveryFailed(
                function, str(answer.get("errorType")), str(answer.get("errorMessage"))
            )
        on_pass(answer)
        interval = float(answer.get("wait_seconds") or 0)  # the undo's own pace (lib/undo)
        if answer.get("status") in FINAL or ctx.monotonic() + interval > deadline:
            return dict(answer)
        ctx.sleep(interval)


def _requester() -> str:
    try:
        return f"aurora-restore recover ({getpass.getuser()})"
    except Exception:  # no login name (containers)
        return "aurora-restore recover"
