"""The pipeline's own overhead, the target's downtime and the cost of one refresh.

Runs the real definition (definitions/pipeline.asl.json, rendered with the wait settings of a
config file, `config/dev.yaml` by default) on moto's Step Functions interpreter, with every
Lambda Task routed to our handlers in-process (tests/pipeline: support + moto_patches), on a
SIMULATED clock:

- RDS operations take the configured time: a snapshot copy is `copying`, a restored cluster
  `creating`, a new instance `creating`, a master password change `resetting-master-credentials`,
  settings parity's changes to the staging cluster `modifying`, a rename `renaming` (the old id keeps resolving until the rename is done, the new id appears
  then), a deleted cluster `deleting` (it disappears at the end) — measured on the clock, not
  on the wall.
- Wait states advance the clock instead of sleeping; every state costs `transition_ms`.
- A Lambda invocation costs `invoke_ms` (Step Functions ⇄ Lambda, not billed) plus its
  billed duration: `init_ms` on a cold start (first call of a function, or after `warm_s`
  idle), `base_ms`, and `api_ms` per AWS API call the handler makes (counted, not guessed).
  The database steps (run in skip mode here) add the configured SQL time to their duration.

Figures per strategy (swap, replace): total virtual duration; AWS-side work (the union of
the intervals of the operations the pipeline waits for, including the database steps' SQL);
overhead = total − work; the target's downtime (from the moment the target id no longer
resolves to an available cluster — the swap-out rename or the delete starts — to the moment
the new cluster is available under it) next to the renames' own durations; state transitions,
history events, Lambda invocations and GB-seconds; the cost of one refresh at list prices
(PRICES). `--json` prints one document instead of the table.

    .venv/bin/python bench/pipeline_timeline.py                # table
    .venv/bin/python bench/pipeline_timeline.py --json --copy-min 90 --strategy swap

`--paths [snapshot clone point_in_time]` compares the ways a refresh gets production's data
(docs/fast-paths.md) at `--sizes` (100 GB, 1 TB, 5 TB): a snapshot copied from another region
and restored, a copy-on-write clone and a point-in-time restore of a production cluster in the
target's region. The copy, restore, point-in-time and clone durations follow SIZE_MODELS (a
fixed part plus one per GB, each with its source and uncertainty, docs/performance.md
"Refresh paths"); the other steps keep the durations above. Per path and size: the time to a
refreshed target (the swap-in settled; its range from the models' uncertainty), the total,
the overhead, the target's downtime, and the cost of one refresh — Step Functions and Lambda
as above plus the AWS resources the run uses (DATA_PRICES: the copy's transfer across regions
and storage, the new cluster's storage — a clone's rewritten pages only — and instances while
the run lasts).

    .venv/bin/python bench/pipeline_timeline.py --paths                      # all, table
    .venv/bin/python bench/pipeline_timeline.py --paths clone --sizes 1000 --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import moto  # noqa: F401  (first: its botocore hook must exist before any session is made)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# us-east-1 list prices (USD), checked against aws.amazon.com/step-functions/pricing and
# aws.amazon.com/lambda/pricing. Lambda bills the INIT phase of on-demand ZIP functions
# since 2025-08-01, so cold starts are billed here.
PRICES = {
    "stepfunctions_standard_per_transition": 0.025 / 1000,
    "lambda_per_request": 0.20 / 1_000_000,
    "lambda_per_gb_second_arm64": 0.0000133334,
    "lambda_per_gb_second_x86_64": 0.0000166667,
}
TARGETS = {"overhead_pct": 3.0, "downtime_over_renames_s": 15.0, "cost_usd": 0.005}
STRATEGIES = ("swap", "replace")


@dataclass(frozen=True)
class Durations:
    """Seconds of AWS-side work per operation (instances are created in parallel)."""

    copy: float = 20 * 60
    restore: float = 25 * 60
    clone: float = 5 * 60  # a copy-on-write clone (RestoreDBClusterToPointInTime)
    pitr: float = 30 * 60  # a full-copy point-in-time restore
    instance: float = 12 * 60
    password: float = 60
    settings: float = 60  # settings parity: ModifyDBCluster applied at once, as the password
    rename: float = 2 * 60
    delete: float = 8 * 60
    users: float = 2
    sql: float = 2 * 60  # masking: the declared rules and the hand-written SQL
    scan: float = 10  # the PII gate's sample of every table
    quarantine: float = 5  # the quarantine rules (truncates, bounded updates) and checks
    verify: float = 5


@dataclass(frozen=True)
class LambdaModel:
    invoke_ms: float = 30
    base_ms: float = 40
    api_ms: float = 80
    init_ms: float = 600
    warm_s: float = 300
    transition_ms: float = 20
    memory_mb: int = 256
    architecture: str = "arm64"


DATABASE_WORK = {"reset_app_users": "users", "mask_data": "sql", "scan_pii": "scan",
                 "quarantine": "quarantine", "verify": "verify"}
POLL_CHECKS = ("check_copy", "check_restore", "check_rename", "check_delete", "check_settings")


# --- the simulated world --------------------------------------------------------------------


@dataclass
class Operation:
    kind: str  # copy | restore | instance | password | settings | rename | delete | users | sql | verify
    subject: str
    start: float
    end: float
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Invocation:
    step: str
    start: float
    end: float
    billed_ms: int
    cold: bool
    api_calls: int
    what: str = ""
    ready: bool | None = None


class Timeline:
    """The virtual clock and everything recorded on it."""

    def __init__(
        self, durations: Durations, model: LambdaModel, jitter: float = 0.0, seed: int = 1
    ) -> None:
        self.now = 0.0
        self.durations = durations
        self.model = model
        self.jitter = jitter
        self.random = random.Random(seed)
        self.operations: list[Operation] = []
        self.invocations: list[Invocation] = []
        self.last_call: dict[str, float] = {}  # step → virtual time its last invocation ended
        self.waited = 0.0
        self.entered: dict[str, float] = {}  # state → virtual time it was first entered

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def begin(self, kind: str, subject: str, nominal: float, **extra: str) -> Operation:
        """Start an operation lasting `nominal` seconds ± the jitter (drawn per operation, so
        durations are not aligned with any poll interval)."""
        seconds = nominal * (1 + self.random.uniform(-self.jitter, self.jitter))
        op = Operation(kind, subject, self.now, self.now + seconds, dict(extra))
        self.operations.append(op)
        return op


BUSY = {
    "copy": "copying",
    "restore": "creating",
    "clone": "creating",
    "instance": "creating",
    "password": "resetting-master-credentials",
    "settings": "modifying",
    "rename": "renaming",
    "delete": "deleting",
}


# ModifyDBCluster keys that are not settings parity's (waited for as `settings`).
NOT_SETTINGS = {"db_cluster_identifier", "apply_immediately", "deletion_protection",
                "master_user_password", "new_db_cluster_identifier"}


class SimulatedRds:
    """moto's RDS backend on the virtual clock: each operation is busy until its end, renames
    and deletions take effect then (moto would apply them at once)."""

    METHODS = (
        "copy_db_cluster_snapshot",
        "restore_db_cluster_from_snapshot",
        "restore_db_cluster_to_point_in_time",
        "create_db_instance",
        "modify_db_cluster",
        "delete_db_cluster",
        "describe_db_cluster_snapshots",
        "describe_db_clusters",
        "describe_db_instances",
    )

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.durations = timeline.durations
        self.original: dict[str, Any] = {}
        self.busy: dict[tuple[str, str], Operation] = {}  # (kind, id) → its latest operation
        self.pending: list[tuple[Any, Operation]] = []  # renames and deletions to apply later

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from moto.rds.models import RDSBackend

        self.original = {name: getattr(RDSBackend, name) for name in self.METHODS}
        for name in self.METHODS:
            setattr(RDSBackend, name, self._bound(name))
        try:
            yield
        finally:
            for name, method in self.original.items():
                setattr(RDSBackend, name, method)

    def _bound(self, name: str) -> Any:
        method = getattr(self, name)

        def patched(backend: Any, *args: Any, **kwargs: Any) -> Any:
            self._settle(backend)
            return method(backend, *args, **kwargs)

        return patched

    def _start(self, kind: str, key: str, subject: str, nominal: float, **extra: str) -> Operation:
        op = self.timeline.begin(kind, subject, nominal, **extra)
        self.busy[(key, subject)] = op
        return op

    def _status(self, key: str, subject: str) -> str | None:
        op = self.busy.get((key, subject))
        if op is None:
            return None
        return BUSY[op.kind] if self.timeline.now < op.end else "available"

    def _settle(self, backend: Any) -> None:
        due = [p for p in self.pending if p[0] is backend and p[1].end <= self.timeline.now]
        for item in due:
            self.pending.remove(item)
            op = item[1]
            if op.kind == "rename":
                change = {"db_cluster_identifier": op.subject, "apply_immediately": True}
                change["new_db_cluster_identifier"] = op.extra["to"]
                self.original["modify_db_cluster"](backend, change)
            else:
                final = op.extra.get("final_snapshot") or None
                self.original["delete_db_cluster"](backend, op.subject, final)
            self.busy.pop(("cluster", op.subject), None)

    def copy_db_cluster_snapshot(self, backend: Any, *args: Any, **kwargs: Any) -> Any:
        snapshot = self.original["copy_db_cluster_snapshot"](backend, *args, **kwargs)
        sid = snapshot.db_cluster_snapshot_identifier
        self._start("copy", "snapshot", sid, self.durations.copy)
        snapshot.status = BUSY["copy"]
        return snapshot

    def restore_db_cluster_from_snapshot(self, backend: Any, *args: Any, **kwargs: Any) -> Any:
        cluster = self.original["restore_db_cluster_from_snapshot"](backend, *args, **kwargs)
        self._start("restore", "cluster", cluster.db_cluster_identifier, self.durations.restore)
        cluster.status = BUSY["restore"]
        return cluster

    def restore_db_cluster_to_point_in_time(
        self, backend: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """A clone (copy-on-write) or a full-copy point-in-time restore of the source."""
        cluster = self.original["restore_db_cluster_to_point_in_time"](backend, *args, **kwargs)
        clone = kwargs.get("restore_type", args[2] if len(args) > 2 else "") == "copy-on-write"
        kind, nominal = ("clone", self.durations.clone) if clone else ("restore", self.durations.pitr)
        self._start(kind, "cluster", cluster.db_cluster_identifier, nominal)
        cluster.status = BUSY[kind]
        return cluster

    def create_db_instance(self, backend: Any, db_kwargs: dict[str, Any]) -> Any:
        instance = self.original["create_db_instance"](backend, db_kwargs)
        cluster = str(db_kwargs.get("db_cluster_identifier"))
        iid = instance.db_instance_identifier
        self._start("instance", "instance", iid, self.durations.instance, cluster=cluster)
        instance.status = BUSY["instance"]
        return instance

    def modify_db_cluster(self, backend: Any, kwargs: dict[str, Any]) -> Any:
        old, new = kwargs["db_cluster_identifier"], kwargs.get("new_db_cluster_identifier")
        if not new or new == old:
            password = bool(kwargs.get("master_user_password"))
            parity = bool(set(kwargs) - NOT_SETTINGS)  # read first: the sandbox's patch pops
            result = self.original["modify_db_cluster"](backend, kwargs)
            if password:
                self._start("password", "cluster", old, self.durations.password)
            elif parity:  # settings parity's changes (not deletion protection)
                self._start("settings", "cluster", old, self.durations.settings)
            return result
        rest = {k: v for k, v in kwargs.items() if k != "new_db_cluster_identifier"}
        result = self.original["modify_db_cluster"](backend, rest)
        op = self._start("rename", "cluster", old, self.durations.rename, to=new)
        op.extra["from"] = old
        self.pending.append((backend, op))
        result.status = backend.clusters[old].status = BUSY["rename"]
        return result

    def delete_db_cluster(
        self, backend: Any, cluster_identifier: str, snapshot_name: Any = None
    ) -> Any:
        cluster = backend.clusters.get(cluster_identifier)
        if cluster is None or cluster.members or cluster.deletion_protection:
            return self.original["delete_db_cluster"](backend, cluster_identifier, snapshot_name)
        final = snapshot_name or ""
        op = self._start(
            "delete", "cluster", cluster_identifier, self.durations.delete, final_snapshot=final
        )
        self.pending.append((backend, op))
        cluster.status = BUSY["delete"]
        return cluster

    def describe_db_cluster_snapshots(self, backend: Any, *args: Any, **kwargs: Any) -> Any:
        found = self.original["describe_db_cluster_snapshots"](backend, *args, **kwargs)
        for snapshot in found:
            snapshot.status = (
                self._status("snapshot", snapshot.db_cluster_snapshot_identifier) or snapshot.status
            )
        return found

    def describe_db_clusters(self, backend: Any, *args: Any, **kwargs: Any) -> Any:
        found = self.original["describe_db_clusters"](backend, *args, **kwargs)
        for cluster in found:
            cluster.status = (
                self._status("cluster", cluster.db_cluster_identifier) or cluster.status
            )
        return found

    def describe_db_instances(self, backend: Any, *args: Any, **kwargs: Any) -> Any:
        found = self.original["describe_db_instances"](backend, *args, **kwargs)
        for instance in found:
            instance.status = (
                self._status("instance", instance.db_instance_identifier) or instance.status
            )
        return found


class SimulatedRuntime:
    """Step Functions and Lambda on the virtual clock: Wait states advance it, every state
    costs a transition, every Lambda invocation its modelled duration (recorded for billing)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.model = timeline.model
        self.local = threading.local()
        self.saved: dict[str, Any] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import botocore.client
        from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
            wait_function,
        )

        from aurora_restore_cli.sandbox import lambda_router

        targets = (
            (wait_function.WaitFunction, "_wait_interval", self._wait_interval),
            (CommonStateField, "_eval_body", self._eval_state),
            (lambda_router, "call", self._call),
            (botocore.client.BaseClient, "_make_api_call", self._make_api_call),
        )
        for owner, name, replacement in targets:
            self.saved[name] = getattr(owner, name)
            setattr(owner, name, replacement)
        try:
            yield
        finally:
            for owner, name, _ in targets:
                setattr(owner, name, self.saved[name])

    @property
    def _wait_interval(self) -> Any:
        def wait_interval(state: Any, env: Any, wait_seconds: int) -> None:
            self.timeline.waited += wait_seconds
            self.timeline.advance(wait_seconds)

        return wait_interval

    @property
    def _eval_state(self) -> Any:
        def eval_body(state: Any, env: Any) -> None:
            self.timeline.entered.setdefault(str(getattr(state, "name", "")), self.timeline.now)
            self.timeline.advance(self.model.transition_ms / 1000)
            self.saved["_eval_body"](state, env)

        return eval_body

    @property
    def _make_api_call(self) -> Any:
        def make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
            if getattr(self.local, "counting", False):
                self.local.calls += 1
                self.timeline.advance(self.model.api_ms / 1000)
            return self.saved["_make_api_call"](client, operation_name, api_params)

        return make_api_call

    def _call(
        self, function: Any, module_name: str, attribute: str, event: Any
    ) -> tuple[str, bool]:
        timeline, model = self.timeline, self.model
        step = module_name.rsplit(".", 1)[-1]
        timeline.advance(model.invoke_ms / 2000)
        start = timeline.now
        last = timeline.last_call.get(step)
        cold = last is None or start - last > model.warm_s
        timeline.advance(((model.init_ms if cold else 0) + model.base_ms) / 1000)
        self.local.counting, self.local.calls = True, 0
        try:
            payload, failed = self.saved["call"](function, module_name, attribute, event)
        finally:
            self.local.counting = False
        work = DATABASE_WORK.get(step)
        if work and not failed:
            op = timeline.begin(work, step, float(getattr(timeline.durations, work)))
            timeline.advance(op.end - op.start)
        end = timeline.now
        timeline.last_call[step] = end
        invocation = Invocation(
            step, start, end, math.ceil((end - start) * 1000), cold, self.local.calls
        )
        if step in POLL_CHECKS and not failed:
            poll = json.loads(payload).get("poll") or {}
            invocation.what, invocation.ready = str(poll.get("what")), bool(poll.get("ready"))
        timeline.invocations.append(invocation)
        timeline.advance(model.invoke_ms / 2000)
        return payload, failed


