"""What a newcomer runs into first: every mistake gets its exit code and one clear line (no
traceback), and `--output json` always yields one JSON document on stdout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aurora_restore_cli.cli import cli

from ..conftest import CONFIG_DIR, ROOT


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    # an unhandled exception would be a traceback for the user
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_error_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, directory)
    return directory


def edit(config: Path, old: str, new: str, env: str = "dev") -> Path:
    file = config / f"{env}.yaml"
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new, 1))
    return file


# --- endpoints ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["not-a-url", "127.0.0.1:5000", "ftp://host", "http://:99"])
def test_bad_endpoint_url_option_is_a_usage_error(url: str) -> None:
    result = invoke("status", "--env", "dev", "--config-dir", str(CONFIG_DIR),
                    "--endpoint-url", url)
    assert result.exit_code == 2
    assert f"--endpoint-url {url!r} is not an endpoint URL" in one_error_line(result)


def test_bad_aws_endpoint_url_variable_is_named_and_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aurora_restore_cli", "status", "--env", "dev", "--config-dir",
         str(CONFIG_DIR)], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "AWS_ENDPOINT_URL": "127.0.0.1:5000"},
    )
    assert done.returncode == 2
    assert "AWS_ENDPOINT_URL '127.0.0.1:5000' is not an endpoint URL" in done.stderr
    assert "Traceback" not in done.stderr


# --- before setup -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        (["run"], "state machine aurora-restore-pipeline-dev"),
        (["run", "--wait"], "state machine aurora-restore-pipeline-dev"),
        (["executions"], "state machine aurora-restore-pipeline-dev"),
        (["history", "dev-20260101-000000-abcdef"], "audit table aurora-restore-audit-dev"),
    ],
)
def test_run_commands_before_setup_say_what_to_do(
    command: list[str], missing: str, reset_moto: str, moto_config_dir: Path
) -> None:
    result = invoke(*command, "--env", "dev", "--config-dir", str(moto_config_dir),
                    "--endpoint-url", reset_moto)
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"env dev is not set up in account 123456789012, us-east-1: the {missing} does not " \
           "exist; run `aurora-restore setup --env dev` first" in line


# --- config mistakes ----------------------------------------------------------------------


def test_misspelled_required_key_names_both_keys(config: Path) -> None:
    file = edit(config, "instance_count: 1", "instance_cont: 1")
    result = invoke("validate", "--env", "dev", "--config-dir", str(config))
    assert result.exit_code == 2
    assert one_error_line(result) == (
        f"error: {file}: target.instance_count: required key is missing "
        "(target.instance_cont is not a known key: did you mean instance_count?)"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("snapshot_type: any", "snapshot_tipe: any", "source.snapshot_tipe: unknown key; did you "
                                                     "mean snapshot_type?"),
        ("iam_auth: false", "iam_auth: false\n  iam_authentication: true",
         "target.iam_authentication: unknown key; did you mean iam_auth?"),
        ("ttl_days: 365", "ttl_days: 365\n  zzz: 1", "audit.zzz: unknown key; known keys here: "
                                                      "billing_mode, kms_key_id"),
        ("schedule: null", "schedule: null\nalarm:\n  period_seconds: 60",
         "alarm: unknown key; did you mean alarms?"),
    ],
)
def test_any_unknown_key_suggests_the_closest_known_one(
    config: Path, old: str, new: str, expected: str
) -> None:
    edit(config, old, new)
    result = invoke("validate", "--env", "dev", "--config-dir", str(config))
    assert result.exit_code == 2
    assert expected in one_error_line(result)


def test_unknown_region_is_refused_from_botocores_partition_data(config: Path) -> None:
    edit(config, "region: us-east-1 ", "region: us-east-9 ")
    result = invoke("validate", "--env", "dev", "--config-dir", str(config))
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "region: 'us-east-9' is not an AWS region (not in botocore's partition data)" in line
    assert "did you mean us-east-2" in line
    edit(config, "region: us-east-9 ", "region: us-east-1 ")
    edit(config, "  region: us-west-2 ", "  region: eu-north-9 ")
    line = one_error_line(invoke("validate", "--env", "dev", "--config-dir", str(config)))
    assert "source.region: 'eu-north-9' is not an AWS region" in line
    edit(config, "  region: eu-north-9 ", "  region: cn-north-1 ")  # known, another partition
    line = one_error_line(invoke("validate", "--env", "dev", "--config-dir", str(config)))
    assert "source.region: cn-north-1 is in partition aws-cn, region us-east-1 in aws" in line


@pytest.mark.parametrize("key", ["audit.kms_key_id", "secrets.kms_key_id",
                                 "notifications.kms_key_id", "target.kms_key_id"])
def test_a_kms_arn_in_another_region_names_its_key(config: Path, key: str) -> None:
    arn = "arn:aws:kms:eu-west-1:111111111111:key/1b2c3d4e-1111-2222-3333-444455556666"
    section = key.split(".")[0]
    text = (config / "dev.yaml").read_text()
    # replace the kms_key_id line inside that section only
    start = text.index(f"\n{section}:")
    line_start = text.index("  kms_key_id:", start)
    line_end = text.index("\n", line_start)
    (config / "dev.yaml").write_text(text[:line_start] + f"  kms_key_id: {arn}" + text[line_end:])
    result = invoke("validate", "--env", "dev", "--config-dir", str(config))
    assert result.exit_code == 2
    assert f"{key}: is a key in eu-west-1, but region is us-east-1" in one_error_line(result)


def test_unknown_env_lists_the_environments_there(config: Path) -> None:
    result = invoke("plan", "--env", "nosuch", "--config-dir", str(config))
    assert result.exit_code == 2
    assert (f"no environment 'nosuch': {config}/nosuch.yaml does not exist (environments in "
            f"{config}/: dev, dev-mysql, prod, staging)") in one_error_line(result)


def test_missing_config_directory_says_how_to_make_one(tmp_path: Path) -> None:
    result = invoke("validate", "--env", "dev", "--config-dir", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "aurora-restore init --env dev" in one_error_line(result)


def test_duplicate_key_names_both_lines(config: Path) -> None:
    file = edit(config, "  instance_count: 1\n", "  instance_count: 1\n  port: 5432\n"
                "  instance_count: 2\n")
    lines = file.read_text().splitlines()
    first = lines.index("  instance_count: 1") + 1
    result = invoke("validate", "--env", "dev", "--config-dir", str(config))
    assert result.exit_code == 2
    assert f"duplicate key 'instance_count' (lines {first} and {first + 2}; keep one)" in \
        one_error_line(result)


# --- JSON errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["validate", "--env", "nosuch", "-o", "json"], 2, "no environment 'nosuch'"),
        (["-o", "json", "--bogus"], 2, "No such option '--bogus'"),
        (["run", "--bogus", "--output", "json"], 2, "No such option '--bogus'"),
        (["--output=json", "setup", "nostep"], 2, "'nostep' is not one of"),
        (["status", "--env", "dev", "-o", "json", "--endpoint-url", "x"], 2, "--endpoint-url"),
    ],
)
def test_errors_in_json_mode_are_one_json_document(
    args: list[str], code: int, message: str
) -> None:
    done = subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == code
    document = json.loads(done.stdout)  # exactly one document, nothing else on stdout
    assert document["exit_code"] == code and message in document["error"]
    assert "Traceback" not in done.stderr


def test_json_failure_after_the_result_is_merged_into_one_document(
    reset_moto: str, moto_config_dir: Path
) -> None:
    result = invoke("executions", "--env", "dev", "--config-dir", str(moto_config_dir),
                    "--endpoint-url", reset_moto, "-o", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document == {"error": document["error"], "exit_code": 1}
    assert "aurora-restore setup --env dev" in document["error"]


# --- version, completion, README, init ----------------------------------------------------


def test_version_and_shell_completion() -> None:
    from aurora_restore_cli import __version__

    assert invoke("--version").stdout.strip() == f"aurora-restore, version {__version__}"
    done = subprocess.run([sys.executable, "-c", "from aurora_restore_cli.cli import main; main()"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "_AURORA_RESTORE_COMPLETE": "bash_source"})
    assert done.returncode == 0 and "_aurora_restore_completion" in done.stdout
    readme = (ROOT / "README.md").read_text()
    assert "_AURORA_RESTORE_COMPLETE=bash_source" in readme  # documented


def test_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("### Commands", 1)[1].split("```")[1]
    listed = set(re.findall(r"^  ([a-z-]+)", block, re.M))
    listed |= {name for line in re.findall(r"^  ([a-z-]+ / [a-z-]+)", block, re.M)
               for name in line.split(" / ")}
    assert set(cli.commands) <= listed, set(cli.commands) - listed


def test_init_writes_a_starter_that_validates_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "cfg"
    result = invoke("init", "--env", "qa", "--dir", str(target), "-o", "json")
    assert result.exit_code == 0, result.stderr
    written = json.loads(result.stdout)["files"]
    assert [Path(f["path"]).name for f in written] == ["qa.yaml", "drill_checks.sql", "scrub_notes.sql"]
    text = (target / "qa.yaml").read_text()
    assert text.startswith("# Written by `aurora-restore init --env qa`")
    assert "environment: qa" in text and "cluster_id: qa-orders" in text
    assert invoke("validate", "--local", "--env", "qa", "--config-dir", str(target)).exit_code == 0

    again = invoke("init", "--env", "qa", "--dir", str(target))
    assert again.exit_code == 2 and "refusing to overwrite" in one_error_line(again)
    (target / "sql" / "scrub_notes.sql").write_text("-- mine\n")
    other = invoke("init", "--env", "uat", "--dir", str(target))
    assert other.exit_code == 2 and "scrub_notes.sql exists with other content" in other.stderr
    assert not (target / "uat.yaml").exists()  # refused before writing anything
    assert (target / "sql" / "scrub_notes.sql").read_text() == "-- mine\n"

    prod = invoke("init", "--env", "prod", "--dir", str(tmp_path / "p"))
    assert prod.exit_code == 0, prod.stderr  # the shipped prod example, which validates
    assert "cluster_id: prod-orders-reporting" in (tmp_path / "p" / "prod.yaml").read_text()
    bad = invoke("init", "--env", "Bad_Name", "--dir", str(tmp_path / "b"))
    assert bad.exit_code == 2 and "not an environment name" in one_error_line(bad)


# --- validate agrees with plan, and lists every problem -------------------------------------


def test_validate_and_plan_agree_on_the_ca_bundle(config: Path) -> None:
    """Against AWS both require the RDS CA bundle (exit 2 before any AWS call); on the sandbox
    (--local) neither does."""
    validated = invoke("validate", "--env", "dev", "--config-dir", str(config))
    planned = invoke("plan", "--env", "dev", "--config-dir", str(config))
    assert validated.exit_code == planned.exit_code == 2
    assert "database.ca_bundle: is required against AWS" in one_error_line(validated)
    assert one_error_line(validated) == one_error_line(planned)
    assert invoke("validate", "--local", "--env", "dev", "--config-dir", str(config)).exit_code == 0
    from ..certs import write_ca_bundle

    write_ca_bundle(config / "rds-global-bundle.pem")
    edit(config, "ca_bundle: null", "ca_bundle: rds-global-bundle.pem")
    validated = invoke("validate", "--env", "dev", "--config-dir", str(config))
    assert validated.exit_code == 0, validated.output
    assert "ok database.ca_bundle" in validated.stdout


def test_validate_reports_every_problem_of_the_file_at_once(config: Path) -> None:
    edit(config, "instance_count: 1", "instance_count: two")
    edit(config, "snapshot_type: any", "snapshot_tipe: any")
    edit(config, "memory_mb: 256", "memory_mb: 1")
    edit(config, "schedule: null", "schedule: null\nalarm:\n  period_seconds: 60")
    result = invoke("validate", "--local", "--env", "dev", "--config-dir", str(config))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"error: {config / 'dev.yaml'}: 4 problems:"
    assert [line.split(":", 1)[0].strip() for line in lines[1:]] == [
        "source.snapshot_tipe", "target.instance_count", "lambda.memory_mb", "alarm"]
    json_result = invoke("validate", "--local", "--env", "dev", "--config-dir", str(config),
                         "-o", "json")
    assert json.loads(json_result.stdout)["error"].startswith(f"{config / 'dev.yaml'}: 4 problems")


def test_the_readmes_sample_message_is_what_the_cli_prints(config: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    sample = re.search(r"`(config/dev\.yaml: target\.instance_count: required key is missing\s+"
                       r"\(target\.instance_cont[^`]*)`", readme)
    assert sample, "the README's misspelled-key sample"
    edit(config, "instance_count: 1", "instance_cont: 1")
    result = invoke("validate", "--local", "--env", "dev", "--config-dir", str(config))
    printed = one_error_line(result).removeprefix("error: ").replace(str(config), "config")
    assert printed == " ".join(sample[1].split())
