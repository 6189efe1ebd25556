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
(`handlers/sql/`) and the package manifest (`handlers/package.json`) are unpacked once per code
version, and `AURORA_RESTORE_SQL_DIR` / `AURORA_RESTORE_PACKAGE_FILE` point there.

As Lambda does, each invocation's log lines go to the function's log group
`/aws/lambda/<function>` (created when missing, as Lambda does with the role's
logs:CreateLogGroup): `START`, every record the handler logged (`[LEVEL]\t<time>\t<request
id>\t<message>`), an unhandled error, `END` and `REPORT` (duration), written straight into
moto's CloudWatch Logs backend in this process. `aurora-restore logs` reads them back.

A health check's role probe (handlers/lib/health.py) is decided again here against the
function role's policies (role_policy.py): moto does not enforce IAM, AWS does.

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
import logging
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
MANIFEST = "handlers/package.json"  # packaging.MANIFEST_NAME
MANIFEST_ENV = "AURORA_RESTORE_PACKAGE_FILE"  # handlers/lib/health.PACKAGE_FILE_ENV
LOG_STREAM_PREFIX = "[$LATEST]"

_state_lock = threading.Lock()
_call_lock = threading.RLock()
_original: Any = None
_packages: tuple[str, ...] = DEFAULT_PACKAGES
_extra_env: dict[str, str] = {}
_unpacked: dict[str, dict[str, str]] = {}  # code sha256 → variables naming what it unpacked
_instance = uuid.uuid4().hex  # one "execution environment" per process: its log stream


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


def extend_environment(values: Mapping[str, str]) -> None:
    """Add to what every call gets (the sandbox's MySQL, once it has started)."""
    global _extra_env
    with _state_lock:
        _extra_env = {**_extra_env, **values}


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
        **_unpacked_files(function),  # the function's own variables may point elsewhere
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
    with _call_lock, _applied(environment), _captured_logs() as records:
        started = time.time()
        try:
            handler = getattr(importlib.import_module(module_name), attribute)
            result = handler(event, context)
            if _is_health_check(event) and isinstance(result, dict):
                result = _with_role_decided(function, result)
            payload, failed, error = json.dumps(result, default=str), False, None
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            payload, failed = json.dumps(error), True
        _write_logs(function, context, started, records, error)
        return payload, failed


def _unpacked_files(function: Any) -> dict[str, str]:
    """The variables that point at the SQL files and the manifest of the function's zip (the
    files unpacked once per code version), or {} for a zip without them."""
    code = getattr(function, "code_bytes", b"") or b""
    if not code:
        return {}
    key = hashlib.sha256(code).hexdigest()
    if key not in _unpacked:
        variables: dict[str, str] = {}
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                names = archive.namelist()
                members = [n for n in names if n.startswith(SQL_PREFIX)]
                if members or MANIFEST in names:
                    directory = tempfile.mkdtemp(prefix="aurora-restore-sql-")
                    atexit.register(shutil.rmtree, directory, True)
                    for name in members:
                        Path(directory, name[len(SQL_PREFIX):]).write_bytes(archive.read(name))
                    if members:
                        variables[SQL_DIR_ENV] = directory
                    if MANIFEST in names:
                        manifest = Path(directory, ".package.json")
                        manifest.write_bytes(archive.read(MANIFEST))
                        variables[MANIFEST_ENV] = str(manifest)
        except zipfile.BadZipFile:
            variables = {}
        _unpacked[key] = variables
    return dict(_unpacked[key])


def forget_unpacked() -> None:
    """Delete what was unpacked (the server calls it as it stops; atexit is the fallback)."""
    for variables in list(_unpacked.values()):
        for value in variables.values():
            path = Path(value)
            shutil.rmtree(path if path.is_dir() else path.parent, ignore_errors=True)
    _unpacked.clear()


# --- logs, as Lambda writes them ---------------------------------------------------------


class _Capture(logging.Handler):
    """The records logged by one thread (the invocation's) while it runs."""

    def __init__(self, thread: int) -> None:
        super().__init__(logging.DEBUG)
        self.thread = thread
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


@contextmanager
def _captured_logs() -> Iterator[list[logging.LogRecord]]:
    capture = _Capture(threading.get_ident())
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture.records
    finally:
        root.removeHandler(capture)


def _stamp(seconds: float) -> str:
    moment = time.gmtime(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{int(seconds * 1000) % 1000:03d}Z"


def _write_logs(
    function: Any,
    context: LambdaContext,
    started: float,
    records: list[logging.LogRecord],
    error: dict[str, str] | None,
) -> None:
    """Write the invocation's lines to `/aws/lambda/<function>` in moto's logs backend."""
    request = context.aws_request_id
    ended = time.time()
    formatter = logging.Formatter()
    lines = [(started, f"START RequestId: {request} Version: $LATEST")]
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + formatter.formatException(record.exc_info)
        lines.append((record.created, f"[{record.levelname}]\t{_stamp(record.created)}\t{request}\t{text}"))
    if error is not None:
        lines.append((ended, f"[ERROR] {error['errorType']}: {error['errorMessage']}"))
    lines.append((ended, f"END RequestId: {request}"))
    duration = (ended - started) * 1000
    lines.append((ended, (
        f"REPORT RequestId: {request}\tDuration: {duration:.2f} ms\tBilled Duration: "
        f"{max(1, int(duration + 0.999))} ms\tMemory Size: {context.memory_limit_in_mb} MB"
    )))
    try:
        _put_lines(function, lines)
    except Exception:  # logs are a by-product: never fail an invocation over them
        logging.getLogger(__name__).warning("could not write the logs of %s", function.function_name)


def _put_lines(function: Any, lines: list[tuple[float, str]]) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[function.account_id][function.region]
    group = f"/aws/lambda/{function.function_name}"
    if group not in backend.groups:
        backend.create_log_group(group, {})
    stream = time.strftime("%Y/%m/%d/", time.gmtime()) + LOG_STREAM_PREFIX + _instance
    if stream not in backend.groups[group].streams:
        backend.create_log_stream(group, stream)
    events, last = [], 0
    for moment, message in lines:
        last = max(last, int(moment * 1000))  # a PutLogEvents batch is in time order
        events.append({"timestamp": last, "message": message})
    backend.put_log_events(group, stream, events)


# --- the health check's role probe, decided as IAM would ----------------------------------


def _is_health_check(event: Any) -> bool:
    return isinstance(event, dict) and event.get("health_check") is True


def _with_role_decided(function: Any, answer: dict[str, Any]) -> dict[str, Any]:
    """moto allowed the probe whatever the role says: decide it against the role's policies."""
    from .role_policy import decide, role_documents

    probe = answer.get("role")
    if not isinstance(probe, dict) or not probe.get("ok") or not probe.get("action"):
        return answer
    try:
        documents = role_documents(function.account_id, str(function.role))
    except Exception as exc:  # no such role: Lambda could not have run the function at all
        decided = {"ok": False, "detail": f"the role cannot be read: {type(exc).__name__}: {exc}"}
    else:
        decision = decide(documents, str(probe["action"]), str(probe.get("resource") or ""))
        decided = {"ok": decision.allowed, "denied": not decision.allowed,
                   "detail": f"{'allowed' if decision.allowed else 'AccessDenied'}: "
                             f"{decision.reason} (decided by the sandbox: moto does not "
                             "enforce IAM)"}
    role = {**probe, **decided}
    parts = {k: v for k, v in answer.items() if isinstance(v, dict) and "ok" in v}
    parts["role"] = role
    return {**answer, "role": role, "ok": all(bool(p.get("ok")) for p in parts.values())}


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