@contextlib.contextmanager
def simulated(timeline: Timeline) -> Iterator[None]:
    """moto's RDS, Step Functions interpreter and the Lambda router on the virtual clock.
    Applied inside tests/pipeline/moto_patches.patched_moto (whose RDS fixes it builds on)."""
    with SimulatedRds(timeline).installed(), SimulatedRuntime(timeline).installed():
        yield


# --- one run --------------------------------------------------------------------------------


def pipeline_values(config_dir: Path, env: str) -> tuple[dict[str, Any], Any]:
    """The non-function placeholder values (waits, bounds, timeout) the CLI would render for
    this config, and the config itself."""
    from aurora_restore_cli.config.load import load_settings
    from aurora_restore_cli.contract import definition
    from aurora_restore_cli.contract.naming import Names
    from aurora_restore_cli.contract.pipeline_settings import definition_values
    from tests.pipeline import support

    settings = load_settings(config_dir, env)
    names = Names(support.ENV, support.REGION, support.ACCOUNT)
    values = definition_values(settings, names)
    functions = {definition.function_arn_placeholder(step) for step in _steps()}
    return {k: v for k, v in values.items() if k not in functions | {"Settings"}}, settings


def _steps() -> tuple[str, ...]:
    from handlers import STEPS

    return STEPS


