"""The state-machine definition: load the template, fill its placeholders, check the result.

Pure functions (no AWS, no boto3). The template `definitions/pipeline.asl.json` is valid JSON
with `${Name}` placeholders in the style of Step Functions definition substitutions:

- a whole JSON string `"${Name}"` is replaced by the JSON of the value — a dict is inserted
  raw (`${Settings}`), an int as a number (`${TimeoutSeconds}`), a str as a string;
- `${Name}` inside a longer string is replaced by the (JSON-escaped) text of a str/int value.

Function ARNs: one placeholder per step module, `function_arn_placeholder("find_snapshot")`
→ `FindSnapshotFunctionArn`. Other placeholders: Settings and Pipeline (dicts: the settings
document and the wait-loop settings, handlers/CONTRACT.md), TimeoutSeconds (int). The restore
drill's template `definitions/drill.asl.json` uses Settings, DrillSettings, DrillPipeline
(dicts) and DrillTimeoutSeconds (int) instead.

The graph helpers at the end (`wait_loops`, `success_paths`, `history_events`) let the CLI
bound a run before it starts: which wait loops and Tasks lie on each path to success, and how
many history events each state writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundled import definition_file

TEMPLATE_PATH = definition_file()  # definitions/ in a checkout, package data in a wheel
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
VALUE_PLACEHOLDERS = ("Settings", "Pipeline", "TimeoutSeconds")
DRILL_TEMPLATE_PATH = TEMPLATE_PATH.with_name("drill.asl.json")
DRILL_VALUE_PLACEHOLDERS = ("Settings", "DrillSettings", "DrillPipeline", "DrillTimeoutSeconds")

Value = str | int | dict[str, Any]


class DefinitionError(ValueError):
    """The template and the values do not fit together."""


def load_template(path: Path = TEMPLATE_PATH) -> str:
    return path.read_text(encoding="utf-8")


def function_arn_placeholder(step: str) -> str:
    """`find_snapshot` → `FindSnapshotFunctionArn`."""
    return "".join(part.capitalize() for part in step.split("_")) + "FunctionArn"


def placeholders(template: str | None = None) -> list[str]:
    """The placeholder names used by the template, sorted."""
    text = load_template() if template is None else template
    return sorted(set(PLACEHOLDER.findall(text)))


def render(template: str, values: Mapping[str, Value]) -> str:
    """Fill every placeholder; a missing or an unused value is an error."""
    used = set(PLACEHOLDER.findall(template))
    missing = sorted(used - set(values))
    unused = sorted(set(values) - used)
    if missing:
        raise DefinitionError(f"no value for placeholder(s): {', '.join(missing)}")
    if unused:
        raise DefinitionError(f"value(s) not used by the template: {', '.join(unused)}")
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, dict)):
            raise DefinitionError(f"{name}: expected str, int or dict, got {type(value).__name__}")

    def whole(match: re.Match[str]) -> str:
        return json.dumps(values[match.group(1)], sort_keys=True)

    def inside(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        if isinstance(value, dict):
            raise DefinitionError(f"{match.group(1)}: a dict must be the whole JSON value")
        return json.dumps(str(value))[1:-1]

    text = re.sub(r'"\$\{([A-Za-z][A-Za-z0-9]*)\}"', whole, template)
    return PLACEHOLDER.sub(inside, text)


def validate(definition: str, allowed_function_arns: set[str]) -> list[str]:
    """Problems with a rendered definition (empty list = fine)."""
    try:
        document = json.loads(definition)
    except ValueError as exc:
        return [f"not valid JSON: {exc}"]
    left = PLACEHOLDER.findall(definition)
    problems = [f"unfilled placeholder ${{{name}}}" for name in sorted(set(left))]
    states = document.get("States") if isinstance(document, dict) else None
    if not isinstance(states, dict) or not states:
        return [*problems, "no States"]
    start = document.get("StartAt")
    if start not in states:
        problems.append(f"StartAt {start!r} is not a state")
    for name, state in states.items():
        for target in _targets(state):
            if target not in states:
                problems.append(f"{name}: next state {target!r} does not exist")
        problems.extend(_resource_problems(name, state, allowed_function_arns))
        if state.get("Type") not in _STATE_TYPES:
            problems.append(f"{name}: unknown Type {state.get('Type')!r}")
    unreachable = sorted(set(states) - _reachable(start, states))
    problems.extend(f"{name}: unreachable" for name in unreachable)
    timeout = document.get("TimeoutSeconds")
    if not isinstance(timeout, int) or timeout <= 0:
        problems.append("TimeoutSeconds must be a positive integer")
    return problems


_STATE_TYPES = {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}


def _targets(state: Mapping[str, Any]) -> list[str]:
    found = [state[key] for key in ("Next", "Default") if key in state]
    found += [choice["Next"] for choice in state.get("Choices", []) if "Next" in choice]
    found += [catch["Next"] for catch in state.get("Catch", []) if "Next" in catch]
    return [str(target) for target in found]


def _reachable(start: Any, states: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [start] if start in states else []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(t for t in _targets(states[name]) if t in states)
    return seen


def _resource_problems(name: str, state: Mapping[str, Any], allowed: set[str]) -> list[str]:
    if state.get("Type") != "Task":
        return []
    resource = state.get("Resource")
    if resource == LAMBDA_INVOKE:
        function = (state.get("Parameters") or {}).get("FunctionName")
        if function not in allowed:
            return [f"{name}: invokes {function!r}, which is not one of our functions"]
        return []
    if resource in allowed:
        return []
    return [f"{name}: resource {resource!r} is not one of our functions"]


# --- the graph, for bounding a run ----------------------------------------------------------

LOOP_BOUND = re.compile(r"\$\.pipeline\.waits\.([a-z_]+)\.max_polls")
# History events per state: a Lambda Task writes Entered, Scheduled, Started, Succeeded,
# Exited; every other state Entered and Exited. The execution adds Started and Succeeded.
TASK_EVENTS = 5
STATE_EVENTS = 2
EXECUTION_EVENTS = 2


@dataclass(frozen=True)
class LoopStates:
    """A Wait → check Task → Choice loop whose bound is `$.pipeline.waits.<key>.max_polls`."""

    key: str
    wait: str
    check: str
    choice: str

    @property
    def states(self) -> tuple[str, str, str]:
        return (self.wait, self.check, self.choice)


def wait_loops(document: Mapping[str, Any]) -> list[LoopStates]:
    states: Mapping[str, Any] = document["States"]
    found: list[LoopStates] = []
    for name, state in states.items():
        if state.get("Type") != "Choice":
            continue
        for rule in state.get("Choices", []):
            bound = LOOP_BOUND.fullmatch(str(rule.get("NumericGreaterThanEqualsPath", "")))
            if bound:
                wait = str(state["Default"])
                found.append(LoopStates(bound.group(1), wait, str(states[wait]["Next"]), name))
    return found


def task_loops(document: Mapping[str, Any]) -> dict[str, str]:
    """Task → Choice of each loop without a Wait: a Choice whose Default runs a Task again that
    leads straight back to it (the masking step's batches)."""
    states: Mapping[str, Any] = document["States"]
    found = {}
    for name, state in states.items():
        if state.get("Type") != "Choice":
            continue
        task = states.get(str(state.get("Default")), {})
        if task.get("Type") == "Task" and task.get("Next") == name:
            found[str(state["Default"])] = name
    return found


def history_events(state: Mapping[str, Any]) -> int:
    return TASK_EVENTS if state.get("Type") == "Task" else STATE_EVENTS


POSSIBLE = "possible"  # facts key: runtime variable → the values it can take


def success_paths(document: Mapping[str, Any], facts: Mapping[str, Any]) -> list[list[str]]:
    """Every path from StartAt to a Succeed state along Next/Choices/Default (not Catch), each
    state at most once (a wait loop appears once). Choice rules on `$.settings.…` with
    StringEquals/BooleanEquals are decided by `facts` (e.g. {"settings": <settings document>}).
    A variable the run decides may be bounded by `facts["possible"]` ({"$.restore_from.path":
    {"snapshot", "clone"}}: the paths a config allows; without a bound, every value of the
    definition's rules and one more): a StringEquals rule on it is taken only for a value still
    possible on the way there, and the Default only for a value no rule matched. Once taken,
    the way holds: a later Choice on the same variable follows the value taken earlier. Any
    other rule may go either way."""
    states: Mapping[str, Any] = document["States"]
    paths: list[list[str]] = []
    bounds = {**_runtime_values(states), **(facts.get(POSSIBLE) or {})}

    def walk(name: str, path: list[str], bound: Mapping[str, frozenset[Any]]) -> None:
        if name in path:
            return
        path = [*path, name]
        state = states[name]
        if state.get("Type") == "Succeed":
            paths.append(path)
            return
        for following, narrowed in _successors(state, facts, bound):
            walk(following, path, narrowed)

    start = {variable: frozenset(values) for variable, values in bounds.items()}
    walk(str(document["StartAt"]), [], start)
    return paths


OTHER = "<any other value>"


def _runtime_values(states: Mapping[str, Any]) -> dict[str, set[Any]]:
    """For each run-time variable compared with StringEquals (`$.restore_from.path`): the
    values the definition names, and OTHER (what the Defaults take)."""
    found: dict[str, set[Any]] = {}
    for state in states.values():
        for rule in state.get("Choices") or []:
            variable = str(rule.get("Variable", ""))
            if "StringEquals" in rule and not variable.startswith(("$.settings.", "$.poll.")):
                found.setdefault(variable, {OTHER}).add(rule["StringEquals"])
    return found


def _successors(
    state: Mapping[str, Any], facts: Mapping[str, Any], bound: Mapping[str, frozenset[Any]]
) -> Iterator[tuple[str, Mapping[str, frozenset[Any]]]]:
    if state.get("Type") != "Choice":
        if "Next" in state:
            yield str(state["Next"]), bound
        return
    left = dict(bound)  # what the Default may still see, per bounded variable
    for rule in state.get("Choices", []):
        decided = _decide(rule, facts)
        variable = str(rule.get("Variable", ""))
        narrowed = bound
        if variable in bound and "StringEquals" in rule:
            value = rule["StringEquals"]
            decided = None if value in left.get(variable, frozenset()) else False
            left[variable] = left[variable] - {value}
            narrowed = {**bound, variable: frozenset({value})}
        if decided is None or decided:
            yield str(rule["Next"]), narrowed
        if decided:
            return
    if "Default" not in state:
        return
    if any(not values for variable, values in left.items() if values != bound.get(variable)):
        return  # every possible value of a variable this Choice tests took a rule
    narrowed = {v: values for v, values in left.items()}
    yield str(state["Default"]), narrowed


def _decide(rule: Mapping[str, Any], facts: Mapping[str, Any]) -> bool | None:
    """True/False if `facts` decide the rule, None if the run's data does."""
    variable = str(rule.get("Variable", ""))
    comparisons = [key for key in ("StringEquals", "BooleanEquals") if key in rule]
    if not variable.startswith("$.settings.") or len(comparisons) != 1:
        return None
    value: Any = facts
    for part in variable[2:].split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return bool(value == rule[comparisons[0]])
