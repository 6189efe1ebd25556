"""`aurora-restore secrets set`: values from stdin or a file, never argv, never echoed."""

from __future__ import annotations

import json
from pathlib import Path

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
