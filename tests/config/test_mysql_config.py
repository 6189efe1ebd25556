"""`engine: aurora-mysql`: the shipped example validates; the engine decides the version
format, the default port and schemas, the user names and the log exports; the IAM documents
name its default parameter and option groups; `init --engine aurora-mysql` writes a starter
that validates as written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.reader import ConfigError
from aurora_restore_cli.contract.naming import Names
from aurora_restore_cli.documents.policies.arns import Arns

from ..conftest import CONFIG_DIR, edit_config

ENV = "dev-mysql"


def test_the_mysql_example_loads() -> None:
    settings = load_settings(CONFIG_DIR, ENV)
    target = settings.target
    assert (target.engine, target.engine_version, target.port) == (
        "aurora-mysql", "8.0.mysql_aurora.3.05.2", 3306)
    assert settings.database.schemas == ("orders",)
    assert {r.schema for r in settings.masking.rules} == {"orders"}


def edited(tmp_path: Path, edit: Any) -> Path:
    import shutil

    shutil.copytree(CONFIG_DIR, tmp_path, dirs_exist_ok=True)
    edit_config(tmp_path, ENV, edit)
    return tmp_path


def test_port_and_schemas_default_to_the_engines(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        del data["target"]["port"]
        del data["database"]["schemas"]

    settings = load_settings(edited(tmp_path, edit), ENV)
    assert settings.target.port == 3306 and settings.database.schemas == ("orders",)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("engine_version", "15.4", 'an aurora-mysql version such as "8.0.mysql_aurora.3.05.2"'),
    ("engine_version", "8.0.32", "aurora-mysql version"),
    ("log_exports", ["postgresql"], "one of audit, error, general, slowquery"),
    ("engine", "mysql", "aurora-postgresql"),
])
def test_target_keys_the_engine_decides(tmp_path: Path, key: str, value: Any,
                                        message: str) -> None:
    config = edited(tmp_path, lambda data: data["target"].update({key: value}))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_settings(config, ENV)


def test_a_postgresql_version_stays_a_postgresql_one(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(CONFIG_DIR, tmp_path, dirs_exist_ok=True)
    edit_config(tmp_path, "dev", lambda d: d["target"].update(engine_version="8.0.mysql_aurora.3.05.2"))
    with pytest.raises(ConfigError, match=r'aurora-postgresql version such as "15\.4"'):
        load_settings(tmp_path, "dev")


@pytest.mark.parametrize("name", ["u" * 33, "rdsadmin", "root"])
def test_mysql_user_names(tmp_path: Path, name: str) -> None:
    config = edited(tmp_path, lambda d: d["database"]["users"].append(
        {"name": name, "privilege": "read-only"}))
    with pytest.raises(ConfigError, match="MySQL user names have at most 32 characters"):
        load_settings(config, ENV)


def test_mysql_user_names_of_63_bytes_are_postgresql_only(tmp_path: Path) -> None:
    name = "u" * 40
    config = edited(tmp_path, lambda d: d["database"]["users"].append(
        {"name": name, "privilege": "read-only"}))
    with pytest.raises(ConfigError):
        load_settings(config, ENV)
    import shutil

    other = tmp_path / "pg"
    shutil.copytree(CONFIG_DIR, other)
    edit_config(other, "dev", lambda d: d["database"]["users"].append(
        {"name": name, "privilege": "read-only"}))
    assert load_settings(other, "dev").database.users[-1].name == name


def test_iam_names_the_default_aurora_mysql_groups() -> None:
    settings = load_settings(CONFIG_DIR, ENV)
    arns = Arns(settings, Names(ENV, settings.region, settings.account_id))
    prefix = f"arn:aws:rds:us-east-1:{settings.account_id}"
    assert arns.cluster_parameter_group() == f"{prefix}:cluster-pg:default.aurora-mysql8.0"
    assert arns.instance_parameter_group() == f"{prefix}:pg:default.aurora-mysql8.0"
    assert arns.option_group() == f"{prefix}:og:default:aurora-mysql-8-0"
    pg = load_settings(CONFIG_DIR, "dev")
    pg_arns = Arns(pg, Names("dev", pg.region, pg.account_id))
    assert pg_arns.cluster_parameter_group().endswith(":cluster-pg:default.aurora-postgresql15")
    assert pg_arns.option_group().endswith(":og:default:aurora-postgresql-15")


def test_the_lambda_role_may_restore_against_those_groups() -> None:
    result = CliRunner().invoke(cli, ["render", "--local", "--env", ENV, "--config-dir",
                                      str(CONFIG_DIR), "-o", "json"])
    assert result.exit_code == 0, result.output
    text = json.dumps(json.loads(result.stdout))
    assert "cluster-pg:default.aurora-mysql8.0" in text and "og:default:aurora-mysql-8-0" in text
    assert "aurora-postgresql" not in text


def test_init_engine_mysql_writes_a_starter_that_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--env", "qa", "--engine", "aurora-mysql", "--dir",
                                 str(tmp_path), "-o", "json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["engine"] == "aurora-mysql"
    assert [Path(f["path"]).relative_to(tmp_path).as_posix() for f in written["files"]] == [
        "qa.yaml", "sql/mysql/drill_checks.sql", "sql/mysql/scrub_notes.sql"]
    text = (tmp_path / "qa.yaml").read_text()
    assert "engine: aurora-mysql" in text and "cluster_id: qa-orders" in text
    assert "dev-mysql" not in text.split("\n", 5)[-1].replace("config/dev-mysql.yaml", "")
    settings = load_settings(tmp_path, "qa")
    assert settings.target.engine == "aurora-mysql" and settings.environment == "qa"
    validated = runner.invoke(cli, ["validate", "--local", "--env", "qa", "--config-dir",
                                    str(tmp_path)])
    assert validated.exit_code == 0, validated.output
    # the shipped prod example is PostgreSQL: a MySQL prod starts from dev-mysql instead
    prod = runner.invoke(cli, ["init", "--env", "prod", "--engine", "aurora-mysql", "--dir",
                               str(tmp_path / "p")])
    assert prod.exit_code == 0, prod.output
    assert load_settings(tmp_path / "p", "prod").target.engine == "aurora-mysql"