def run_strategy(
    strategy: str,
    values: dict[str, Any],
    durations: Durations,
    model: LambdaModel,
    jitter: float = 0.0,
    seed: int = 1,
    path: str = "snapshot",
    timeline: Timeline | None = None,
) -> dict[str, Any]:
    """One execution of the pipeline with `strategy` on the simulated clock; `path`: how it
    gets production's data (a snapshot copied from another region, or a clone / a
    point-in-time restore of a production cluster in the target's region)."""
    from moto import mock_aws

    from aurora_restore_cli.sandbox import lambda_router
    from tests.pipeline import support
    from tests.pipeline.moto_patches import patched_moto

    timeline = timeline or Timeline(durations, model, jitter, seed)
    wall = time.monotonic()
    with (
        mock_aws(config=support.MOTO_CONFIG),
        patched_moto(),
        lambda_router.routing(),
        _environment(FAKE_AWS),
    ):
        world = support.build_world(strategy=strategy)
        settings = None if path == "snapshot" else support.path_settings(world, path, strategy=strategy)
        # Handlers read their function's environment (the router applies it per call); the
        # test support reads some of it from the process environment too.
        with _environment(dict(support.lambda_environment(world))):
            machine = support.deploy(world, overrides=values, settings=settings)
            name = f"timeline-{strategy}" if path == "snapshot" else f"timeline-{strategy}-{path}"
            with simulated(timeline):
                execution = support.run(machine, name, timeout=600)
            if execution["status"] != "SUCCEEDED":
                raise SystemExit(
                    f"{strategy}: the execution ended {execution['status']}: "
                    f"{execution.get('error')} {execution.get('cause')}"
                )
            events = _all_events(execution["executionArn"])
    return _figures(strategy, timeline, execution, events, time.monotonic() - wall)


