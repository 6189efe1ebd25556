"""Aurora engine versions, read and compared as versions (never as strings).

Pure text work with the standard library only: the CLI loads this file by path (config
validation, the IAM documents' default parameter groups) and the pipeline imports it
(FindSnapshot, the undo), so both read a version the same way.

| engine | version | major (family) | compared as |
|---|---|---|---|
| aurora-postgresql | `15.4`, `16.1`, `11.9` | `15` (`aurora-postgresql15`) | (15, 4) |
| aurora-mysql | `8.0.mysql_aurora.3.05.2` | `8.0` (`aurora-mysql8.0`) | (8, 0, 3, 5, 2) |

Aurora MySQL's version is the MySQL version it is compatible with, then the Aurora release
(`3.05.2`: its parts are numbers, `05` is 5, so 3.10.0 is newer than 3.9.0). Two versions of one
MySQL major compare by that release.
"""

from __future__ import annotations

import re

POSTGRESQL, MYSQL = "aurora-postgresql", "aurora-mysql"
ENGINES = (POSTGRESQL, MYSQL)
PATTERNS = {
    POSTGRESQL: r"\d+(\.\d+){0,2}",
    MYSQL: r"\d+\.\d+\.mysql_aurora\.\d+\.\d+\.\d+",
}
EXAMPLES = {POSTGRESQL: "15.4", MYSQL: "8.0.mysql_aurora.3.05.2"}
DEFAULT_PORTS = {POSTGRESQL: 5432, MYSQL: 3306}


class VersionError(ValueError):
    """Not a version of this engine."""


def _engine(engine: str | None) -> str:
    name = engine or POSTGRESQL
    if name not in PATTERNS:
        raise VersionError(f"unknown engine {name!r}")
    return name


def is_version(engine: str | None, text: str) -> bool:
    return re.fullmatch(PATTERNS[_engine(engine)], text or "") is not None


def parse(engine: str | None, text: str) -> tuple[int, ...]:
    """The version as numbers, in the order they compare."""
    name = _engine(engine)
    if not is_version(name, text):
        raise VersionError(
            f"{text!r} is not an {name} engine version (such as {EXAMPLES[name]!r})"
        )
    return tuple(int(part) for part in re.findall(r"\d+", text))


def major(engine: str | None, text: str) -> str:
    """The major version as AWS names it: `15` (PostgreSQL ≥ 10), `8.0` (MySQL)."""
    numbers = parse(engine, text)
    return f"{numbers[0]}.{numbers[1]}" if _engine(engine) == MYSQL else str(numbers[0])


def major_key(engine: str | None, text: str) -> tuple[int, ...]:
    numbers = parse(engine, text)
    return numbers[:2] if _engine(engine) == MYSQL else numbers[:1]


def family(engine: str | None, text: str) -> str:
    """The parameter group family: `aurora-postgresql15`, `aurora-mysql8.0`."""
    return f"{_engine(engine)}{major(engine, text)}"


def option_group(engine: str | None, text: str) -> str:
    """RDS's default option group: `default:aurora-postgresql-15`, `default:aurora-mysql-8-0`."""
    return f"default:{_engine(engine)}-{major(engine, text).replace('.', '-')}"
