"""The sandbox process: a moto server on 127.0.0.1 that behaves like one AWS account.

Run by `aurora-restore sandbox start` (or on demand by `--local`) as
`python -m aurora_restore_cli.sandbox_server STATE_FILE`. It binds a free port, switches on
moto's real Step Functions execution and its Docker-less Lambda, routes our functions'
invocations to our handler code in this process, and writes `{"pid", "port", "url"}` to
STATE_FILE once it accepts connections. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def configure_moto() -> None:
    from moto.core.config import default_user_config

    from .bundled import root

    # Our functions' handler is `handlers.<step>.handler`, as in their zip: this process (and
    # only this one) puts the shipped handlers on its path, the way Lambda does with the zip.
    if str(root()) not in sys.path:
        sys.path.insert(0, str(root()))

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}
    from .local.lambda_router import install

    install()


def serve(state_file: Path) -> None:
    from moto.server import ThreadedMotoServer

    configure_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"pid": os.getpid(), "port": port, "url": f"http://127.0.0.1:{port}"})
    )
    tmp.replace(state_file)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
