"""Typed, path-aware reading of a YAML mapping: the building block of config validation.

Every accessor knows the file and the dotted key path it reads, so any problem becomes one
`ConfigError` that names both — never a traceback, never a silently ignored typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
_MISSING = object()


class ConfigError(Exception):
    """A config file is unusable; `str()` is the one message the user sees."""

    def __init__(self, file: Path | str, path: str, message: str) -> None:
        self.file = str(file)
        self.path = path
        self.message = message
        where = f"{self.file}: {path}" if path else self.file
        super().__init__(f"{where}: {message}")


class ConfigErrors(ConfigError):
    """Several problems of one file, all reported at once: one line each after the first."""

    def __init__(self, errors: list[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.path, first.message)
        self.errors = list(errors)
        lines = [f"{e.path}: {e.message}" if e.path else e.message for e in self.errors]
        self.args = (f"{first.file}: {len(self.errors)} problems:\n" +
                     "\n".join(f"  {line}" for line in lines),)


def raise_all(errors: list[ConfigError]) -> None:
    """Nothing when `errors` is empty; the one error; or all of them as ConfigErrors."""
    flat = [e for error in errors for e in getattr(error, "errors", [error])]
    if len(flat) == 1:
        raise flat[0]
    if flat:
        raise ConfigErrors(flat)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (lines {first_line[key]} and {line}; keep one)",
                key_node.start_mark,
            )
        first_line[key] = line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_yaml_mapping(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "", f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, "", f"invalid YAML: {where}{problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(file, "", "expected a mapping of settings at the top level")
    return data


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


class Section:
    """One mapping of the config file; `close()` rejects keys nobody asked for."""

    def __init__(self, file: Path, path: str, data: Any) -> None:
        self.file = file
        self.path = path
        if not isinstance(data, dict):
            raise ConfigError(
                file, path or "(top level)", f"expected a mapping, got {_describe(data)}"
            )
        self._data: dict[str, Any] = data
        self._read: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key_path(key), message)

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self._read.add(key)
        if key not in self._data:
            if default is _MISSING:
                raise self.error(key, "required key is missing" + self._misspelled(key))
            return default
        return self._data[key]

    def _misspelled(self, key: str) -> str:
        """` (target.instance_cont is not a known key: did you mean instance_count?)` when an
        unknown key of this section looks like the missing one."""
        unknown = [str(k) for k in self._data if k not in self._read]
        close = difflib.get_close_matches(key, unknown, n=1, cutoff=0.75)
        if not close:
            return ""
        return f" ({self.key_path(close[0])} is not a known key: did you mean {key}?)"

    def section(self, key: str) -> Section:
        return Section(self.file, self.key_path(key), self.raw(key))

    def optional_section(self, key: str) -> Section | None:
        value = self.raw(key, None)
        return None if value is None else Section(self.file, self.key_path(key), value)

    def string(
        self,
        key: str,
        default: Any = _MISSING,
        pattern: str | None = None,
        expected: str = "a string",
        choices: tuple[str, ...] | None = None,
    ) -> Any:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if choices is not None:
            if value not in choices:
                raise self.error(
                    key, f"expected one of {', '.join(choices)}, got {_describe(value)}"
                )
            return value
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected {expected}, got {_describe(value)}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.error(key, f"expected {expected}, got {value!r}")
        return value

    def integer(self, key: str, low: int, high: int, default: Any = _MISSING) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(
                key, f"expected an integer from {low} to {high}, got {_describe(value)}"
            )
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_describe(value)}")
        return value

    def items(
        self, key: str, check: Callable[[str, Any], T], default: Any = _MISSING, min_items: int = 0
    ) -> tuple[T, ...]:
        """A list whose items are checked one by one; errors name `key[index]`."""
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_describe(value)}")
        if len(value) < min_items:
            raise self.error(key, f"expected at least {min_items} item(s)")
        return tuple(check(f"{self.key_path(key)}[{i}]", item) for i, item in enumerate(value))

    def close(self) -> None:
        """Every key must have been read: anything left is unknown (a typo, most often)."""
        unknown = [str(k) for k in self._data if k not in self._read]
        if not unknown:
            return
        first, *others = unknown
        message = "unknown key" + self._suggestion(first)
        if others:
            message += f" (also unknown: {', '.join(self.key_path(k) for k in others)})"
        raise self.error(first, message)

    def _suggestion(self, key: str) -> str:
        close = difflib.get_close_matches(key, sorted(self._read), n=1, cutoff=0.6)
        if close:
            return f"; did you mean {close[0]}?"
        known = ", ".join(sorted(self._read))
        return f"; known keys here: {known}" if known else ""

    @contextmanager
    def reading(self) -> Iterator[Section]:
        yield self
        self.close()


def string_item(file: Path, pattern: str, expected: str) -> Callable[[str, Any], str]:
    def check(path: str, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise ConfigError(file, path, f"expected {expected}, got {_describe(value)}")
        return value

    return check
