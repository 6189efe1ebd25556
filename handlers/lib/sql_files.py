"""The hand-written post-restore SQL files (masking, sanitising), run in order, one
transaction each, by the masking step (mask_data.py) before or after the declared rules.

The files live in `handlers/sql/` inside the function's zip (the CLI copies them there);
`AURORA_RESTORE_SQL_DIR` points elsewhere for tests. A failing file stops the run: the files
before it stay committed, the failing one is rolled back, later ones do not run. A file's
`finish` statement (the masking step's progress record) commits with the file, so a retry
never runs a committed file again.

Time limit: all files run in one invocation, and Lambda stops an invocation at the function's
timeout (at most 15 minutes) without a word — the database would go on running the statement
and the run would fail with a bare "timed out". So the files get the invocation's remaining
time minus SAFETY_MARGIN_SECONDS (to roll back, write the audit item and answer): each
transaction sets the server's statement timeout to what is left where the engine has one for
every statement (PostgreSQL's `statement_timeout`: the server stops a long statement even if
this function is gone), and a watchdog cancels the running file from a second connection when
the time is up (a file of many statements, one that changes the timeout itself, or an engine
whose timeout does not cover writes, as MySQL's). The step then fails with SqlScriptFailed
naming the file, what was committed and what did not run. The engine runs the file
(`Engine.run_script`); this module decides the time, the order and the messages.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers.lib import database, db
from handlers.lib.engines import Engine, ScriptEndedTransaction
from handlers.lib.errors import SettingsInvalid, SqlScriptFailed

SQL_DIR_ENV = "AURORA_RESTORE_SQL_DIR"
PACKAGED_SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
SAFETY_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class TimeLimit:
    """`seconds` from the start for all files; `cancel(pid)` stops that backend's statement."""

    seconds: float
    cancel: Callable[[int], None]


def time_budget(context: Any) -> float | None:
    """Seconds the files may take in this invocation (None: no Lambda context, no limit)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return max(0.0, remaining() / 1000 - SAFETY_MARGIN_SECONDS)


def canceller(
    engine: Engine, target: db.Target, credentials: db.Credentials
) -> Callable[[int], None]:
    """Cancel a session's running statement from a second connection (same user: allowed)."""

    def cancel(pid: int) -> None:
        with database.session(engine, target, credentials) as other:
            engine.cancel_session(other, pid)

    return cancel


def sql_directory(environ: Mapping[str, str] | None = None) -> Path:
    override = (os.environ if environ is None else environ).get(SQL_DIR_ENV)
    return Path(override) if override else PACKAGED_SQL_DIR


def configured_scripts(settings: Mapping[str, Any]) -> list[str]:
    names = settings.get("database", {}).get("post_restore_sql", []) or []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise SettingsInvalid("settings.database.post_restore_sql must list file names")
    return names


def locate_scripts(names: Sequence[str], directory: Path) -> list[Path]:
    """Every file, checked before any runs; names cannot leave the directory."""
    root = directory.resolve()
    paths: list[Path] = []
    for name in names:
        path = (root / name).resolve()
        if path.parent != root:
            raise SqlScriptFailed(f"{name}: not a file name inside the SQL directory")
        if not path.is_file():
            raise SqlScriptFailed(f"{name}: no such file in the SQL directory")
        paths.append(path)
    return paths


def run_scripts(
    engine: Engine,
    conn: Any,
    scripts: Sequence[Path],
    limit: TimeLimit | None = None,
    finish: Callable[[Any, Path], None] | None = None,
) -> list[dict[str, Any]]:
    """Run each file in its own transaction; returns [{"file", "seconds"}] of those that ran.
    With a `limit`, all files together get `limit.seconds` (see the module's docstring);
    `finish(conn, path)` runs inside each file's transaction, after the file."""
    deadline = None if limit is None else time.monotonic() + limit.seconds
    pid = engine.session_id(conn) if limit else 0
    ran: list[dict[str, Any]] = []
    for index, path in enumerate(scripts):
        sql = path.read_text(encoding="utf-8")
        started = time.monotonic()
        left = None if deadline is None else deadline - started
        progress = _progress(ran, scripts[index + 1 :])
        if left is not None and left <= 0:
            raise SqlScriptFailed(f"{path.name} not started: {_out_of_time(limit)}{progress}")
        done = None if finish is None else _finisher(finish, path)
        try:
            with _watchdog(limit, pid, left) as fired:
                engine.run_script(conn, sql, left, done)
        except ScriptEndedTransaction as exc:
            how = str(exc) or "COMMIT/ROLLBACK in the file"
            raise SqlScriptFailed(
                f"{path.name} ends the transaction itself ({how}); "
                f"each file runs in one transaction the pipeline manages{progress}"
            ) from None
        except Exception as exc:
            error = engine.server_error(exc)
            if error is None:
                if engine.connection_lost(exc):
                    raise SqlScriptFailed(
                        f"{path.name} failed: connection lost ({exc.__class__.__name__}){progress}"
                    ) from None
                raise
            late = deadline is not None and time.monotonic() >= deadline
            if error.cancelled and (fired.is_set() or late):
                raise SqlScriptFailed(
                    f"{path.name} did not finish in time and was cancelled and rolled back: "
                    f"{_out_of_time(limit)}{progress}"
                ) from None
            where = _line_of(sql, error.position)
            raise SqlScriptFailed(
                f"{path.name} failed{where}: {error.code} {error.message}{progress}"
            ) from None
        ran.append({"file": path.name, "seconds": round(time.monotonic() - started, 3)})
        # Whatever a script SETs or creates as temporary must not leak into the next one.
        engine.reset_session(conn)
    return ran


def _finisher(finish: Callable[[Any, Path], None], path: Path) -> Callable[[Any], None]:
    return lambda conn: finish(conn, path)



@contextlib.contextmanager
def _watchdog(limit: TimeLimit | None, pid: int, left: float | None) -> Iterator[threading.Event]:
    """Cancel backend `pid` after `left` seconds unless the block is done by then."""
    fired = threading.Event()
    if limit is None or left is None:
        yield fired
        return

    def fire() -> None:
        fired.set()
        with contextlib.suppress(Exception):  # statement_timeout still stops long statements
            limit.cancel(pid)

    timer = threading.Timer(left, fire)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()
        timer.join()  # a cancel already on its way lands before the next statement starts


def _out_of_time(limit: TimeLimit | None) -> str:
    seconds = 0.0 if limit is None else limit.seconds
    return (
        f"the post-restore SQL had {seconds:.0f} s of this invocation (the function's timeout, "
        f"at most 900 s, minus {SAFETY_MARGIN_SECONDS:.0f} s to report); make the file faster "
        "or raise lambda.timeout_seconds"
    )


def _line_of(sql: str, position: int | None) -> str:
    if not position or position > len(sql) + 1:
        return ""
    return f" at line {sql.count(chr(10), 0, position - 1) + 1}"


def _progress(ran: Sequence[Mapping[str, Any]], rest: Sequence[Path]) -> str:
    done = ", ".join(r["file"] for r in ran) or "none"
    skipped = ", ".join(p.name for p in rest) or "none"
    return f" (committed before it: {done}; not run: {skipped})"
