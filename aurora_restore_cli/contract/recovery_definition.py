"""Automatic recovery's state machine `aurora-restore-recovery-<env>`: its pass schedule, its
time limits and its rendered definition (definitions/recovery.asl.json). Pure: no AWS call.

The recovery function runs one undo pass per invocation (handlers/lib/recovery.py); the state
machine passes again while the answer is `pending` (a cluster still renaming, being deleted,
restored from a final snapshot, or its instances creating), waiting between passes like the
pipeline's own wait loops (handlers/lib/polling.py: `poll_seconds`, then
`poll_growth_percent` of the time waited so far), until the time the undo may legitimately
wait has passed: the wait loops it can meet one after the other, at their `max_seconds` —

- strategy `replace`: the target's deletion (with its final snapshot), the unverified
  cluster's rename off the target id, the restore from the final snapshot, its instances;
- strategy `swap`: two renames (the staging cluster's, then the old target's back);
- a restore drill's cleanup: two deletions (the drill cluster, then its copy);

the longest of those that apply. `waits[k]` is the wait after pass k+1 (the last entry is
never waited: the pass count is spent). The bound is in the definition, so the number of
passes, the execution's TimeoutSeconds and its history events are known and checked before
anything is deployed (`problems`, run with the pipeline's time limits by every command).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .. import bundled
from ..config.settings import Settings
from . import definition
from .naming import Names

TEMPLATE_PATH = definition.TEMPLATE_PATH.with_name("recovery.asl.json")
FUNCTION = "recover_execution"  # handlers.RECOVERY_FUNCTIONS[0]
FUNCTION_PLACEHOLDER = definition.function_arn_placeholder(FUNCTION)
# The waits an undo (or a drill's cleanup) can meet one after the other, per kind of run.
UNDO_LOOPS: dict[str, tuple[str, ...]] = {
    "replace": ("delete", "rename", "restore", "instances"),
    "swap": ("rename", "rename"),
    "drill": ("delete", "delete"),
}
# Beyond every pass at the Lambda timeout: room for the Task's retries (Lambda service errors,
# TransientError) before the execution's own timeout stops it.
RETRY_MARGIN_SECONDS = 3600
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600  # a standard workflow runs at most a year
# History events: the execution's start and end, Initialize, the final state; per pass the
# Task (5), CountPass, Settled and the Wait (2 each), and PassFailed when a pass fails (2).
FIXED_EVENTS = 2 + 2 + 2
PASS_EVENTS = 5 + 2 + 2 + 2 + 2
LOCK_GRACE_SECONDS = 600  # handlers/lib/undo.LOCK_GRACE_SECONDS: each pass renews the lock


@dataclass(frozen=True)
class RecoveryPlan:
    """The passes of one automatic recovery, at their bound."""

    loops: tuple[str, ...]  # the wait loops whose max_seconds make the budget
    budget_seconds: int
    waits: tuple[int, ...]  # after each pass; the last one is never waited
    lambda_timeout_seconds: int

    @property
    def max_passes(self) -> int:
        return len(self.waits)

    @property
    def wait_seconds(self) -> int:
        return sum(self.waits[:-1])

    @property
    def longest_wait_seconds(self) -> int:
        return max(self.waits[:-1], default=0)

    @property
    def timeout_seconds(self) -> int:
        passes = self.max_passes * self.lambda_timeout_seconds
        return self.wait_seconds + passes + RETRY_MARGIN_SECONDS

    @property
    def events(self) -> int:
        return FIXED_EVENTS + self.max_passes * PASS_EVENTS


def plan(settings: Settings) -> RecoveryPlan:
    """The pass schedule for this config (the pipeline's wait-loop arithmetic)."""
    waits = settings.pipeline.waits
    kinds = (settings.target.strategy, "drill")
    budgets = {kind: sum(waits[loop].max_seconds for loop in UNDO_LOOPS[kind]) for kind in kinds}
    kind = max(kinds, key=lambda k: budgets[k])
    return schedule(
        UNDO_LOOPS[kind],
        budgets[kind],
        waits["rename"].poll_seconds,  # what the undo itself paces by (lib/undo._pace)
        settings.pipeline.poll_growth_percent,
        settings.lambda_.timeout_seconds,
    )


def schedule(
    loops: tuple[str, ...], budget: int, poll_seconds: int, growth: int, lambda_timeout: int
) -> RecoveryPlan:
    """Waits from `poll_seconds` (then `growth`% of the time waited) until `budget` is
    waited; one pass before the first wait and one after each."""
    polling = bundled.polling()
    if poll_seconds < 1 and growth < 1:
        raise ValueError("poll_seconds must be at least 1 to bound recovery by time")
    waits: list[int] = []
    waited = 0
    while waited < budget:
        wait = int(polling.next_wait(poll_seconds, growth, waited))
        waits.append(wait)
        waited += wait
    waits.append(0)  # after the last pass: never waited
    return RecoveryPlan(loops, budget, tuple(waits), lambda_timeout)


def block(recovery: RecoveryPlan) -> dict[str, Any]:
    """`${Recovery}`: what Initialize puts at `$.recovery` (no pass done yet)."""
    return {
        "passes": 0,
        "max_passes": recovery.max_passes,
        "waits": list(recovery.waits),
        "wait_seconds": 0,
    }


def render(settings: Settings, names: Names, recovery: RecoveryPlan | None = None) -> str:
    """The definition to upload, validated (every Next exists, the one Task invokes this env's
    recovery function and nothing else). Raises ValueError listing problems."""
    recovery = recovery or plan(settings)
    values: dict[str, definition.Value] = {
        FUNCTION_PLACEHOLDER: names.function_arn(FUNCTION),
        "Recovery": block(recovery),
        "RecoveryTimeoutSeconds": recovery.timeout_seconds,
    }
    rendered = definition.render(definition.load_template(TEMPLATE_PATH), values)
    found = definition.validate(rendered, {names.function_arn(FUNCTION)})
    if found:
        raise ValueError("the rendered recovery definition is invalid: " + "; ".join(found))
    return rendered


def problems(settings: Settings, history_budget: int) -> list[tuple[str, str]]:
    """(key path, message) for each limit automatic recovery would break; empty if none."""
    recovery = plan(settings)
    found: list[tuple[str, str]] = []
    what = f"automatic recovery ({describe(recovery)})"
    if recovery.events > history_budget:
        found.append(
            (
                "pipeline.waits.rename.poll_seconds",
                f"{what} can write {recovery.events} history events; {history_budget} are "
                "allowed: raise waits.rename.poll_seconds or poll_growth_percent",
            )
        )
    if recovery.timeout_seconds > MAX_TIMEOUT_SECONDS:
        found.append(
            (
                "pipeline.waits",
                f"{what} may take {recovery.timeout_seconds} s; a Step Functions execution "
                f"runs at most {MAX_TIMEOUT_SECONDS} s: lower the waits' max_seconds",
            )
        )
    hold = settings.pipeline.timeout_seconds + LOCK_GRACE_SECONDS
    gap = recovery.longest_wait_seconds + settings.lambda_.timeout_seconds
    if gap >= hold:
        found.append(
            (
                "pipeline.timeout_seconds",
                f"{what} may wait {gap} s between two passes, but each pass holds the "
                f"target's lock for only {hold} s (timeout_seconds + {LOCK_GRACE_SECONDS}): "
                "another run could take it mid-recovery; raise timeout_seconds",
            )
        )
    return found


def describe(recovery: RecoveryPlan) -> str:
    hours, rest = divmod(recovery.wait_seconds, 3600)
    return (
        f"up to {recovery.max_passes} passes over {hours}h{rest // 60:02d}m "
        f"for {' + '.join(recovery.loops)}"
    )


def summary(settings: Settings, names: Names) -> str:
    """For `aurora-restore validate`: render and check the recovery definition, no AWS call."""
    recovery = plan(settings)
    states = json.loads(render(settings, names, recovery))["States"]
    return (
        f"definition {TEMPLATE_PATH.name}: {len(states)} states, {describe(recovery)}, "
        f"timeout {recovery.timeout_seconds} s, at most {recovery.events} history events"
    )
