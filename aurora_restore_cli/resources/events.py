"""Setup step `events`: what recovers timed-out, aborted and failed runs by itself.

Step Functions runs no Catch when an execution ends TIMED_OUT or ABORTED, so the pipeline's
failure path never runs then. The rule `aurora-restore-recovery-<env>` matches "Step Functions
Execution Status Change" events of this env's state machines (the refresh's and the restore
drills') with status TIMED_OUT, ABORTED or FAILED (a safety net for a failure path that could
not finish) and invokes the recovery function `aurora-restore-recover-execution-<env>`
(handlers/recover_execution.py). The function starts automatic recovery: an execution of the
state machine `aurora-restore-recovery-<env>` (recovery_machine.py) named after the operation
id — so a second event for the same run starts nothing — that runs the function's undo passes
until the run is recovered, at most the config's number of passes (then it fails: the alarm
`recovery-gave-up` pages).

Why the rule invokes the function rather than the state machine: an EventBridge rule's Step
Functions target cannot name the execution (PutTargets has no such parameter), so two
deliveries of one event would start two recoveries; StartExecution by name makes it once.

Resources, in order: the recovery state machine's log group and the state machine (its role is
the `roles` step's), then the rule (tagged at creation), its single target and the function's
resource-policy statement that lets `events.amazonaws.com` invoke it, only from this rule
(`AWS:SourceArn`). The function itself belongs to the `lambdas` step.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..bundled import recovery_functions
from ..config.settings import Settings
from ..contract import recovery_definition
from ..contract.naming import Names
from . import recovery_machine
from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.resource import Context, Resource, concurrently, tag_dict, tag_differences, tag_list

STEP = "events"
# The function the rule invokes (and grants itself permission on) and the recovery state
# machine runs, and the recovery state machine's role; the state machines the rule watches are
# only named in its pattern, so the rule is made alongside them.
DEPENDS_ON = ("roles", "lambdas")
STATUSES = ("ABORTED", "FAILED", "TIMED_OUT")
TARGET_ID = "recover-execution"
STATEMENT_ID = "aurora-restore-recovery-rule"
EVENTS_PRINCIPAL = "events.amazonaws.com"


def rule_name(names: Names) -> str:
    return f"aurora-restore-recovery-{names.env}"


def rule_arn(names: Names) -> str:
    return f"arn:{names.partition}:events:{names.region}:{names.account_id}:rule/{rule_name(names)}"


def recovery_function(names: Names) -> str:
    return names.function(recovery_functions()[0])


def event_pattern(names: Names) -> dict[str, Any]:
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        # The restore drills' state machine too: a drill that times out is cleaned up.
        "detail": {
            "stateMachineArn": [names.state_machine_arn, names.drill_state_machine_arn],
            "status": list(STATUSES),
        },
    }


def resources(ctx: Context) -> list[Resource[Any]]:
    log_group, machine = recovery_machine.resources(ctx)
    log_group.depends_on = ()  # a log group needs nothing
    rule = RecoveryRule(ctx)
    rule.after = (machine,)  # what the function starts on the rule's events exists first
    return [log_group, machine, rule]


def validate_offline(settings: Settings, names: Names) -> str:
    """For `aurora-restore validate`: automatic recovery's definition and pass bound."""
    return recovery_definition.summary(settings, names)


@dataclass(frozen=True)
class RuleState:
    arn: str
    pattern: Any
    state: str
    description: str
    tags: dict[str, str]
    targets: dict[str, str]  # target id → ARN
    permitted: bool  # the function lets this rule (and only it, by SourceArn) invoke it