# Fake credentials and no profile/endpoint: whatever the shell has, nothing reaches AWS.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_PROFILE": None,
    "AWS_ENDPOINT_URL": None,
    "AWS_SESSION_TOKEN": None,
}


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the block."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _all_events(execution_arn: str) -> list[dict[str, Any]]:
    from tests.pipeline import support

    sfn = support.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def _downtime(strategy: str, timeline: Timeline, target: str) -> tuple[float, float]:
    """(downtime, renames' own durations) for the target id."""
    ops = timeline.operations
    renames = [op for op in ops if op.kind == "rename"]
    renames_s = sum(op.end - op.start for op in renames)
    if strategy == "swap":
        out = next(op for op in renames if op.extra["from"] == target)
        into = next(op for op in renames if op.extra["to"] == target)
        return into.end - out.start, renames_s
    gone = next(op for op in ops if op.kind == "delete" and op.subject == target)
    back = [op.end for op in ops if op.kind in ("restore", "clone") and op.subject == target]
    back += [op.end for op in ops if op.kind == "instance" and op.extra.get("cluster") == target]
    return max(back) - gone.start, renames_s


_AWAITED_BY = {
    "copy": ("copy",),
    "clone": ("clone",),
    "delete": ("delete",),
    "restore": ("restore",),
    "instances": ("instance",),
    "password": ("password",),
    "settings": ("settings",),
    "swap-out": ("rename",),
    "swap-in": ("rename",),
}


