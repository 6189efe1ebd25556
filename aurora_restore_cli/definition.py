"""The state-machine definition: load the template, fill its placeholders, check the result.

Pure functions (no AWS, no boto3). The template `definitions/pipeline.asl.json` is valid JSON
with `${Name}` placeholders in the style of Step Functions definition substitutions:

- a whole JSON string `"${Name}"` is replaced by the JSON of the value — a dict is inserted
  raw (`${Settings}`), an int as a number (`${PollIntervalSeconds}`), a str as a string;
- `${Name}` inside a longer string is replaced by the (JSON-escaped) text of a str/int value.

Function ARNs: one placeholder per step module, `function_arn_placeholder("find_snapshot")`
→ `FindSnapshotFunctionArn`. Other placeholders: Settings (dict), PollIntervalSeconds,
MaxPollAttempts, TimeoutSeconds (ints).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .bundled import definition_file

TEMPLATE_PATH = definition_file()  # definitions/ in a checkout, package data in a wheel
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
VALUE_PLACEHOLDERS = ("Settings", "PollIntervalSeconds", "MaxPollAttempts", "TimeoutSeconds")

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
