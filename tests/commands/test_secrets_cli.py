"""`aurora-restore secrets set`: values from stdin or a file, never argv, never echoed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli

VALUE = "s3cr3t-Value-never-printed"


def _run(moto_config_dir: Path, server: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, [*args, "--env", "dev", "--config-dir", str(moto_config_dir), "--endpoint-url", server],
        input=stdin,
    )
    return result.exit_code, result.output


def test_set_master_from_stdin_and_app_from_file(reset_moto: str, moto_config_dir: Path,
                                                 tmp_path: Path) -> None:
    code, out = _run(moto_config_dir, reset_moto, "setup", "secrets")
    assert code == 0, out
    code, out = _run(moto_config_dir, reset_moto, "secrets", "set", "master", "-o", "json",
                     stdin=json.dumps({"username": "postgres", "password": VALUE}))
    assert code == 0, out
    assert json.loads(out)["secret"] == "aurora-restore/dev/master"
    assert VALUE not in out

    import boto3

    sm = boto3.client("secretsmanager", "us-east-1", endpoint_url=reset_moto)
    stored = json.loads(sm.get_secret_value(SecretId="aurora-restore/dev/master")["SecretString"])
    assert stored == {"username": "postgres", "password": VALUE}

    app_doc = {"host": "", "port": 5432, "dbname": "orders",
               "users": {"orders_app": VALUE + "1", "orders_readonly": VALUE + "2"}}
    file = tmp_path / "app.json"
    file.write_text(json.dumps(app_doc))
    code, out = _run(moto_config_dir, reset_moto, "secrets", "set", "app", "--file", str(file))
    assert code == 0, out
    assert VALUE not in out

    # a re-run of setup keeps the values
    code, out = _run(moto_config_dir, reset_moto, "setup", "secrets", "-v")
    assert code == 0 and VALUE not in out
    stored = json.loads(sm.get_secret_value(SecretId="aurora-restore/dev/app")["SecretString"])
    assert stored["users"]["orders_app"] == VALUE + "1"


def test_bad_documents_are_usage_errors(reset_moto: str, moto_config_dir: Path) -> None:
    _run(moto_config_dir, reset_moto, "setup", "secrets")
    code, out = _run(moto_config_dir, reset_moto, "secrets", "set", "master", stdin="{not json " + VALUE)
    assert code == 2
    assert VALUE not in out
    code, out = _run(moto_config_dir, reset_moto, "secrets", "set", "app",
                     stdin=json.dumps({"users": {"someone_else": VALUE}}))
    assert code == 2, out
    assert VALUE not in out


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short7!", "8 to 128 characters"),
        ("x" * 129, "8 to 128 characters"),
        ("has a space in it", "must not contain"),
        ("user@example-pw", "must not contain"),
        ("slash/inside-pw", "must not contain"),
        ('quote"inside-pw', "must not contain"),
        ("caf\u00e9-password-1", "printable ASCII"),
        ("tab\there-password", "printable ASCII"),
    ],
)
def test_master_passwords_rds_refuses_are_usage_errors(
    reset_moto: str, moto_config_dir: Path, password: str, why: str
) -> None:
    _run(moto_config_dir, reset_moto, "setup", "secrets")
    code, out = _run(moto_config_dir, reset_moto, "secrets", "set", "master",
                     stdin=json.dumps({"username": "postgres", "password": password}))
    assert code == 2, out
    assert why in out
    assert password not in out


def test_generated_passwords_follow_the_rds_rules() -> None:
    import boto3
    from moto import mock_aws

    from aurora_restore_cli.resources.secrets import generate_password, master_password_problem

    with mock_aws():
        sm = boto3.client("secretsmanager", "us-east-1")
        for _ in range(50):
            assert master_password_problem(generate_password(sm)) is None
    assert master_password_problem("Valid-pass#word~1") is None


@pytest.mark.parametrize("which", ["master", "app"])
def test_on_a_terminal_it_says_how_to_pipe_this_secret_in(which: str) -> None:
    import os
    import subprocess
    import sys

    from ..conftest import CONFIG_DIR, ROOT

    leader, follower = os.openpty()  # stdin is a terminal: nothing to read a value from
    try:
        done = subprocess.run(
            [sys.executable, "-m", "aurora_restore_cli", "secrets", "set", which, "--env", "dev",
             "--config-dir", str(CONFIG_DIR)], stdin=follower, capture_output=True, text=True,
            timeout=60, cwd=ROOT)
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: pipe the JSON document in (aurora-restore secrets set {which} --env dev < "
        f"{which}.json) or pass --file PATH")