def _loops(timeline: Timeline) -> list[dict[str, Any]]:
    """Per wait loop: checks made, and how long after the awaited operation ended the loop
    noticed (the polling lag)."""
    loops: list[dict[str, Any]] = []
    for invocation in timeline.invocations:
        if not invocation.what:
            continue
        if not loops or loops[-1]["what"] != invocation.what or loops[-1]["done"]:
            loops.append({"what": invocation.what, "checks": 0, "done": False, "seen": 0.0})
        loop = loops[-1]
        loop["checks"] += 1
        if invocation.ready:
            loop["done"], loop["seen"] = True, invocation.end
    result = []
    for loop in loops:
        kinds = _AWAITED_BY.get(loop["what"], ())
        ended = [
            op.end for op in timeline.operations if op.kind in kinds and op.end <= loop["seen"]
        ]
        lag = loop["seen"] - max(ended) if ended else 0.0
        result.append({"what": loop["what"], "checks": loop["checks"], "lag_s": round(lag, 1)})
    return result


def _figures(
    strategy: str,
    timeline: Timeline,
    execution: dict[str, Any],
    events: list[dict[str, Any]],
    wall_s: float,
) -> dict[str, Any]:
    from tests.pipeline import support

    model = timeline.model
    total = timeline.now
    awaited = [(op.start, op.end) for op in timeline.operations if op.end <= total]
    aws_s = _union_seconds(awaited)
    overhead = total - aws_s
    downtime, renames_s = _downtime(strategy, timeline, support.TARGET)
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    invocations = len(timeline.invocations)
    gb_s = sum(i.billed_ms for i in timeline.invocations) / 1000 * model.memory_mb / 1024
    cost = {
        "transitions_usd": transitions * PRICES["stepfunctions_standard_per_transition"],
        "lambda_requests_usd": invocations * PRICES["lambda_per_request"],
        "lambda_duration_usd": gb_s * PRICES[f"lambda_per_gb_second_{model.architecture}"],
    }
    # The target serves the refreshed, verified data: the swap-in settled (the old cluster's
    # delete comes after), or — replace — the run reached Finalize.
    refreshed = timeline.entered.get("DeleteOldCluster", timeline.entered.get("Finalize", total))
    return {
        "status": execution["status"],
        "refreshed_s": round(refreshed, 1),
        "total_s": round(total, 1),
        "aws_s": round(aws_s, 1),
        "overhead_s": round(overhead, 1),
        "overhead_pct": round(100 * overhead / aws_s, 2),
        "downtime_s": round(downtime, 1),
        "renames_s": round(renames_s, 1),
        "waited_s": round(timeline.waited, 1),
        "transitions": transitions,
        "history_events": len(events),
        "lambda_invocations": invocations,
        "lambda_cold_starts": sum(1 for i in timeline.invocations if i.cold),
        "lambda_gb_s": round(gb_s, 3),
        "cost_usd": round(sum(cost.values()), 7),
        "cost_breakdown_usd": {k: round(v, 9) for k, v in cost.items()},
        "loops": _loops(timeline),
        "wall_s": round(wall_s, 2),
    }


MEANS = (
    "refreshed_s",
    "total_s",
    "aws_s",
    "overhead_s",
    "downtime_s",
    "renames_s",
    "waited_s",
    "transitions",
    "history_events",
    "lambda_invocations",
    "lambda_cold_starts",
    "lambda_gb_s",
)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the runs (costs and ratios recomputed from the means, so the document is
    internally consistent), the worst downtime, and each run's headline figures."""
    summary: dict[str, Any] = {
        "status": ",".join(sorted({r["status"] for r in runs})),
        "runs": len(runs),
    }
    for key in MEANS:
        summary[key] = round(statistics.fmean(r[key] for r in runs), 3)
    summary["overhead_pct"] = round(100 * summary["overhead_s"] / summary["aws_s"], 2)
    summary["downtime_max_s"] = max(r["downtime_s"] for r in runs)
    # The swap target: downtime ≤ the renames' own durations + 15 s, in every run.
    summary["downtime_over_renames_max_s"] = round(
        max(r["downtime_s"] - r["renames_s"] for r in runs), 1
    )
    breakdown = {
        key: round(statistics.fmean(r["cost_breakdown_usd"][key] for r in runs), 9)
        for key in runs[0]["cost_breakdown_usd"]
    }
    summary["cost_usd"] = round(sum(breakdown.values()), 7)
    summary["cost_breakdown_usd"] = breakdown
    loops = runs[0]["loops"]
    summary["loops"] = [
        {
            "what": loop["what"],
            "checks": round(statistics.fmean(r["loops"][i]["checks"] for r in runs), 1),
            "lag_s": round(statistics.fmean(r["loops"][i]["lag_s"] for r in runs), 1),
        }
        for i, loop in enumerate(loops)
    ]
    summary["wall_s"] = round(sum(r["wall_s"] for r in runs), 2)
    summary["each_run"] = [
        {
            k: r[k]
            for k in (
                "total_s",
                "overhead_pct",
                "downtime_s",
                "renames_s",
                "transitions",
                "cost_usd",
            )
        }
        for r in runs
    ]
    return summary


# --- the refresh paths at 100 GB, 1 TB, 5 TB (issue 18; docs/performance.md) -----------------

PATHS = ("snapshot", "clone", "point_in_time")
SIZES_GB = (100, 1000, 5000)
PATH_TARGETS = {"clone_1tb_refreshed_min": 20.0, "overhead_pct": 3.0}


