"""The sandbox process: a moto server on 127.0.0.1 that behaves like one AWS account, and
(when there is one) the PostgreSQL server its clusters' databases live on — and, from the first
aurora-mysql cluster on, the MySQL server (mysql.py) those clusters' databases live on.

Run by `aurora-restore sandbox start` (or on demand by `--local`) as
`python -m aurora_restore_cli.sandbox.server STATE_FILE`. It binds a free port, switches on
moto's real Step Functions execution and its Docker-less Lambda, routes our functions'
invocations to our handler code in this process, provides PostgreSQL (postgres.py:
a private server, a DSN's, or none — then the database steps are skipped), and writes
`{"pid", "port", "url", "postgres", "postgres_note"}` to STATE_FILE (mode 0600: it holds the
throwaway admin password) once it accepts connections, and again with `mysql`/`mysql_note`
once MySQL started (or could not). SIGTERM stops both servers cleanly, in
well under a second: PostgreSQL first and the files unpacked from the functions' zips, then
the moto server (its threads are daemons: the process does not wait for a request in flight).

The main thread waits for the signal in short slices: a signal may be delivered to any
thread, and Python runs its handler only when the main thread next runs Python code — a wait
without a timeout could sleep through it (the SIGKILL after the stop timeout, and its cleanup
never run, was what `sandbox stop` used to end in).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from . import mysql as mysql_server
from .cluster_databases import LazyServer
from .postgres import PostgresServer, PostgresUnavailable, provide
from .postgres import stop as stop_postgres

SIGNAL_POLL_SECONDS = 0.1
SERVER_STOP_SECONDS = 0.3  # a moment to close the socket; the process ends either way


def configure_moto(
    postgres: PostgresServer | None = None, mysql: LazyServer | None = None
) -> None:
    from moto.core.config import default_user_config

    from ..bundled import root

    # Our functions' handler is `handlers.<step>.handler`, as in their zip: this process (and
    # only this one) puts the shipped handlers on its path, the way Lambda does with the zip.
    if str(root()) not in sys.path:
        sys.path.insert(0, str(root()))
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    from . import cluster_databases, lambda_router, moto_threads, rds_fidelity, rds_settings

    # The sandbox decides the database mode of the functions it runs: it knows whether it
    # has a database (the functions' own configuration says skip). aurora-mysql targets have
    # their own variables: skipped until the sandbox's MySQL has started.
    environment = postgres.handler_environment() if postgres else {}
    environment.update(mysql_server.skipped_environment("no aurora-mysql cluster yet"))
    lambda_router.install(extra_env=environment)
    moto_threads.install()  # concurrent setup calls: moto's IAM must not trip over itself
    rds_fidelity.install()  # AWS deletes a cluster's automated backups with it; moto does not
    rds_settings.install()  # quotas, endpoints, IAM auth, log exports, pending reboots
    if postgres is not None or mysql is not None:
        cluster_databases.install(postgres, mysql)


def _postgres(directory: Path, found: dict[str, Any]) -> None:
    try:
        found["server"] = provide(directory)
    except PostgresUnavailable as exc:
        found["note"] = str(exc)
    except Exception as exc:  # a broken installation must not take the sandbox down
        found["note"] = f"PostgreSQL could not be started: {type(exc).__name__}: {exc}"


def serve(state_file: Path) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # PostgreSQL (initdb: ~1 s) starts while moto loads.
    found: dict[str, Any] = {}
    starting = threading.Thread(target=_postgres, args=(state_file.parent, found), daemon=True)
    starting.start()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    starting.join()
    postgres: PostgresServer | None = found.get("server")
    state: dict[str, Any] = {}

    def mysql_started(mysql: mysql_server.MySQLServer | None, note: str | None) -> None:
        from . import lambda_router

        lambda_router.extend_environment(
            mysql.handler_environment() if mysql else mysql_server.skipped_environment(str(note))
        )
        state.update(mysql=mysql.to_json() if mysql else None, mysql_note=note)
        _write_state(state_file, state)

    mysql = LazyServer(lambda: mysql_server.provide(state_file.parent), mysql_started)
    configure_moto(postgres, mysql)
    server.start()
    _, port = server.get_host_and_port()
    # Step Functions' interpreter calls Lambda at localhost:$MOTO_PORT, and our handlers,
    # running in this process, must talk to this server rather than to AWS.
    os.environ["MOTO_PORT"] = str(port)
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state.update({
        "pid": os.getpid(),
        "port": port,
        "url": f"http://127.0.0.1:{port}",
        "postgres": postgres.to_json() if postgres else None,
        "postgres_note": found.get("note"),
    })
    _write_state(state_file, state)
    try:
        while not stop.wait(SIGNAL_POLL_SECONDS):
            pass
    finally:
        shut_down(server, postgres, mysql.server)


_state_lock = threading.Lock()


def _write_state(state_file: Path, state: dict[str, Any]) -> None:
    with _state_lock:
        tmp = state_file.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(state))
        tmp.replace(state_file)


def shut_down(
    server: Any, postgres: PostgresServer | None, mysql: mysql_server.MySQLServer | None = None
) -> None:
    """What outlives the process unless removed (the database servers, unpacked files) first;
    then the moto server, given a bounded moment to close its socket."""
    from . import lambda_router

    try:
        if mysql is not None:
            mysql_server.stop(mysql)
        if postgres is not None:
            stop_postgres(postgres)
    finally:
        lambda_router.forget_unpacked()
        closing = threading.Thread(target=server.stop, daemon=True)
        closing.start()
        closing.join(SERVER_STOP_SECONDS)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
