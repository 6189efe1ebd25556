"""The pipeline state machine `aurora-restore-pipeline-<env>` (guide step 6) and its log group.

The definition is `definitions/pipeline.asl.json` rendered with this env's function ARNs and
settings, validated before any upload. It is compared as parsed JSON (formatting and key order
never cause an update); role, logging (level ERROR, no execution data, to our log group),
tracing (off) and tags are compared too, and only what differs is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..config.settings import Settings
from ..contract.definition import TEMPLATE_PATH
from ..contract.naming import Names
from ..contract.pipeline_settings import render_definition
from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.propagation import role_not_ready, while_role_propagates
from .base.resource import Context, Resource, tag_differences
from .log_group import LogGroup

STEP = "state-machine"
# The state machine is what runs a refresh: it comes after every part it uses (and its
# schedule and alarms after it), so a part that failed never leaves a runnable pipeline.
DEPENDS_ON = ("secrets", "roles", "table", "topic", "lambdas")
TYPE = "STANDARD"
LOG_LEVEL = "ERROR"
DELETE_WAIT_SECONDS = 120.0  # a deleted state machine lingers as DELETING for a few seconds
DELETE_POLL_SECONDS = 2.0
# What Step Functions answers while a new role or its log-delivery policy has not propagated.
ROLE_NOT_READY = ("assume the provided role", "not authorized to access the log destination")
TYPE_DIFFERS = "type (cannot change in place)"


def resources(ctx: Context) -> list[Resource[Any]]:
    names = ctx.names
    log_group = LogGroup(
        ctx, names.state_machine_log_group, ctx.settings.lambda_.log_retention_days
    )
    log_group.depends_on = ()  # a log group needs nothing: it is created with the first
    state_machine = StateMachine(ctx, names.state_machine)
    state_machine.after = (log_group,)  # its logging configuration names the group
    return [log_group, state_machine]


def validate_offline(settings: Settings, names: Names) -> str:
    """For `aurora-restore validate`: render and validate the definition, no AWS call."""
    states = json.loads(render_definition(settings, names))["States"]
    tasks = sum(1 for state in states.values() if state.get("Type") == "Task")
    return (
        f"definition {TEMPLATE_PATH.name}: {len(states)} states, every placeholder filled, "
        f"every Next resolves, all {tasks} tasks invoke this env's functions"
    )


@dataclass(frozen=True)
class StateMachineState:
    arn: str
    status: str
    type: str
    definition: Any  # parsed JSON (None if unparsable)
    role_arn: str
    logging: dict[str, Any]  # normalised, see _normalise_logging
    tracing: bool
    tags: dict[str, str]


def _normalise_logging(config: dict[str, Any] | None) -> dict[str, Any]:
    config = config or {}
    arns = [
        str((d.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", "")).removesuffix(":*")
        for d in config.get("destinations") or []
    ]
    return {
        "level": config.get("level", "OFF"),
        "includeExecutionData": bool(config.get("includeExecutionData", False)),
        "destinations": sorted(arns),
    }


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


class StateMachine(Resource[StateMachineState]):
    kind = "state machine"

    def __init__(self, ctx: Context, name: str) -> None:
        super().__init__(ctx, name)
        self._definition: str | None = None

    def arn(self) -> str:
        return self.ctx.names.state_machine_arn

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def definition(self) -> str:
        """The rendered, validated definition (rendered once per command)."""
        if self._definition is None:
            self._definition = render_definition(self.ctx.settings, self.ctx.names)
        return self._definition

    def prepare(self) -> None:
        _ = self.definition

    @property
    def role_arn(self) -> str:
        return self.ctx.names.role_arn("stepfunctions")

    def _logging(self) -> dict[str, Any]:
        log_group = self.ctx.names.log_group_arn(self.ctx.names.state_machine_log_group)
        return {
            "level": LOG_LEVEL,
            "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{log_group}:*"}}],
        }

    def _describe(self) -> dict[str, Any] | None:
        try:
            return dict(self.sfn.describe_state_machine(stateMachineArn=self.arn()))
        except self.sfn.exceptions.StateMachineDoesNotExist:
            return None

    def read(self) -> StateMachineState | None:
        found = self._describe()
        if found is not None and found.get("status") == "DELETING":
            found = self._wait_until_deleted()
        if found is None:
            return None
        tags = self.indexed_tags(found["stateMachineArn"])
        if tags is None:
            listed = self.sfn.list_tags_for_resource(resourceArn=found["stateMachineArn"])
            tags = {t["key"]: t["value"] for t in listed.get("tags", [])}
        return StateMachineState(
            arn=found["stateMachineArn"],
            status=found.get("status", "ACTIVE"),
            type=found.get("type", TYPE),
            definition=_parse(found["definition"]),
            role_arn=found["roleArn"],
            logging=_normalise_logging(found.get("loggingConfiguration")),
            tracing=bool((found.get("tracingConfiguration") or {}).get("enabled", False)),
            tags=tags,
        )

    def _wait_until_deleted(self) -> dict[str, Any] | None:
        """A state machine being deleted cannot be replaced until it is gone: wait (bounded)."""
        deadline = self.ctx.monotonic() + DELETE_WAIT_SECONDS
        while True:
            found = self._describe()
            if found is None or found.get("status") != "DELETING":
                return found
            if self.ctx.monotonic() >= deadline:
                return found  # still DELETING: create/update will fail with AWS's own message
            self.ctx.sleep(DELETE_POLL_SECONDS)

    def tags(self, current: StateMachineState) -> dict[str, str]:
        return current.tags

    def differences(self, current: StateMachineState) -> list[str]:
        diffs = []
        if current.type != TYPE:
            diffs.append(TYPE_DIFFERS)
        if current.definition != json.loads(self.definition):
            diffs.append("definition")
        if current.role_arn != self.role_arn:
            diffs.append("role")
        if current.logging != _normalise_logging(self._logging()):
            diffs.append("logging")
        if current.tracing:
            diffs.append("tracing")
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def values(self, current: StateMachineState, differences: list[str]) -> list[Difference]:
        found: list[Difference] = []
        if TYPE_DIFFERS in differences:
            found.append(scalar("type", current.type, TYPE))
        if "definition" in differences:
            found.append(document_diff("definition", current.definition, json.loads(self.definition)))
        if "role" in differences:
            found.append(scalar("role", current.role_arn, self.role_arn))
        if "logging" in differences:
            found.append(document_diff("logging", current.logging, _normalise_logging(self._logging())))
        if "tracing" in differences:
            found.append(scalar("tracing", current.tracing, False))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    def _not_ready(self, exc: BaseException) -> bool:
        return role_not_ready(exc, ("AccessDeniedException",), ROLE_NOT_READY)

    def create(self) -> None:
        definition = self.definition  # render (and validate) before any write
        while_role_propagates(
            self.ctx,
            lambda: self.sfn.create_state_machine(
                name=self.name,
                definition=definition,
                roleArn=self.role_arn,
                type=TYPE,
                loggingConfiguration=self._logging(),
                tracingConfiguration={"enabled": False},
                tags=[{"key": k, "value": v} for k, v in sorted(self.ctx.tags().items())],
            ),
            self._not_ready,
        )

    def update(self, current: StateMachineState, differences: list[str]) -> None:
        if TYPE_DIFFERS in differences:
            raise ValueError(
                f"state machine {self.name} is {current.type}, not {TYPE}; delete it "
                "(cleanup state-machine) and re-run setup"
            )
        changes: dict[str, Any] = {}
        if "definition" in differences:
            changes["definition"] = self.definition
        if "role" in differences:
            changes["roleArn"] = self.role_arn
        if "logging" in differences:
            changes["loggingConfiguration"] = self._logging()
        if "tracing" in differences:
            changes["tracingConfiguration"] = {"enabled": False}
        if changes:
            while_role_propagates(
                self.ctx,
                lambda: self.sfn.update_state_machine(stateMachineArn=current.arn, **changes),
                self._not_ready,
            )
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.sfn.tag_resource(
                    resourceArn=current.arn,
                    tags=[{"key": k, "value": v} for k, v in sorted(to_set.items())],
                )
            if to_remove:
                self.sfn.untag_resource(resourceArn=current.arn, tagKeys=to_remove)

    def delete(self, current: StateMachineState) -> None:
        # Asynchronous on AWS (status DELETING); running executions end at their next transition.
        self.sfn.delete_state_machine(stateMachineArn=current.arn)