@dataclass(frozen=True)
class SizeModel:
    """Seconds an RDS operation takes on a cluster of `gb` GB: `fixed` + `per_gb` × gb, known
    only to ± `uncertainty` (a fraction). `source` says where the figures come from."""

    fixed: float
    per_gb: float
    uncertainty: float
    source: str

    def seconds(self, gb: float) -> float:
        return self.fixed + self.per_gb * gb


# AWS publishes no durations for these operations; each model and why it is what it is is in
# docs/performance.md ("Refresh paths"). The shared steps (instances, password, renames,
# masking, deletes) keep Durations' defaults: they do not depend on the path.
SIZE_MODELS = {
    # cross-region CopyDBClusterSnapshot: a full copy at ~170 MB/s after ~10 min of set-up
    "copy": SizeModel(600, 6.0, 0.5, "RDS User Guide 'Copying a DB cluster snapshot' (time "
                      "depends on size, region pair, load); field reports of 1-3 h per TB"),
    # RestoreDBClusterFromSnapshot: Aurora's volume is restored lazily from S3
    "restore": SizeModel(600, 1.2, 0.5, "Aurora User Guide 'Restoring from a DB cluster "
                         "snapshot'; field reports of 15-40 min at 1 TB"),
    # RestoreDBClusterToPointInTime full-copy: a restore plus the log replayed to the time
    "pitr": SizeModel(900, 1.3, 0.6, "Aurora User Guide 'Restoring a DB cluster to a specified "
                      "time' (restore + log apply); as restore, plus replay"),
    # RestoreDBClusterToPointInTime copy-on-write: metadata only, pages shared
    "clone": SizeModel(240, 0.06, 0.6, "Aurora User Guide 'Cloning a volume' ('faster and "
                       "more space-efficient than restoring a snapshot'); minutes at any size"),
}
# us-east-1 list prices (USD) of what a refresh keeps running or moves while it runs.
DATA_PRICES = {
    "inter_region_transfer_per_gb": 0.02,  # RDS snapshot copy between regions
    "backup_storage_per_gb_month": 0.021,  # the copied snapshot while it exists
    "aurora_storage_per_gb_month": 0.10,  # Aurora Standard storage of the new cluster
    "instance_per_hour": 0.26,  # db.r6g.large Aurora PostgreSQL on demand
}
CLONE_CHANGED_FRACTION = 0.05  # pages a clone rewrites during the run (masking), of its size
HOURS_PER_MONTH = 730


def durations_for(path: str, gb: float, shared: Durations) -> Durations:
    from dataclasses import replace

    return replace(
        shared,
        copy=SIZE_MODELS["copy"].seconds(gb),
        restore=SIZE_MODELS["restore"].seconds(gb),
        pitr=SIZE_MODELS["pitr"].seconds(gb),
        clone=SIZE_MODELS["clone"].seconds(gb),
    )


def data_cost(path: str, gb: float, run: dict[str, Any], operations: list[Operation]) -> dict[str, float]:
    """What the run itself costs in AWS resources (besides Step Functions and Lambda): the
    snapshot copy across regions and its storage while it lives; the new cluster's storage
    and instances until the run ends (a clone stores only the pages it rewrites)."""
    end = float(run["total_s"])
    cost: dict[str, float] = {}
    if path == "snapshot":
        cost["transfer_usd"] = gb * DATA_PRICES["inter_region_transfer_per_gb"]
        copies = [op for op in operations if op.kind == "copy"]
        hours = sum(end - op.start for op in copies) / 3600
        cost["copy_storage_usd"] = (
            gb * DATA_PRICES["backup_storage_per_gb_month"] * hours / HOURS_PER_MONTH
        )
    made = [op for op in operations if op.kind in ("restore", "clone")]
    hours = sum(end - op.start for op in made) / 3600
    stored = gb * (CLONE_CHANGED_FRACTION if path == "clone" else 1.0)
    cost["new_cluster_storage_usd"] = (
        stored * DATA_PRICES["aurora_storage_per_gb_month"] * hours / HOURS_PER_MONTH
    )
    instances = [op for op in operations if op.kind == "instance"]
    cost["instances_usd"] = (
        sum(end - op.start for op in instances) / 3600 * DATA_PRICES["instance_per_hour"]
    )
    return {k: round(v, 4) for k, v in cost.items()}


def run_paths(
    values: dict[str, Any],
    shared: Durations,
    model: LambdaModel,
    strategy: str,
    paths: tuple[str, ...],
    sizes: tuple[int, ...],
    runs: int,
    jitter: float,
    seed: int,
    tune: bool = True,
) -> dict[str, Any]:
    """Every path at every size: time to a refreshed target, downtime, overhead, cost.
    `tune`: each size runs with the size-dependent loops' first check at ~85% of the
    operation's usual duration, as the config's comment says to set `first_seconds` (else the
    config's own waits, tuned for a few hundred GB)."""
    found: dict[str, Any] = {}
    for path in paths:
        for gb in sizes:
            durations = durations_for(path, gb, shared)
            tuned = tuned_waits(values, path, durations) if tune else values
            each = []
            for i in range(runs):
                timeline = Timeline(durations, model, jitter, seed + i)
                figures = run_strategy(strategy, tuned, durations, model, path=path,
                                       timeline=timeline)
                figures["data_cost_usd"] = data_cost(path, gb, figures, timeline.operations)
                each.append(figures)
            summary = summarise(each)
            data = {
                key: round(statistics.fmean(r["data_cost_usd"].get(key, 0.0) for r in each), 4)
                for key in each[0]["data_cost_usd"]
            }
            summary["data_cost_usd"] = data
            summary["cost_per_refresh_usd"] = round(summary["cost_usd"] + sum(data.values()), 4)
            bound = _bounds(path, gb, shared)
            summary["refreshed_range_s"] = [round(summary["refreshed_s"] - bound, 1),
                                            round(summary["refreshed_s"] + bound, 1)]
            found.setdefault(path, {})[str(gb)] = summary
    return found


