"""Splitting a file of SQL checks into statements — pure text work, no driver, no AWS.

Each statement is one check; a `-- check: <name>` comment line before a statement names it,
otherwise it is named by its file and first line. Semicolons inside quotes, dollar quotes and
comments do not end a statement. Only the standard library is used, so the CLI can load this
file by path (config validation) without importing the handlers' package or its driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_COMMENT = re.compile(r"--\s*check:\s*(?P<name>\S.*?)\s*$")
DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Check:
    name: str
    line: int
    sql: str


def split_checks(text: str, file_name: str = "checks") -> list[Check]:
    """Split the file into statements (quotes, dollar quotes and comments respected); an
    empty list when it holds none."""
    checks: list[Check] = []
    pending_name: str | None = None
    start = 0
    for end in _statement_ends(text):
        chunk = text[start:end]
        body, first_line, name = _strip(chunk, text.count("\n", 0, start) + 1)
        pending_name = name or pending_name
        if body:
            checks.append(Check(pending_name or f"{file_name} line {first_line}", first_line, body))
            pending_name = None
        start = end + 1
    return checks


def _strip(chunk: str, line: int) -> tuple[str, int, str | None]:
    """The statement without leading blanks and comments, its first line, and a check name."""
    name = None
    i = 0
    while True:
        rest = chunk[i:]
        i += len(rest) - len(rest.lstrip())
        if chunk.startswith("--", i):
            end = _find(chunk, "\n", i)
            match = NAME_COMMENT.fullmatch(chunk[i:end].strip())
            name = match.group("name") if match else name
            i = end
        elif chunk.startswith("/*", i):
            i = _block_comment_end(chunk, i) + 1
        else:
            break
    return chunk[i:].strip(), line + chunk.count("\n", 0, i), name


def _statement_ends(text: str) -> list[int]:
    """Offsets of the semicolons that end statements (and the end of the text)."""
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            i = _find(text, "\n", i)
        elif text.startswith("/*", i):
            i = _block_comment_end(text, i)
        elif c == "'":
            escapes = i > 0 and text[i - 1] in "eE" and not _in_word(text, i - 1)
            i = _quoted_end(text, i, "'", escapes)
        elif c == '"':
            i = _quoted_end(text, i, '"', False)
        elif c == "$" and (tag := DOLLAR_TAG.match(text, i)) and not _in_word(text, i):
            i = _find(text, tag.group(), tag.end()) + len(tag.group()) - 1
        elif c == ";":
            ends.append(i)
        i += 1
    if not ends or text[ends[-1] + 1 :].strip():
        ends.append(n)
    return ends


def _find(text: str, what: str, start: int) -> int:
    found = text.find(what, start)
    return len(text) if found < 0 else found


def _in_word(text: str, i: int) -> bool:
    """`$1` parameters and identifiers like `a$b` are not dollar quotes."""
    return i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")


def _quoted_end(text: str, i: int, quote: str, backslash_escapes: bool) -> int:
    i += 1
    while i < len(text):
        if backslash_escapes and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i
        i += 1
    return len(text)


def _block_comment_end(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i - 1
        else:
            i += 1
    return len(text)
