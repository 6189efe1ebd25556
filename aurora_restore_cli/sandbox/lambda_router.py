"""Run our Lambda handlers in-process inside moto's no-Docker Lambda backend.

moto's `LambdaSimpleBackend.invoke` (selected by `{"lambda": {"use_docker": False}}`) only
echoes the payload. `install()` replaces it: for a function whose handler is
`handlers.<module>.handler`, the module is imported and called with the event, with the
function's environment variables (plus AWS_REGION/AWS_DEFAULT_REGION of the function's region,
as Lambda sets them) applied for the duration of the call. The result is returned as JSON.
An exception becomes Lambda's unhandled-error answer: header `X-Amz-Function-Error: Unhandled`
and payload `{"errorType": <class name>, "errorMessage": str(exc)}`, which is what Step
Functions' Retry/Catch match on. Functions with any other handler keep moto's behaviour.

The handler modules come from this process's path, not from the function's zip; what else the
zip carries for them is made available the way they look for it: the post-restore SQL files
(`handlers/sql/`) are unpacked once per code version and `AURORA_RESTORE_SQL_DIR` points there.

Step Functions executions run in threads and the environment is process-wide, so
invocations are serialised by a lock. Used by tests (inside `mock_aws`) and by the sandbox's
moto server process; it does not depend on pytest.

    from aurora_restore_cli.local import lambda_router
    lambda_router.install()            # or: with lambda_router.routing(): ...
    ...
    lambda_router.uninstall()
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_PACKAGES = ("handlers",)
SQL_PREFIX = "handlers/sql/"  # packaging.SQL_DIR, as mask_data finds it in its zip
SQL_DIR_ENV = "AURORA_RESTORE_SQL_DIR"

_state_lock = threading.Lock()
_call_lock = threading.RLock()
_original: Any = None
_packages: tuple[str, ...] = DEFAULT_PACKAGES
_extra_env: dict[str, str] = {}
_unpacked: dict[str, str] = {}  # code sha256 → directory holding that zip's SQL files


class LambdaContext:
    """The parts of the Lambda context object handlers may use."""

    def __init__(
        self, function_name: str, function_arn: str, timeout_seconds: int, memory_mb: int = 128
    ) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = str(memory_mb)
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def install(
    packages: tuple[str, ...] = DEFAULT_PACKAGES, extra_env: Mapping[str, str] | None = None
) -> None:
    """Route invocations of functions whose handler lives in `packages` to the real code.

    `extra_env` is applied during every call too (e.g. AWS_ENDPOINT_URL for a moto server).
    Calling it again updates the settings; it never stacks patches.
    """
    from moto.awslambda_simple.models import LambdaSimpleBackend

    global _original, _packages, _extra_env
    with _state_lock:
        _packages = tuple(packages)
        _extra_env = dict(extra_env or {})
        if _original is None:
            _original = LambdaSimpleBackend.invoke
            LambdaSimpleBackend.invoke = _routed_invoke  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own invoke."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    global _original
    with _state_lock:
        if _original is not None:
            LambdaSimpleBackend.invoke = _original  # type: ignore[method-assign]
            _original = None


def installed() -> bool:
    return _original is not None


@contextmanager
def routing(
    packages: tuple[str, ...] = DEFAULT_PACKAGES, extra_env: Mapping[str, str] | None = None
) -> Iterator[None]:
    install(packages, extra_env)
    try:
        yield
    finally:
        uninstall()


def _routed_invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    function = self.get_function(function_name, qualifier)
    target = str(getattr(function, "handler", "") or "")
    module_name, _, attribute = target.rpartition(".")
    if not module_name or module_name.split(".")[0] not in _packages:
        return _original(self, function_name, qualifier, body, headers, response_headers)
    event = _decode(body)
    payload, failed = call(function, module_name, attribute, event)
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    encoded = payload.encode("utf-8")
    response_headers["Content-Length"] = str(len(encoded))
    return encoded


def call(function: Any, module_name: str, attribute: str, event: Any) -> tuple[str, bool]:
    """Invoke the handler; returns (JSON payload, failed)."""
    environment = {
        **_packaged_sql(function),  # the function's own variables may point elsewhere
        **dict(getattr(function, "environment_vars", None) or {}),
        "AWS_REGION": function.region,
        "AWS_DEFAULT_REGION": function.region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        **_extra_env,
    }
    context = LambdaContext(
        function.function_name,
        function.function_arn,
        int(getattr(function, "timeout", 3) or 3),
        int(getattr(function, "memory_size", 128) or 128),
    )
    with _call_lock, _applied(environment):
        try:
            handler = getattr(importlib.import_module(module_name), attribute)
            result = handler(event, context)
            return json.dumps(result, default=str), False
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return json.dumps(error), True


def _packaged_sql(function: Any) -> dict[str, str]:
    """`{AURORA_RESTORE_SQL_DIR: dir}` when the function's zip carries SQL files, else {}."""
    code = getattr(function, "code_bytes", b"") or b""
    if not code:
        return {}
    key = hashlib.sha256(code).hexdigest()
    if key not in _unpacked:
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                members = [n for n in archive.namelist() if n.startswith(SQL_PREFIX)]
                directory = ""
                if members:
                    directory = tempfile.mkdtemp(prefix="aurora-restore-sql-")
                    atexit.register(shutil.rmtree, directory, True)
                    for name in members:
                        Path(directory, name[len(SQL_PREFIX):]).write_bytes(archive.read(name))
        except zipfile.BadZipFile:
            directory = ""
        _unpacked[key] = directory
    return {SQL_DIR_ENV: _unpacked[key]} if _unpacked[key] else {}


def _decode(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        return body


@contextmanager
def _applied(environment: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update({key: str(value) for key, value in environment.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