TUNED_SHARE = 0.85  # the config's advice: first check at ~85% of the usual duration


def tuned_waits(values: dict[str, Any], path: str, durations: Durations) -> dict[str, Any]:
    """The rendered `${Pipeline}` with every loop's `first_seconds` at TUNED_SHARE of the
    duration it waits for at this size (`max_polls` recomputed by the handlers' schedule, as
    the CLI does; `max_seconds` kept)."""
    import copy as copying

    from handlers.lib import polling

    tuned = copying.deepcopy(values)
    pipeline = tuned["Pipeline"]
    growth = int(pipeline["poll_growth_percent"])
    restore = durations.pitr if path == "point_in_time" else durations.restore
    for loop, seconds in (("copy", durations.copy), ("clone", durations.clone),
                          ("restore", restore), ("instances", durations.instance),
                          ("password", durations.password), ("settings", durations.settings),
                          ("rename", durations.rename),
                          ("delete", durations.delete)):
        wait = pipeline["waits"][loop]
        wait["first_seconds"] = min(int(seconds * TUNED_SHARE), wait["max_seconds"])
        wait["max_polls"], _ = polling.checks_within(
            wait["first_seconds"], wait["poll_seconds"], growth, wait["max_seconds"]
        )
    return tuned


def _bounds(path: str, gb: float, shared: Durations) -> float:
    """± seconds on the time to a refreshed target from the path's own model uncertainty."""
    keys = {"snapshot": ("copy", "restore"), "clone": ("clone",), "point_in_time": ("pitr",)}
    return sum(SIZE_MODELS[k].seconds(gb) * SIZE_MODELS[k].uncertainty for k in keys[path])


