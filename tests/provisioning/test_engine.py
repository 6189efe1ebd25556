"""The engine's scheduling with stand-in resources (no AWS): the real steps' DEPENDS_ON decide
the order, work runs concurrently, the report keeps its order, a failure skips exactly what
depends on it and the report says what was done.

The stand-ins live in a dict ("the world"), take a random moment for every call (so work
finishes out of order) and log when each create/delete started and ended.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_restore_cli.contract.naming import managed_tags
from aurora_restore_cli.provisioning import engine
from aurora_restore_cli.resources import depends_on
from aurora_restore_cli.resources.base.changes import Action
from aurora_restore_cli.resources.base.resource import Context, Resource

from ..conftest import make_context

# A walk over these steps, with these stand-ins per step (real step names: real DEPENDS_ON).
LAYOUT = {
    "roles": ["role-a", "role-b", "role-c"],
    "table": ["table"],
    "topic": ["topic"],
    "lambdas": [f"function-{i}" for i in range(6)],
    "state-machine": ["sm-log-group", "state-machine"],
    "alarms": [f"alarm-{i}" for i in range(5)],
}
STEPS = list(LAYOUT)


class World:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}
        self.clock = 0
        self.started: dict[tuple[str, str], int] = {}
        self.ended: dict[tuple[str, str], int] = {}
        self.in_flight = self.most_in_flight = 0
        self.broken: set[tuple[str, str]] = set()  # (operation, name) that fail

    def call(self, operation: str, name: str) -> None:
        with self.lock:
            delay = self.rng.uniform(0, 0.01)
            self.clock += 1
            self.started[(operation, name)] = self.clock
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(delay)
        with self.lock:
            self.clock += 1
            self.ended[(operation, name)] = self.clock
            self.in_flight -= 1
        if (operation, name) in self.broken:
            raise ClientError({"Error": {"Code": "Boom", "Message": f"{name} broke"}}, operation)


class StandIn(Resource[dict[str, Any]]):
    kind = "stand-in"

    def __init__(self, ctx: Context, name: str, world: World) -> None:
        super().__init__(ctx, name)
        self.world = world

    def read(self) -> dict[str, Any] | None:
        self.world.call("read", self.name)
        return self.world.items.get(self.name)

    def tags(self, current: dict[str, Any]) -> dict[str, str]:
        return dict(current["tags"])

    def differences(self, current: dict[str, Any]) -> list[str]:
        return [] if current["version"] == 2 else ["version"]

    def create(self) -> None:
        self.world.call("create", self.name)
        self.world.items[self.name] = {"version": 2, "tags": managed_tags(self.ctx.env)}

    def update(self, current: dict[str, Any], differences: list[str]) -> None:
        self.world.call("update", self.name)
        self.world.items[self.name]["version"] = 2

    def delete(self, current: dict[str, Any]) -> None:
        self.world.call("delete", self.name)
        del self.world.items[self.name]


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Stand-ins for the steps of LAYOUT (moto behind, so the tag index call stays local)."""
    the_world = World(seed=1)

    def step_resources(step: str, ctx: Context) -> list[Resource[Any]]:
        made = {name: StandIn(ctx, name, the_world) for name in LAYOUT[step]}
        if step == "state-machine":  # as the real module: after its log group, which needs nothing
            made["state-machine"].after = (made["sm-log-group"],)
            made["sm-log-group"].depends_on = ()
        return list(made.values())

    monkeypatch.setattr(engine, "step_resources", step_resources)
    yield the_world


def _quiet(_: str) -> None:
    pass


def _step_of(name: str) -> str:
    return next(step for step, names in LAYOUT.items() if name in names)


def _needs(name: str) -> set[str]:
    """What `name` waits for in setup: its step's dependencies, its `after`."""
    if name == "sm-log-group":
        return set()
    found = {n for step in depends_on(_step_of(name)) if step in LAYOUT for n in LAYOUT[step]}
    return found | ({"sm-log-group"} if name == "state-machine" else set())


def _report_order() -> list[str]:
    return [name for step in STEPS for name in LAYOUT[step]]


def test_setup_applies_each_resource_after_what_it_depends_on(world: World) -> None:
    report = engine.setup(make_context(), STEPS, False, _quiet)
    assert report.ok, report.failures
    assert {c.action for c in report.changes} == {Action.CREATED}
    for name in _report_order():
        for need in _needs(name):
            assert world.ended[("create", need)] < world.started[("create", name)], (need, name)
    # and it really ran things at once
    assert world.most_in_flight > 1


def test_the_declared_order_is_the_guide_s(world: World) -> None:
    assert "roles" in depends_on("lambdas")
    assert {"roles", "lambdas"} <= set(depends_on("state-machine"))
    assert "state-machine" in depends_on("alarms")
    assert "state-machine" in depends_on("schedule")


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_the_report_keeps_the_order_of_the_steps_whatever_finished_first(
    world: World, seed: int
) -> None:
    world.rng = random.Random(seed)
    report = engine.setup(make_context(), STEPS, False, _quiet)
    assert [c.name for c in report.changes] == _report_order()
    finished = sorted(_report_order(), key=lambda n: world.ended[("create", n)])
    assert finished != _report_order()  # the work itself finished in another order


