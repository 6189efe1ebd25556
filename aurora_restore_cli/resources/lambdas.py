"""The pipeline's Lambda functions `aurora-restore-<step>-<env>`, one per `handlers.FUNCTIONS`
(the state machine's steps and the recovery function),
each preceded by its log group `/aws/lambda/<function>` (retention from config, tagged).
Only the database steps (`bundled.database_steps()`) run in the configured VPC.

Code is compared by CodeSha256 against the deterministic package (built once per command,
while other resources are being read), configuration field by field; only what differs is
written. Creation retries, with a bound, while the execution role is not yet assumable (IAM
propagation, see propagation.py).

Reads in bulk: one ListFunctions pass answers every function (tags from the tag index), one
DescribeLogGroups by prefix every log group. Each function comes after its own log group (a
function invoked before its group exists would get one from Lambda, untagged); the log groups
need nothing, so they are made while the roles are, and the pairs are independent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..bundled import database_steps, deployed_functions, retired_functions
from ..config.settings import Settings
from ..contract.naming import Names
from ..documents.packaging import Package, Packager
from .base.changes import Difference, document_diff, scalar, tags_difference
from .base.propagation import role_not_ready, while_role_propagates
from .base.resource import BulkRead, Context, Loadable, Resource, tag_differences
from .log_group import LogGroup, log_groups_by_prefix

STEP = "lambdas"
DEPENDS_ON = ("roles",)  # the execution role (the log groups need nothing)
WAIT = {"Delay": 2, "MaxAttempts": 150}  # functions settle in seconds (VPC: ~1 min); 5 min bound
# What Lambda answers while a new role (or its inline policy) has not propagated yet.
ROLE_NOT_READY = (
    "cannot be assumed by lambda",
    "does not have permissions to call createnetworkinterface",
)
FUNCTION_PREFIX = "aurora-restore-"  # every function of ours, whatever its env
PACKAGER_KEY = "lambdas.packager"
PACKAGES_KEY = "lambdas.packages"
PACKAGE_LOCK_KEY = "lambdas.package-lock"
DB_MODE_ENV = "AURORA_RESTORE_DB_MODE"


def resources(ctx: Context) -> list[Resource[Any]]:
    functions = BulkRead(lambda: list_functions(ctx))
    groups = log_groups_by_prefix(ctx, f"/aws/lambda/{FUNCTION_PREFIX}")
    out: list[Resource[Any]] = []
    for step in deployed_functions():
        retention = ctx.settings.lambda_.log_retention_days
        group = LogGroup(ctx, ctx.names.function_log_group(step), retention, groups)
        group.depends_on = ()
        function = Function(ctx, ctx.names.function(step), step, functions)
        function.after = (group,)
        out += [group, function]
    for step in retired_functions():  # an earlier version's: gone once setup has run
        retired = RetiredFunction(ctx, ctx.names.function(step), step, functions)
        old_group = RetiredLogGroup(ctx, ctx.names.function_log_group(step), 1, groups)
        retired.unwanted = old_group.unwanted = True
        old_group.depends_on = ()
        old_group.after = (retired,)  # the function first, then its logs
        out += [retired, old_group]
    return out


def list_functions(ctx: Context) -> dict[str, dict[str, Any]]:
    """Name → configuration of every function of ours (any env), from one ListFunctions pass.
    AWS leaves out State and LastUpdateStatus here (GetFunction has them)."""
    found: dict[str, dict[str, Any]] = {}
    for page in ctx.clients.get("lambda").get_paginator("list_functions").paginate():
        for config in page["Functions"]:
            if config["FunctionName"].startswith(FUNCTION_PREFIX):
                found[config["FunctionName"]] = config
    return found


def use_packager(ctx: Context, packager: Packager) -> None:
    """Package with `packager` in this context (tests: another handlers tree or cache)."""
    ctx.cache[PACKAGER_KEY] = packager
    ctx.cache.pop(PACKAGES_KEY, None)


def package_for(ctx: Context, step: str) -> Package:
    """The step's package, built at most once per context (= per command), by one thread at
    a time (building is CPU work: nothing to gain from doing two at once)."""
    lock: threading.Lock = ctx.cache.setdefault(PACKAGE_LOCK_KEY, threading.Lock())
    with lock:
        packager = ctx.cache.get(PACKAGER_KEY)
        if packager is None:
            packager = ctx.cache[PACKAGER_KEY] = Packager()
        packages: dict[str, Package] = ctx.cache.setdefault(PACKAGES_KEY, {})
        if step not in packages:
            packages[step] = packager.build(step, ctx.settings)
        return packages[step]


def environment(ctx: Context) -> dict[str, str]:
    """The variables of every function (handlers/CONTRACT.md)."""
    return environment_variables(ctx.env, ctx.names, ctx.sandbox)


def environment_variables(env: str, names: Names, sandbox: bool = False) -> dict[str, str]:
    variables = {
        "ENVIRONMENT": env,
        "DYNAMODB_TABLE": names.table,
        "SNS_TOPIC": names.topic_arn,
        "MASTER_SECRET_ID": names.master_secret,
        "APP_SECRET_ID": names.app_secret,
        "DRILL_SECRET_ID": names.drill_secret,
        "MASKING_SECRET_ID": names.masking_secret,
    }
    if sandbox:
        variables[DB_MODE_ENV] = "skip"  # no database in the sandbox: DB steps say SKIPPED
    return variables


def configuration(
    settings: Settings, names: Names, step: str, sandbox: bool = False
) -> dict[str, Any]:
    """Every configuration field we own of the step's function, as
    update_function_configuration takes them."""
    lam = settings.lambda_
    # Only the functions that talk to the database go into the VPC: the others call AWS APIs
    # (RDS in the source region too), which a VPC function reaches only via NAT or endpoints.
    vpc = lam.vpc if step in database_steps() else None
    return {
        "Runtime": lam.runtime,
        "Handler": f"handlers.{step}.handler",
        "Role": names.role_arn("lambda"),
        "MemorySize": lam.memory_mb,
        "Timeout": lam.timeout_seconds,
        "Environment": {"Variables": environment_variables(settings.environment, names, sandbox)},
        "VpcConfig": {
            "SubnetIds": list(vpc.subnet_ids) if vpc else [],
            "SecurityGroupIds": list(vpc.security_group_ids) if vpc else [],
        },
    }


@dataclass(frozen=True)
class FunctionState:
    arn: str
    runtime: str
    handler: str
    role: str
    memory: int
    timeout: int
    architecture: str
    environment: dict[str, str]
    subnet_ids: frozenset[str]
    security_group_ids: frozenset[str]
    code_sha256: str
    tags: dict[str, str]
    settled: bool = True  # False: read from ListFunctions, an update may still be running


class Function(Resource[FunctionState]):
    kind = "Lambda function"

    def __init__(
        self,
        ctx: Context,
        name: str,
        step: str,
        listed: BulkRead[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(ctx, name)
        self.step = step
        self.listed = listed

    def arn(self) -> str:
        return self.ctx.names.function_arn(self.step)

    @property
    def lam(self) -> Any:
        return self.client("lambda")

    def bulk_reads(self) -> tuple[Loadable, ...]:
        return self.bulk_with_index(self.listed)

    def read(self) -> FunctionState | None:
        bulk, listed = self.listed.take(self.name) if self.listed else (False, None)
        if bulk:
            if listed is None:
                return None
            tags = self.indexed_tags(listed["FunctionArn"])
            if tags is None:
                tags = self.lam.list_tags(Resource=listed["FunctionArn"]).get("Tags") or {}
            return self._state(listed, tags, settled=False)
        try:
            found = self.lam.get_function(FunctionName=self.name)
        except self.lam.exceptions.ResourceNotFoundException:
            return None
        config = found["Configuration"]
        if config.get("State") == "Pending" or config.get("LastUpdateStatus") == "InProgress":
            self._settle()  # an interrupted create/update: compare what it became
            config = self.lam.get_function(FunctionName=self.name)["Configuration"]
        return self._state(config, found.get("Tags") or {}, settled=True)

    @staticmethod
    def _state(config: dict[str, Any], tags: dict[str, str], settled: bool) -> FunctionState:
        vpc = config.get("VpcConfig") or {}
        return FunctionState(
            arn=config["FunctionArn"],
            runtime=config.get("Runtime", ""),
            handler=config.get("Handler", ""),
            role=config["Role"],
            memory=config["MemorySize"],
            timeout=config["Timeout"],
            architecture=(config.get("Architectures") or ["x86_64"])[0],
            environment=dict((config.get("Environment") or {}).get("Variables") or {}),
            subnet_ids=frozenset(vpc.get("SubnetIds") or ()),
            security_group_ids=frozenset(vpc.get("SecurityGroupIds") or ()),
            code_sha256=config["CodeSha256"],
            tags=dict(tags),
            settled=settled,
        )

    def tags(self, current: FunctionState) -> dict[str, str]:
        return current.tags

    # --- desired state -------------------------------------------------------------------

    def package(self) -> Package:
        return package_for(self.ctx, self.step)

    def prepare(self) -> None:
        self.package()

    def _configuration(self) -> dict[str, Any]:
        """Every configuration field we own, as update_function_configuration takes them."""
        return configuration(self.ctx.settings, self.ctx.names, self.step, self.ctx.sandbox)

    @staticmethod
    def _actual(current: FunctionState) -> dict[str, Any]:
        """The configuration fields we own, as the function has them."""
        return {
            "Runtime": current.runtime,
            "Handler": current.handler,
            "Role": current.role,
            "MemorySize": current.memory,
            "Timeout": current.timeout,
            "Environment": {"Variables": current.environment},
            "VpcConfig": {"SubnetIds": sorted(current.subnet_ids),
                          "SecurityGroupIds": sorted(current.security_group_ids)},
        }

    def _configuration_differences(self, current: FunctionState) -> dict[str, Any]:
        desired = self._configuration()
        vpc = desired["VpcConfig"]
        actual = self._actual(current)
        changed = {k: v for k, v in desired.items()
                   if k in actual and k != "VpcConfig" and actual[k] != v}
        if (current.subnet_ids, current.security_group_ids) != (
            frozenset(vpc["SubnetIds"]),
            frozenset(vpc["SecurityGroupIds"]),
        ):
            changed["VpcConfig"] = vpc
        return changed

    def differences(self, current: FunctionState) -> list[str]:
        diffs = []
        if current.code_sha256 != self.package().sha256:
            diffs.append("code")
        if current.architecture != self.ctx.settings.lambda_.architecture:
            diffs.append("architecture")
        diffs.extend(FIELD_NAMES[k] for k in self._configuration_differences(current))
        if any(tag_differences(current.tags, self.ctx.tags())):
            diffs.append("tags")
        return diffs

    def values(self, current: FunctionState, differences: list[str]) -> list[Difference]:
        desired = self._configuration()
        actual = self._actual(current)
        found: list[Difference] = []
        if "code" in differences:
            found.append(scalar("code (CodeSha256)", current.code_sha256, self.package().sha256))
        if "architecture" in differences:
            found.append(scalar("architecture", current.architecture,
                                self.ctx.settings.lambda_.architecture))
        for key in self._configuration_differences(current):
            if key == "Environment":  # names of tables, topics, secrets: never a secret value
                found.append(document_diff("environment", current.environment,
                                      desired[key]["Variables"]))
            elif key == "VpcConfig":
                vpc = desired[key]
                found.append(document_diff("VPC", actual[key], {
                    "SubnetIds": sorted(vpc["SubnetIds"]),
                    "SecurityGroupIds": sorted(vpc["SecurityGroupIds"])}))
            else:
                found.append(scalar(FIELD_NAMES[key], actual[key], desired[key]))
        if "tags" in differences:
            found.append(tags_difference(current.tags, self.ctx.tags()))
        return found

    # --- changes -------------------------------------------------------------------------

    def create(self) -> None:
        config = self._configuration()
        if not config["VpcConfig"]["SubnetIds"]:
            del config["VpcConfig"]
        while_role_propagates(
            self.ctx,
            lambda: self.lam.create_function(
                FunctionName=self.name,
                Code={"ZipFile": self.package().data},
                Architectures=[self.ctx.settings.lambda_.architecture],
                PackageType="Zip",
                Publish=False,
                Tags=self.ctx.tags(),
                **config,
            ),
            self._not_ready,
        )
        self.lam.get_waiter("function_active_v2").wait(FunctionName=self.name, WaiterConfig=WAIT)

    def update(self, current: FunctionState, differences: list[str]) -> None:
        if not current.settled:
            self._settle()  # Lambda refuses a change while the last one is still running
        if "code" in differences or "architecture" in differences:
            # The architecture can only change together with the code.
            self.lam.update_function_code(
                FunctionName=self.name,
                ZipFile=self.package().data,
                Architectures=[self.ctx.settings.lambda_.architecture],
                Publish=False,
            )
            self._settle()
        changed = self._configuration_differences(current)
        if changed:
            while_role_propagates(
                self.ctx,
                lambda: self.lam.update_function_configuration(FunctionName=self.name, **changed),
                self._not_ready,
            )
            self._settle()
        if "tags" in differences:
            to_set, to_remove = tag_differences(current.tags, self.ctx.tags())
            if to_set:
                self.lam.tag_resource(Resource=current.arn, Tags=to_set)
            if to_remove:
                self.lam.untag_resource(Resource=current.arn, TagKeys=to_remove)

    def delete(self, current: FunctionState) -> None:
        self.lam.delete_function(FunctionName=self.name)

    # --- waiting -------------------------------------------------------------------------

    def _settle(self) -> None:
        """Until the function is Active and its last update finished (bounded)."""
        self.lam.get_waiter("function_active_v2").wait(FunctionName=self.name, WaiterConfig=WAIT)
        self.lam.get_waiter("function_updated_v2").wait(FunctionName=self.name, WaiterConfig=WAIT)

    def _not_ready(self, exc: BaseException) -> bool:
        return role_not_ready(exc, ("InvalidParameterValueException",), ROLE_NOT_READY)


class Retired(Resource[Any]):
    """Put first in the bases of a kind: what an earlier version deployed and this one does
    not (`handlers.RETIRED_FUNCTIONS`). Setup deletes it when it is ours; never created."""

    REASON = "retired: this version no longer runs this step"

    def prepare(self) -> None:
        pass  # nothing to build

    def differences(self, current: Any) -> list[str]:
        return [self.REASON]

    def create(self) -> None:
        pass  # only reached if it vanished after it was listed

    def update(self, current: Any, differences: list[str]) -> None:
        self.delete(current)


class RetiredFunction(Retired, Function):
    pass


class RetiredLogGroup(Retired, LogGroup):
    pass


FIELD_NAMES = {
    "Runtime": "runtime",
    "Handler": "handler",
    "Role": "role",
    "MemorySize": "memory",
    "Timeout": "timeout",
    "Environment": "environment",
    "VpcConfig": "VPC",
}
