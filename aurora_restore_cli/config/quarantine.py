"""The `quarantine:` section: declared rules that make production's side effects harmless in
the restored database before the swap (each: name, sql, check, repeat), the hosts foreign
servers may still name, and the time bound of all quarantine invocations together.

The rules are parsed by the pipeline's own parser (handlers/lib/quarantine_rules.py, loaded by
path), so `validate` accepts exactly what the quarantine step will run; a check and a `repeat`
statement must each be one statement (the pipeline's own SQL splitter says).
"""

from __future__ import annotations

import re
from typing import Any

from ..bundled import handler_lib
from .reader import Section
from .settings import Quarantine, QuarantineRule


def read_quarantine(s: Section | None) -> Quarantine:
    if s is None:
        return Quarantine()
    with s.reading():
        rules = _rules(s)
        return Quarantine(
            rules=rules,
            allowed_hosts=_hosts(s),
            max_minutes=s.integer("max_minutes", 1, 24 * 60, Quarantine.max_minutes),
        )


def _rules(s: Section) -> tuple[QuarantineRule, ...]:
    raw: Any = s.raw("rules", [])
    parser, splitter = handler_lib("quarantine_rules"), handler_lib("sql_text")
    try:
        parsed = parser.parse_rules(raw)
    except ValueError as exc:
        found = re.match(r"\[(\d+)\]: (.*)", str(exc), re.S)
        if found:
            raise s.error(f"rules[{found.group(1)}]", found.group(2)) from None
        raise s.error("rules", str(exc)) from None
    for index, rule in enumerate(parsed):
        if len(splitter.split_checks(rule.check)) != 1:
            raise s.error(f"rules[{index}].check", f"rule {rule.name}: expected one query")
        if rule.repeat and len(splitter.split_checks(rule.statements[0])) != 1:
            raise s.error(f"rules[{index}].sql",
                          f"rule {rule.name}: repeat runs one (bounded) statement")
    return tuple(QuarantineRule(r.name, r.statements, r.check, r.repeat) for r in parsed)


def _hosts(s: Section) -> tuple[str, ...]:
    raw: Any = s.raw("allowed_hosts", [])
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise s.error("allowed_hosts", "expected a list of host names or *.domain patterns")
    parser = handler_lib("quarantine_rules")
    hosts = []
    for index, item in enumerate(raw):
        try:
            hosts.append(parser.check_host_pattern(item))
        except ValueError as exc:
            raise s.error(f"allowed_hosts[{index}]", str(exc)) from None
    return tuple(hosts)