def paths_table(document: dict[str, Any]) -> str:
    header = ("path", "size", "refreshed (±model)", "total", "overhead", "downtime",
              "cost/refresh", "of which data")
    rows = [header]
    for path, by_size in document["paths"].items():
        for size, s in by_size.items():
            low, high = s["refreshed_range_s"]
            data = sum(s["data_cost_usd"].values())
            rows.append((
                path,
                f"{int(size) // 1000} TB" if int(size) >= 1000 else f"{size} GB",
                f"{_duration(s['refreshed_s'])} ({_duration(max(low, 0))}–{_duration(high)})",
                _duration(s["total_s"]),
                f"{s['overhead_pct']:.2f}%",
                _duration(s["downtime_s"]),
                f"${s['cost_per_refresh_usd']:.2f}",
                f"${data:.2f}",
            ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    goals = document["goals"]
    lines += ["", "goals: " + "; ".join(f"{k} {'met' if v['met'] else 'NOT met'} ({v['value']})"
                                        for k, v in goals.items())]
    lines.append("models (s = fixed + per_gb × GB, ±uncertainty): " + "; ".join(
        f"{k} {m.fixed:g}+{m.per_gb:g}/GB ±{m.uncertainty:.0%}" for k, m in SIZE_MODELS.items()))
    return "\n".join(lines)


def path_goals(found: dict[str, Any]) -> dict[str, Any]:
    clone = (found.get("clone") or {}).get("1000")
    worst = max(s["overhead_pct"] for by_size in found.values() for s in by_size.values())
    goals = {
        "overhead_pct_max": {"value": worst, "met": worst <= PATH_TARGETS["overhead_pct"]},
    }
    if clone is not None:
        minutes = round(clone["refreshed_s"] / 60, 1)
        goals["clone_1tb_refreshed_min"] = {
            "value": minutes, "met": minutes <= PATH_TARGETS["clone_1tb_refreshed_min"],
        }
    return goals


# --- output ---------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def table(document: dict[str, Any]) -> str:
    strategies = document["strategies"]
    names = list(strategies)
    rows: list[tuple[str, ...]] = []

    def row(label: str, render: Any) -> None:
        rows.append((label, *(render(strategies[n]) for n in names)))

    row("status", lambda s: s["status"])
    row("total (virtual)", lambda s: _duration(s["total_s"]))
    row("AWS-side work", lambda s: _duration(s["aws_s"]))
    row("overhead", lambda s: f"{_duration(s['overhead_s'])} ({s['overhead_pct']:.2f}%)")
    row(
        "target downtime (worst)",
        lambda s: f"{_duration(s['downtime_s'])} ({_duration(s['downtime_max_s'])})",
    )
    row("renames' own durations", lambda s: _duration(s["renames_s"]))
    row("downtime − renames (worst)", lambda s: f"{s['downtime_over_renames_max_s']:g}s")
    row("state transitions", lambda s: str(s["transitions"]))
    row("history events", lambda s: str(s["history_events"]))
    row(
        "Lambda invocations (cold)",
        lambda s: f"{s['lambda_invocations']} ({s['lambda_cold_starts']})",
    )
    row("Lambda GB-seconds", lambda s: f"{s['lambda_gb_s']:.2f}")
    row("cost per refresh", lambda s: f"${s['cost_usd']:.5f}")
    row(
        "checks per wait loop",
        lambda s: " ".join(f"{lp['what']}:{lp['checks']}" for lp in s["loops"]),
    )
    row(
        "polling lag per loop (s)",
        lambda s: " ".join(f"{lp['what']}:{lp['lag_s']:g}" for lp in s["loops"]),
    )
    row("bench wall time", lambda s: f"{s['wall_s']:.1f}s")
    widths = [max(len(r[i]) for r in [("", *names), *rows]) for i in range(len(names) + 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(("", *names), widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    params = document["parameters"]
    lines.append("")
    lines.append(
        f"means of {params['runs']} runs per strategy; durations (s, ±{params['jitter_pct']:g}% "
        "per operation): "
        + ", ".join(f"{k} {v:g}" for k, v in params["durations_s"].items())
        + f"; config {params['config']}"
    )
    lines.append(
        "Lambda model: "
        + ", ".join(f"{k} {v}" for k, v in params["lambda_model"].items())
        + "; prices: "
        + ", ".join(f"{k} {v:.10g}" for k, v in PRICES.items())
    )
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--config-dir", type=Path, default=ROOT / "config")
    parser.add_argument("--env", default="dev", help="the config whose pipeline block is used")
    parser.add_argument("--strategy", choices=[*STRATEGIES, "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="runs per strategy (figures: means)")
    parser.add_argument(
        "--jitter", type=float, default=10.0, help="± percent drawn per operation (10)"
    )
    parser.add_argument("--seed", type=int, default=1, help="run i uses seed+i")
    parser.add_argument(
        "--paths",
        nargs="*",
        choices=PATHS,
        metavar="PATH",
        help="compare the refresh paths (snapshot clone point_in_time; none named: all) at "
        "--sizes, with the size models of docs/performance.md; --strategy swap by default",
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES_GB), metavar="GB",
        help="cluster sizes for --paths (100 1000 5000)",
    )
    parser.add_argument(
        "--untuned", action="store_true",
        help="--paths: keep the config's first_seconds at every size (default: every loop's "
        "first check at ~85%% of the duration it waits for)",
    )
    defaults = Durations()
    for name in ("copy", "restore", "instance", "password", "settings", "rename", "delete",
                 "sql"):
        parser.add_argument(
            f"--{name}-min",
            type=float,
            default=getattr(defaults, name) / 60,
            help=f"minutes ({getattr(defaults, name) / 60:g})",
        )
    model_defaults = LambdaModel()
    for name in ("invoke_ms", "base_ms", "api_ms", "init_ms", "transition_ms", "warm_s"):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=float, default=getattr(model_defaults, name)
        )
    args = parser.parse_args(argv)
    durations = Durations(
        **{
            name: getattr(args, f"{name}_min") * 60
            for name in ("copy", "restore", "instance", "password", "settings", "rename",
                         "delete", "sql")
        }
    )
    values, settings = pipeline_values(args.config_dir, args.env)
    model = LambdaModel(
        **{
            name: getattr(args, name)
            for name in ("invoke_ms", "base_ms", "api_ms", "init_ms", "transition_ms", "warm_s")
        },
        memory_mb=settings.lambda_.memory_mb,
        architecture=settings.lambda_.architecture,
    )
    if args.paths is not None:
        return _paths_main(args, values, durations, model)
    chosen = STRATEGIES if args.strategy == "both" else (args.strategy,)
    document = {
        "machine": _machine(),
        "parameters": {
            "config": str(args.config_dir / f"{args.env}.yaml"),
            "durations_s": asdict(durations),
            "lambda_model": asdict(model),
            "runs": args.runs,
            "jitter_pct": args.jitter,
            "seed": args.seed,
            "rendered": values,
        },
        "prices_usd": PRICES,
        "targets": TARGETS,
        "strategies": {
            s: summarise(
                [
                    run_strategy(s, values, durations, model, args.jitter / 100, args.seed + i)
                    for i in range(args.runs)
                ]
            )
            for s in chosen
        },
    }
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=False))
    else:
        print(table(document))
    return 0


def _paths_main(
    args: argparse.Namespace, values: dict[str, Any], shared: Durations, model: LambdaModel
) -> int:
    strategy = "swap" if args.strategy == "both" else args.strategy
    paths = tuple(args.paths) or PATHS
    found = run_paths(values, shared, model, strategy, paths, tuple(args.sizes), args.runs,
                      args.jitter / 100, args.seed, tune=not args.untuned)
    document = {
        "machine": _machine(),
        "parameters": {
            "config": str(args.config_dir / f"{args.env}.yaml"),
            "strategy": strategy,
            "sizes_gb": list(args.sizes),
            "shared_durations_s": asdict(shared),
            "size_models": {k: asdict(m) for k, m in SIZE_MODELS.items()},
            "clone_changed_fraction": CLONE_CHANGED_FRACTION,
            "waits_tuned_per_size": not args.untuned,
            "lambda_model": asdict(model),
            "runs": args.runs,
            "jitter_pct": args.jitter,
            "seed": args.seed,
        },
        "prices_usd": {**PRICES, **DATA_PRICES},
        "targets": PATH_TARGETS,
        "paths": found,
        "goals": path_goals(found),
    }
    if args.json:
        print(json.dumps(document, indent=2, sort_keys=False))
    else:
        print(paths_table(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
