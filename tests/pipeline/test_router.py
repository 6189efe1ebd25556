"""aurora_restore_cli.sandbox.lambda_router: moto's no-Docker Lambda runs our handlers."""

from __future__ import annotations

import json
import logging
import os
import sys
import types
from collections.abc import Iterator

import pytest
from moto.awslambda_simple.models import LambdaSimpleBackend

from aurora_restore_cli.sandbox import lambda_router

from . import support

MODULE = "handlers._router_probe"


class ProbeFailed(Exception):
    pass


@pytest.fixture
def probe() -> Iterator[types.ModuleType]:
    """A throwaway handler module under the `handlers` package."""
    module = types.ModuleType(MODULE)

    def handler(event: dict, context: object) -> dict:
        if event.get("log"):
            logging.getLogger("aurora_restore").warning("probe says %s", event["log"])
        if event.get("fail"):
            raise ProbeFailed("asked to fail")
        return {
            "echo": event,
            "env": os.environ.get("PROBE_VAR"),
            "region": os.environ.get("AWS_REGION"),
            "function": getattr(context, "function_name", None),
        }

    module.handler = handler  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    yield module
    del sys.modules[MODULE]


def create(name: str, handler: str, region: str = support.REGION) -> None:
    role = support.client("iam", region).create_role(
        RoleName=f"r-{name}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    support.client("lambda", region).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": b"x"},
        Environment={"Variables": {"PROBE_VAR": "from-function"}},
    )


def invoke(name: str, payload: dict, region: str = support.REGION) -> tuple[dict, str | None]:
    response = support.client("lambda", region).invoke(
        FunctionName=name, Payload=json.dumps(payload)
    )
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_routes_to_the_handler_with_the_function_environment(
    aws: None, router: None, probe: types.ModuleType
) -> None:
    create("probe", f"{MODULE}.handler", region="us-west-2")
    assert os.environ.get("PROBE_VAR") is None
    result, error = invoke("probe", {"a": 1}, region="us-west-2")
    assert error is None
    assert result == {
        "echo": {"a": 1},
        "env": "from-function",
        "region": "us-west-2",
        "function": "probe",
    }
    assert os.environ.get("PROBE_VAR") is None  # restored after the call
    assert os.environ["AWS_DEFAULT_REGION"] == support.REGION


def test_exception_becomes_an_unhandled_error_named_by_its_class(
    aws: None, router: None, probe: types.ModuleType
) -> None:
    create("probe", f"{MODULE}.handler")
    result, error = invoke("probe", {"fail": True})
    assert error == "Unhandled"
    assert result == {"errorType": "ProbeFailed", "errorMessage": "asked to fail"}


def test_each_invocation_writes_its_lines_to_the_functions_log_group_as_lambda_does(
    aws: None, router: None, probe: types.ModuleType
) -> None:
    create("probe", f"{MODULE}.handler")
    invoke("probe", {"log": "hello"})
    invoke("probe", {"fail": True})
    events = support.client("logs").filter_log_events(logGroupName="/aws/lambda/probe")["events"]
    messages = [e["message"] for e in events]
    assert [m.split(" ")[0] for m in messages if not m.startswith("[")] == [
        "START", "END", "REPORT", "START", "END", "REPORT"]
    request = messages[0].split()[2]
    (logged,) = [m for m in messages if "probe says" in m]
    assert logged.startswith("[WARNING]\t") and logged.split("\t")[2] == request
    assert "probe says hello" in logged
    assert "[ERROR] ProbeFailed: asked to fail" in messages
    report = next(m for m in messages if m.startswith("REPORT"))
    assert "Duration: " in report and "Memory Size: 128 MB" in report
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)


def test_other_handlers_keep_moto_behaviour(aws: None, router: None) -> None:
    create("other", "index.handler")
    result, error = invoke("other", {"b": 2})
    assert error is None and result == {"b": 2}  # moto's simple backend echoes


def test_install_and_uninstall_restore_the_original() -> None:
    original = LambdaSimpleBackend.invoke
    lambda_router.install()
    lambda_router.install()  # idempotent: no stacked patches
    assert LambdaSimpleBackend.invoke is not original and lambda_router.installed()
    lambda_router.uninstall()
    assert LambdaSimpleBackend.invoke is original and not lambda_router.installed()
    with lambda_router.routing():
        assert lambda_router.installed()
    assert LambdaSimpleBackend.invoke is original


def test_extra_env_is_applied_during_calls(aws: None, probe: types.ModuleType) -> None:
    with lambda_router.routing(extra_env={"PROBE_VAR": "extra"}):
        create("probe", f"{MODULE}.handler")
        result, _ = invoke("probe", {})
    assert result["env"] == "extra"


def test_sql_files_in_the_functions_zip_are_where_mask_data_looks(aws: None, router: None) -> None:
    import io
    import zipfile
    from pathlib import Path

    module = types.ModuleType(MODULE)

    def handler(event: dict, context: object) -> dict:
        directory = Path(os.environ["AURORA_RESTORE_SQL_DIR"])
        return {p.name: p.read_text() for p in sorted(directory.iterdir())}

    module.handler = handler  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/__init__.py", "")
        archive.writestr("handlers/sql/01_mask.sql", "UPDATE t SET x = 1;")
        archive.writestr("handlers/sql/02_more.sql", "SELECT 1;")
    role = support.client("iam").create_role(RoleName="r-sql", AssumeRolePolicyDocument="{}")
    try:
        support.client("lambda").create_function(
            FunctionName="sql",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler=f"{MODULE}.handler",
            Code={"ZipFile": buffer.getvalue()},
        )
        result, error = invoke("sql", {})
    finally:
        del sys.modules[MODULE]
    assert error is None
    assert result == {"01_mask.sql": "UPDATE t SET x = 1;", "02_more.sql": "SELECT 1;"}
    assert "AURORA_RESTORE_SQL_DIR" not in os.environ  # only during the call
