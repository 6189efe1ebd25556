"""Declared quarantine rules and the host policy of the built-in checks: parsed and checked.

Pure text work with the standard library only, so the CLI loads this file by path to validate
a config (`quarantine:`) exactly as the pipeline reads it, without the handlers' package.

A rule neutralises one of production's side effects in the restored database before the swap:

    - name: outbound-email                  # names the rule in errors, the audit, the plan
      sql: TRUNCATE public.outbound_email   # one statement, or a list run in one transaction
      check: SELECT count(*) = 0 FROM public.outbound_email

`check` is one query that must come back empty, or with one row holding true; anything else
fails the run before the swap, naming the rule. `repeat: true` (one statement) runs it again,
one transaction each, until it changes no row: a bounded statement (`DELETE … WHERE id IN
(SELECT id … LIMIT 10000)`) clears a large table in batches, across invocations.

Hosts: a foreign server (postgres_fdw, dblink, …) may name the cluster itself (its own
endpoints), the local host, or a host of `quarantine.allowed_hosts` (exact names, or
`*.suffix` for every name under a domain). Any other host is outside the lower environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")  # "" : a Unix socket of the server itself
SENTINEL_HOST = "quarantined.invalid"  # where quarantined foreign servers point (RFC 6761)
MAX_RULES = 100


@dataclass(frozen=True)
class Rule:
    name: str
    statements: tuple[str, ...]
    check: str
    repeat: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sql": list(self.statements), "check": self.check,
                "repeat": self.repeat}


def rule_from_json(item: Mapping[str, Any]) -> Rule:
    """A rule as the settings document carries it (`to_json`)."""
    return parse_rule(dict(item))


def parse_rules(items: Any) -> list[Rule]:
    """The `quarantine.rules` list; ValueError naming the rule (by index or name)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValueError("expected a list of rules (name, sql, check)")
    if len(items) > MAX_RULES:
        raise ValueError(f"at most {MAX_RULES} rules")
    rules: list[Rule] = []
    for index, item in enumerate(items):
        try:
            rule = parse_rule(item)
        except ValueError as exc:
            raise ValueError(f"[{index}]: {exc}") from None
        if any(r.name == rule.name for r in rules):
            raise ValueError(f"[{index}]: the name {rule.name!r} is used twice")
        rules.append(rule)
    return rules


def parse_rule(item: Any) -> Rule:
    if not isinstance(item, dict):
        raise ValueError("expected a mapping with name, sql and check")
    unknown = sorted(set(item) - {"name", "sql", "check", "repeat"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))} (name, sql, check, repeat)")
    name = item.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(
            "name: expected lower-case letters, digits, '-' or '_' (up to 63), got "
            f"{name!r}"
        )
    sql = item.get("sql")
    statements = (sql,) if isinstance(sql, str) else tuple(sql) if isinstance(sql, list) else None
    if not statements or not all(isinstance(s, str) and s.strip() for s in statements):
        raise ValueError(f"rule {name}: sql: expected a statement or a list of statements")
    check = item.get("check")
    if not isinstance(check, str) or not check.strip():
        raise ValueError(
            f"rule {name}: check: expected a query that returns no row (or one row holding "
            "true) once the rule did its work"
        )
    repeat = item.get("repeat", False)
    if not isinstance(repeat, bool):
        raise ValueError(f"rule {name}: repeat: expected true or false")
    if repeat and len(statements) != 1:
        raise ValueError(f"rule {name}: repeat needs exactly one (bounded) statement")
    return Rule(name, tuple(s.strip() for s in statements), check.strip(), repeat)


def check_verdict(rows: Sequence[Sequence[Any]]) -> tuple[bool, str]:
    """(passed, what came back): a check passes with no row, or one row of one true value.
    Never a value in the text (a row may hold production data): counts and shapes only."""
    if not rows:
        return True, "no row"
    if len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] is True:
        return True, "true"
    if len(rows) == 1 and len(rows[0]) == 1:
        value = rows[0][0]
        shown = "false" if value is False else "NULL" if value is None else "a non-boolean value"
        return False, f"one row holding {shown}"
    return False, f"{len(rows)} row(s)"


# --- hosts -----------------------------------------------------------------------------------


def check_host_pattern(pattern: Any) -> str:
    """An allowed-host entry, lower-cased; ValueError unless a host name, an IP address or
    `*.domain`."""
    if not isinstance(pattern, str):
        raise ValueError(f"expected a host name or *.domain, got {pattern!r}")
    text = pattern.strip().lower()
    if _is_ip(text) or HOST.fullmatch(text):
        return text
    raise ValueError(f"expected a host name, an IP address or *.domain, got {pattern!r}")


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts a foreign server may name: the cluster's own, local, and the allowed ones."""

    own: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()

    def allows(self, host: str) -> bool:
        name = host.strip().lower().rstrip(".")
        if name in LOCAL_HOSTS or name == SENTINEL_HOST or name.startswith("/"):
            return True  # a directory: a Unix socket of the server itself
        if name in {h.lower() for h in self.own}:
            return True
        for pattern in self.allowed:
            if pattern.startswith("*."):
                if name.endswith(pattern[1:]):
                    return True
            elif name == pattern:
                return True
        return False

    def outside(self, hosts: Iterable[str]) -> list[str]:
        """The hosts of a (comma-separated) option value that are outside."""
        found = []
        for value in hosts:
            for host in str(value).split(","):
                if not self.allows(host):
                    found.append(host.strip())
        return found


def own_hosts(endpoint: str | None, staging_id: str | None, target_id: str | None) -> tuple[str, ...]:
    """The restored cluster's own endpoints, before and after the swap: RDS names them
    `<cluster id>.cluster[-ro]-<suffix>`, and the swap gives it the target's id."""
    if not endpoint:
        return ()
    hosts = {endpoint.lower()}
    first, _, rest = endpoint.lower().partition(".")
    suffix = re.sub(r"^cluster-(ro-)?", "", rest) if rest.startswith("cluster-") else ""
    if suffix:
        for cluster in {first, (staging_id or "").lower(), (target_id or "").lower()} - {""}:
            hosts.update({f"{cluster}.cluster-{suffix}", f"{cluster}.cluster-ro-{suffix}"})
    return tuple(sorted(hosts))


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