def test_every_read_starts_before_the_first_write(world: World) -> None:
    """Reads wait for nothing: with a worker per resource, they all start up front."""
    ctx = make_context()
    ctx.clients.concurrency = len(_report_order()) + 1  # and one for the tag index
    engine.setup(ctx, STEPS, False, _quiet)
    last_read = max(world.started[("read", n)] for n in _report_order())
    first_write = min(world.started[("create", n)] for n in _report_order())
    assert last_read < first_write


def test_a_failure_skips_its_dependents_and_reports_what_was_done(world: World) -> None:
    world.broken.add(("create", "role-b"))
    report = engine.setup(make_context(), STEPS, False, _quiet)
    actions = {c.name: c for c in report.changes}
    assert [c.name for c in report.changes] == _report_order()  # every resource is listed
    assert actions["role-b"].action is Action.FAILED
    assert "role-b broke" in actions["role-b"].detail
    assert report.failures == [f"stand-in role-b: {actions['role-b'].detail}"]
    assert not report.ok
    # what needs the roles is not attempted, and says why
    for name in LAYOUT["lambdas"] + ["state-machine"] + LAYOUT["alarms"]:
        assert actions[name].action is Action.SKIPPED, name
        assert actions[name].detail == "not attempted: stand-in role-b failed"
        assert ("create", name) not in world.started
        assert name not in world.items
    # independent work is done: the other roles, the table, the topic, the log group
    for name in ["role-a", "role-c", "table", "topic", "sm-log-group"]:
        assert actions[name].action is Action.CREATED, name
        assert name in world.items
    # a re-run finishes the job: what exists is left alone, the rest is created
    world.broken.clear()
    again = engine.setup(make_context(), STEPS, False, _quiet)
    created = {c.name for c in again.changes if c.action is Action.CREATED}
    assert created == {"role-b", *LAYOUT["lambdas"], "state-machine", *LAYOUT["alarms"]}
    assert {c.action for c in again.changes} <= {Action.CREATED, Action.UNCHANGED}


def test_a_failed_read_skips_dependents_too(world: World) -> None:
    world.broken.add(("read", "state-machine"))
    report = engine.setup(make_context(), STEPS, False, _quiet)
    actions = {c.name: c.action for c in report.changes}
    assert actions["state-machine"] is Action.FAILED
    assert {actions[n] for n in LAYOUT["alarms"]} == {Action.SKIPPED}
    assert {actions[n] for n in LAYOUT["lambdas"]} == {Action.CREATED}


def test_a_second_setup_with_nothing_changed_writes_nothing(world: World) -> None:
    engine.setup(make_context(), STEPS, False, _quiet)
    world.started.clear()
    report = engine.setup(make_context(), STEPS, False, _quiet)
    assert {c.action for c in report.changes} == {Action.UNCHANGED}
    assert {op for op, _ in world.started} == {"read"}


def test_cleanup_deletes_dependents_first_and_keeps_going_after_a_failure(world: World) -> None:
    engine.setup(make_context(), STEPS, False, _quiet)
    world.broken.add(("delete", "function-3"))
    report = engine.cleanup(make_context(), list(reversed(STEPS)), False, _quiet)
    # report: steps backwards, each step's resources backwards
    assert [c.name for c in report.changes] == [
        name for step in reversed(STEPS) for name in reversed(LAYOUT[step])
    ]
    actions = {c.name: c.action for c in report.changes}
    assert actions["function-3"] is Action.FAILED
    assert {a for n, a in actions.items() if n != "function-3"} == {Action.DELETED}
    assert set(world.items) == {"function-3"}
    for name in _report_order():
        for need in _needs(name):  # `need` goes only after `name` (which depends on it)
            if ("delete", name) in world.ended:
                assert world.ended[("delete", name)] < world.started[("delete", need)]


def test_status_reads_everything_at_once_and_keeps_the_order(world: World) -> None:
    engine.setup(make_context(), STEPS, False, _quiet)
    world.items["table"]["version"] = 1
    world.most_in_flight = 0
    report = engine.status(make_context(), STEPS, _quiet)
    assert [c.name for c in report.changes] == _report_order()
    actions = {c.name: c.action for c in report.changes}
    assert actions.pop("table") is Action.DRIFTED
    assert set(actions.values()) == {Action.PRESENT}
    assert world.most_in_flight > 1


def test_plan_reads_only(world: World) -> None:
    report = engine.setup(make_context(), STEPS, True, _quiet)
    assert {c.action for c in report.changes} == {Action.WOULD_CREATE}
    assert {op for op, _ in world.started} == {"read"}


def test_one_worker_is_the_old_serial_walk(world: World) -> None:
    ctx = make_context()
    ctx.clients.concurrency = 1
    report = engine.setup(ctx, STEPS, False, _quiet)
    assert report.ok
    assert world.most_in_flight == 1
    assert [c.name for c in report.changes] == _report_order()
