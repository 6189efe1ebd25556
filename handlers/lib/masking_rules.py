"""Declared masking rules: `schema.table.column: transformer`, parsed and checked.

Pure text work with the standard library only, so the CLI loads this file by path to validate
a config (`masking.rules`) exactly as the pipeline reads it, without the handlers' package.

A column is named as SQL names it: parts split on dots outside double quotes, `""` inside
quotes is a quote, unquoted parts fold to lower case (PostgreSQL's rule; MySQL compares
case-insensitively). So `public."Order Items"."E-Mail"` and `app.users.email` both work, and
so do reserved words (every identifier is quoted in the SQL the rules compile to).

A transformer is a name or a one-key mapping with its argument:

| transformer | the masked value |
|---|---|
| `email` | `u<keyed hash>@example.invalid` (a reserved domain: nothing can be mailed) |
| `name`, `first_name`, `last_name` | a fictional name picked by the keyed hash |
| `phone` | a number in the range reserved for fiction (+1-202-555-01xx) |
| `address` | a house number and a fictional street |
| `date_shift` / `{date_shift: DAYS}` | the date moved by up to ±DAYS (default 365), keyed |
| `hash` | the keyed hash in hex (as long as the column allows) |
| `null` | NULL |
| `{fixed: VALUE}` | VALUE |
| `{redact_keep_last: N}` | `*` for every character but the last N |
| `keep` | unchanged: reviewed, not personal data |
| `sql` | unchanged by the rules: the hand-written SQL files mask it (the PII gate still checks its values) |

NULL stays NULL for every transformer. "Keyed" means HMAC-SHA256 with the env's masking key,
so the same value masks to the same fake everywhere (joins keep working) and on every refresh,
until the key is rotated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's limit (MySQL's is 64 characters)
PLAIN = ("email", "name", "first_name", "last_name", "phone", "address", "date_shift", "hash",
         "null", "keep", "sql")
WITH_ARGUMENT = ("fixed", "redact_keep_last", "date_shift")
UNCHANGED = ("keep", "sql")  # transformers that write nothing
DEFAULT_SHIFT_DAYS = 365
MAX_SHIFT_DAYS = 3650
MAX_KEEP_LAST = 64

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    column: str

    def __str__(self) -> str:
        return ".".join(_show(part) for part in (self.schema, self.table, self.column))

    @property
    def table_name(self) -> str:
        return f"{_show(self.schema)}.{_show(self.table)}"


@dataclass(frozen=True)
class Rule:
    column: Column
    transformer: str
    argument: Any = None

    @property
    def writes(self) -> bool:
        return self.transformer not in UNCHANGED

    def describe(self) -> str:
        if self.argument is None:
            return self.transformer
        return f"{self.transformer}: {self.argument!r}"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.column.schema,
            "table": self.column.table,
            "column": self.column.column,
            "transformer": self.transformer,
            "argument": self.argument,
        }


def rule_from_json(item: Mapping[str, Any]) -> Rule:
    """A rule as the settings document carries it (`Rule.to_json`), checked again."""
    column = Column(str(item["schema"]), str(item["table"]), str(item["column"]))
    for part in (column.schema, column.table, column.column):
        _check_part(part, str(column))
    spec: Any = item["transformer"]
    if item.get("argument") is not None:
        spec = {item["transformer"]: item["argument"]}
    transformer, argument = parse_transformer(spec)
    return Rule(column, transformer, argument)


def parse_rules(rules: Mapping[str, Any]) -> list[Rule]:
    """`{"schema.table.column": spec}` → rules, sorted by table then column. ValueError names
    the offending key."""
    parsed: dict[Column, Rule] = {}
    for key, spec in rules.items():
        try:
            column = parse_column(str(key))
            transformer, argument = parse_transformer(spec)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
        if column in parsed:
            raise ValueError(f"{key}: the same column as another rule ({parsed[column].column})")
        parsed[column] = Rule(column, transformer, argument)
    return sorted(parsed.values(), key=lambda r: (r.column.schema, r.column.table, r.column.column))


def parse_column(name: str) -> Column:
    parts = _split(name)
    if len(parts) != 3:
        raise ValueError(
            "expected schema.table.column (quote parts holding dots or capitals: "
            'public."Order Items"."E-Mail")'
        )
    return Column(*parts)


def parse_transformer(spec: Any) -> tuple[str, Any]:
    if isinstance(spec, str):
        if spec not in PLAIN:
            raise ValueError(f"unknown transformer {spec!r}; expected one of {_known()}")
        return spec, None
    if spec is None:
        return "null", None  # YAML's `null` reads as None
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(f"expected a transformer name or a one-key mapping, got {spec!r}")
    (name, argument), = spec.items()
    if name not in WITH_ARGUMENT:
        raise ValueError(f"unknown transformer {name!r} with an argument; expected {_known()}")
    if name == "fixed":
        if argument is not None and (
            isinstance(argument, (dict, list)) or (isinstance(argument, str) and "\x00" in argument)
        ):
            raise ValueError("fixed: expected a scalar value (text, number, boolean or null)")
        return "fixed", argument
    if not isinstance(argument, int) or isinstance(argument, bool):
        raise ValueError(f"{name}: expected a whole number, got {argument!r}")
    if name == "redact_keep_last" and not 0 <= argument <= MAX_KEEP_LAST:
        raise ValueError(f"redact_keep_last: expected 0 to {MAX_KEEP_LAST}, got {argument}")
    if name == "date_shift" and not 1 <= argument <= MAX_SHIFT_DAYS:
        raise ValueError(f"date_shift: expected 1 to {MAX_SHIFT_DAYS} days, got {argument}")
    return name, argument


def shift_days(rule: Rule) -> int:
    return int(rule.argument) if rule.argument is not None else DEFAULT_SHIFT_DAYS


def _known() -> str:
    return ", ".join([*PLAIN, "fixed: VALUE", "redact_keep_last: N", "date_shift: DAYS"])


def _split(name: str) -> list[str]:
    parts: list[str] = []
    i, n = 0, len(name)
    while True:
        if i < n and name[i] == '"':
            end = i + 1
            while True:
                end = name.find('"', end)
                if end < 0:
                    raise ValueError(f"unterminated quote in {name!r}")
                if name[end + 1 : end + 2] == '"':
                    end += 2
                    continue
                break
            part = name[i + 1 : end].replace('""', '"')
            i = end + 1
        else:
            end = name.find(".", i)
            end = n if end < 0 else end
            raw = name[i:end]
            if '"' in raw:
                raise ValueError(f"misplaced quote in {name!r}")
            part = raw.strip().translate(_ASCII_LOWER)
            if any(c.isspace() for c in part):
                raise ValueError(f"unquoted part with spaces in {name!r} (quote it)")
            i = end
        _check_part(part, name)
        parts.append(part)
        if i >= n:
            return parts
        if name[i] != ".":
            raise ValueError(f"misplaced quote in {name!r}")
        i += 1


def _check_part(part: str, whole: str) -> None:
    if not part:
        raise ValueError(f"empty part in {whole!r}")
    if "\x00" in part:
        raise ValueError(f"NUL character in {whole!r}")
    if len(part.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"{part!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")


def _show(part: str) -> str:
    """A part as it would be written in a rule key (quoted only when it must be)."""
    simple = part and (part[0].isalpha() or part[0] == "_") and all(
        c.isalnum() or c in "_$" for c in part
    )
    if simple and part == part.translate(_ASCII_LOWER) and part.isascii():
        return part
    return '"' + part.replace('"', '""') + '"'
