"""Bounded retry while a just-created IAM role (or its inline policy) has not propagated yet.

Lambda, Step Functions and EventBridge Scheduler check at create/update time that they can
assume the role they are given (Lambda: and that it may create network interfaces); for some
seconds after `setup roles` created it they cannot. Each kind names the answers that mean
exactly that (`role_not_ready`); only those are retried, with backoff, for at most
`ROLE_WAIT_SECONDS` of (injectable) sleeping per call; anything else is raised at once. The
sandbox has no propagation delay. Concurrent creates each wait on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .resource import Context

ROLE_WAIT_SECONDS = 60.0  # IAM propagation usually takes ~10 s
FIRST_DELAY, MAX_DELAY = 2.0, 10.0

T = TypeVar("T")


def role_not_ready(exc: BaseException, codes: Iterable[str], phrases: Iterable[str]) -> bool:
    """Whether `exc` is an AWS error with one of `codes` whose message holds one of `phrases`."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    error = response.get("Error") or {}
    message = str(error.get("Message", "")).lower()
    return error.get("Code") in set(codes) and any(p in message for p in phrases)


def while_role_propagates(
    ctx: Context, call: Callable[[], T], not_ready: Callable[[BaseException], bool]
) -> T:
    """`call()`, retried with backoff while `not_ready(error)` says the role is not usable yet."""
    from botocore.exceptions import ClientError

    bound = 0.0 if ctx.sandbox else ROLE_WAIT_SECONDS
    waited, delay = 0.0, FIRST_DELAY
    while True:
        try:
            return call()
        except ClientError as exc:
            if not not_ready(exc) or waited >= bound:
                raise
        pause = min(delay, bound - waited)
        ctx.sleep(pause)
        waited += pause
        delay = min(delay * 2, MAX_DELAY)
