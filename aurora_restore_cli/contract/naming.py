"""Names, ARNs and tags of everything we own, derived from the settings (contract: DESIGN.md §3).

Ownership lives in AWS, not in a state file: a resource is ours when it has our name *and*
carries `MANAGED_BY_KEY=MANAGED_BY_VALUE` plus `ENV_KEY=<env>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.settings import notification_key_alias

MANAGED_BY_KEY = "aurora-restore:managed-by"
MANAGED_BY_VALUE = "aurora-restore"
ENV_KEY = "aurora-restore:env"
# CloudWatch namespace of the restore drills' metrics (DrillRtoSeconds, DrillPhaseSeconds).
DRILL_METRIC_NAMESPACE = "AuroraRestore"


def managed_tags(env: str) -> dict[str, str]:
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, ENV_KEY: env}


def is_managed(tags: dict[str, str], env: str) -> bool:
    return tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and tags.get(ENV_KEY) == env


def step_function_name(step: str) -> str:
    """`find_snapshot` → `find-snapshot` (the middle of `aurora-restore-find-snapshot-dev`)."""
    return step.replace("_", "-")


@dataclass(frozen=True)
class Names:
    env: str
    region: str
    account_id: str
    partition: str = "aws"

    def _arn(self, service: str, resource: str, region: str | None = None) -> str:
        region = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"

    # DynamoDB / SNS
    @property
    def table(self) -> str:
        return f"aurora-restore-audit-{self.env}"

    @property
    def table_arn(self) -> str:
        return self._arn("dynamodb", f"table/{self.table}")

    @property
    def topic(self) -> str:
        return f"aurora-restore-notifications-{self.env}"

    @property
    def topic_arn(self) -> str:
        return self._arn("sns", self.topic)

    # KMS: the topic's key, when setup owns it (config notifications.kms_key_id names it)
    @property
    def notification_key_alias(self) -> str:
        return notification_key_alias(self.env)

    @property
    def notification_key_alias_arn(self) -> str:
        return self._arn("kms", self.notification_key_alias)

    def alarm_arn(self, name: str) -> str:
        return self._arn("cloudwatch", f"alarm:{name}")

    # Secrets Manager
    @property
    def master_secret(self) -> str:
        return f"aurora-restore/{self.env}/master"

    @property
    def app_secret(self) -> str:
        return f"aurora-restore/{self.env}/app"

    @property
    def masking_secret(self) -> str:
        """The env's masking key (HMAC of the deterministic fakes); never printed."""
        return f"aurora-restore/{self.env}/masking"

    def secret_arn_pattern(self, name: str) -> str:
        # Secrets Manager appends "-XXXXXX" to every secret ARN.
        return self._arn("secretsmanager", f"secret:{name}-??????")

    # IAM
    def role(self, kind: str) -> str:
        return f"aurora-restore-{kind}-role-{self.env}"

    def role_arn(self, kind: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role(kind)}"

    def managed_policy(self, what: str) -> str:
        """A customer managed policy of ours (attached to one of our roles)."""
        return f"aurora-restore-{what}-{self.env}"

    def managed_policy_arn(self, what: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:policy/{self.managed_policy(what)}"

    # Lambda / Step Functions / logs / alarms / scheduler
    def function(self, step: str) -> str:
        return f"aurora-restore-{step_function_name(step)}-{self.env}"

    def function_arn(self, step: str) -> str:
        return self._arn("lambda", f"function:{self.function(step)}")

    @property
    def state_machine(self) -> str:
        return f"aurora-restore-pipeline-{self.env}"

    @property
    def state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.state_machine}")

    def execution_arn(self, operation_id: str) -> str:
        return self._arn("states", f"execution:{self.state_machine}:{operation_id}")

    @property
    def state_machine_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.state_machine}"

    def function_log_group(self, step: str) -> str:
        return f"/aws/lambda/{self.function(step)}"

    def log_group_arn(self, name: str) -> str:
        """Without the `:*` suffix (the form the tagging APIs take)."""
        return self._arn("logs", f"log-group:{name}")

    def alarm(self, what: str) -> str:
        return f"aurora-restore-{what}-{self.env}"

    @property
    def schedule(self) -> str:
        return f"aurora-restore-schedule-{self.env}"

    @property
    def schedule_group(self) -> str:
        """The EventBridge Scheduler group holding our schedule (schedules carry no tags; the
        group does, so ownership is the group's)."""
        return f"aurora-restore-{self.env}"

    @property
    def schedule_group_arn(self) -> str:
        return self._arn("scheduler", f"schedule-group/{self.schedule_group}")

    # Restore drills: a second state machine, its log group, secret and schedule
    @property
    def drill_state_machine(self) -> str:
        return f"aurora-restore-drill-{self.env}"

    @property
    def drill_state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.drill_state_machine}")

    def drill_execution_arn(self, operation_id: str) -> str:
        return self._arn("states", f"execution:{self.drill_state_machine}:{operation_id}")

    @property
    def drill_state_machine_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.drill_state_machine}"

    @property
    def drill_secret(self) -> str:
        """The drill clusters' master passwords (never the env's master secret)."""
        return f"aurora-restore/{self.env}/drill"

    @property
    def drill_schedule(self) -> str:
        return f"aurora-restore-drill-schedule-{self.env}"

    @property
    def drill_schedule_group(self) -> str:
        return f"aurora-restore-drill-{self.env}"

    @property
    def drill_schedule_group_arn(self) -> str:
        return self._arn("scheduler", f"schedule-group/{self.drill_schedule_group}")

    # Automatic recovery: the state machine that runs the recovery function's passes
    @property
    def recovery_state_machine(self) -> str:
        return f"aurora-restore-recovery-{self.env}"

    @property
    def recovery_state_machine_arn(self) -> str:
        return self._arn("states", f"stateMachine:{self.recovery_state_machine}")

    def recovery_execution_arn(self, operation_id: str) -> str:
        """The automatic recovery of operation `operation_id` (named after it)."""
        return self._arn("states", f"execution:{self.recovery_state_machine}:{operation_id}")

    @property
    def recovery_state_machine_log_group(self) -> str:
        return f"/aws/vendedlogs/states/{self.recovery_state_machine}"