class RecoveryRule(Resource[RuleState]):
    kind = "EventBridge rule"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx, rule_name(ctx.names))

    def arn(self) -> str:
        return rule_arn(self.ctx.names)

    @property
    def events(self) -> Any:
        return self.client("events")

    @property
    def lam(self) -> Any:
        return self.client("lambda")

    def _description(self) -> str:
        return (
            f"aurora-restore {self.ctx.env}: recover timed-out, aborted or failed executions of "
            f"{self.ctx.names.state_machine} and {self.ctx.names.drill_state_machine}"
        )

    def read(self) -> RuleState | None:
        try:
            rule = self.events.describe_rule(Name=self.name)
        except self.events.exceptions.ResourceNotFoundException:
            return None
        # Tags (unless the tag index has them), targets and the invoke permission: at once.
        tags, targets, permitted = concurrently(
            [
                partial(self._tags_of, rule["Arn"]),
                partial(self.events.list_targets_by_rule, Rule=self.name),
                self._permitted,
            ]
        )
        return RuleState(
            arn=rule["Arn"],
            pattern=json.loads(rule.get("EventPattern") or "null"),
            state=rule.get("State", ""),
            description=rule.get("Description", ""),
            tags=tags,
            targets={t["Id"]: t["Arn"] for t in targets.get("Targets", [])},
            permitted=permitted,
        )

    def _tags_of(self, arn: str) -> dict[str, str]:
        indexed = self.indexed_tags(arn)
        if indexed is not None:
            return indexed
        return tag_dict(self.events.list_tags_for_resource(ResourceARN=arn).get("Tags", []))

    def _statement(self) -> dict[str, Any] | None:
        try:
            policy = self.lam.get_policy(FunctionName=recovery_function(self.ctx.names))
        except self.lam.exceptions.ResourceNotFoundException:
            return None  # no policy yet, or no function (setup lambdas first)
        statements = json.loads(policy["Policy"]).get("Statement") or []
        return next((s for s in statements if s.get("Sid") == STATEMENT_ID), None)

    def _permitted(self) -> bool:
        statement = self._statement()
        if statement is None:
            return False
        condition = (statement.get("Condition") or {}).get("ArnLike") or {}
        return (
            (statement.get("Principal") or {}).get("Service") == EVENTS_PRINCIPAL
            and condition.get("AWS:SourceArn") == self.arn()
            and statement.get("Effect") == "Allow"
        )

    def tags(self, current: RuleState) -> dict[str, str]:
        return current.tags

    def _target_arn(self) -> str:
        return self.ctx.names.function_arn(recovery_functions()[0])

    def differences(self, current: RuleState) -> list[str]:
        diffs = []
        if current.pattern != event_pattern(self.ctx.names):
            diffs.append("event pattern")
        if current.state != "ENABLED":
            diffs.append("state")
        if current.description != self._description():
            diffs.append("description")
        if current.targets != {TARGET_ID: self._target_arn()}:
            diffs.append("target")
        if not current.permitted:
            diffs.append("invoke permission")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def values(self, current: RuleState, differences: list[str]) -> list[Difference]:
        desired = {
            "event pattern": (current.pattern, event_pattern(self.ctx.names)),
            "state": (current.state, "ENABLED"),
            "description": (current.description, self._description()),
            "target": (current.targets, {TARGET_ID: self._target_arn()}),
            "invoke permission": (current.permitted, True),
        }
        found = [
            (document_diff if isinstance(new, (dict, list)) else scalar)(key, old, new)
            for key, (old, new) in desired.items() if key in differences
        ]
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def _put_rule(self, **extra: Any) -> None:
        self.events.put_rule(
            Name=self.name,
            EventPattern=json.dumps(event_pattern(self.ctx.names), sort_keys=True),
            State="ENABLED",
            Description=self._description(),
            **extra,
        )

    def _put_target(self) -> None:
        self.events.put_targets(
            Rule=self.name, Targets=[{"Id": TARGET_ID, "Arn": self._target_arn()}]
        )

    def _permit(self) -> None:
        function = recovery_function(self.ctx.names)
        if self._statement() is not None:  # a statement with our id but other content
            self.lam.remove_permission(FunctionName=function, StatementId=STATEMENT_ID)
        self.lam.add_permission(
            FunctionName=function,
            StatementId=STATEMENT_ID,
            Action="lambda:InvokeFunction",
            Principal=EVENTS_PRINCIPAL,
            SourceArn=self.arn(),
        )

    def create(self) -> None:
        # The target needs the rule; the invoke permission names the rule's ARN only as a
        # condition, so it needs nothing but the function.
        concurrently([self._create_rule_and_target, self._permit])

    def _create_rule_and_target(self) -> None:
        self._put_rule(Tags=tag_list(self.ctx.tags()))
        self._put_target()

    def update(self, current: RuleState, differences: list[str]) -> None:
        if {"event pattern", "state", "description"} & set(differences):
            self._put_rule()
        if "invoke permission" in differences:
            self._permit()
        if "target" in differences:
            extra = [t for t in current.targets if t != TARGET_ID]
            if extra:
                self.events.remove_targets(Rule=self.name, Ids=extra)
            self._put_target()
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.events.tag_resource(ResourceARN=current.arn, Tags=tag_list(to_set))
            if to_remove:
                self.events.untag_resource(ResourceARN=current.arn, TagKeys=to_remove)

    def delete(self, current: RuleState) -> None:
        if current.permitted or self._statement() is not None:
            with contextlib.suppress(self.lam.exceptions.ResourceNotFoundException):
                self.lam.remove_permission(
                    FunctionName=recovery_function(self.ctx.names), StatementId=STATEMENT_ID
                )
        if current.targets:
            self.events.remove_targets(Rule=self.name, Ids=list(current.targets))
        self.events.delete_rule(Name=self.name)
