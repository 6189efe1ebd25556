"""Every command the README shows is run here, so the README cannot drift from the CLI.

The blocks "The first real run" and "Daily use" are run in order on a sandbox (each command
with `--local` added: the sandbox stands in for the account; `sandbox seed` first gives it
what a real account already has). Every other `aurora-restore` line of the README must at
least parse: its command exists and takes those options (Click resolves it, `--help` after it
exits 0). The wheel's block ("Install as a tool") is run from the installed wheel by
tests/test_wheel.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT

README = (ROOT / "README.md").read_text()
PASSWORD = "Readme-Master-Password-1"


def bash_block(heading: str) -> list[str]:
    """The `aurora-restore …` lines of the first bash block under `heading`."""
    section = README.split(heading, 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines()
            if line.strip().startswith("aurora-restore ")]


def every_command_line() -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            line = re.sub(r"^cd \S+ && ", "", line)
            if line.startswith("aurora-restore "):
                lines.append(line)
    return lines


def cli(args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], cwd=cwd,
                          env={**os.environ, **env}, input=stdin, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("line", every_command_line())
def test_every_readme_command_parses(line: str, tmp_path: Path) -> None:
    words = [w for w in shlex.split(line.split("<", 1)[0])[1:] if w != "--wait"]
    done = cli([*words, "--help"], tmp_path, {})
    assert done.returncode == 0, f"{line}: {done.stderr}"


def test_the_first_real_run_and_daily_use_blocks_run_on_the_sandbox(tmp_path: Path) -> None:
    first, daily = bash_block("## The first real run"), bash_block("## Daily use")
    assert len(first) >= 8 and len(daily) >= 7
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path / "box"),
           "AURORA_RESTORE_SANDBOX_POSTGRES": "off", "AWS_PROFILE": "platform-admin"}
    (tmp_path / "master.json").write_text(json.dumps({"username": "postgres",
                                                      "password": PASSWORD}))
    operation = ""
    try:
        for line in [*first, *daily]:
            command = line.replace("OPERATION_ID", operation)
            words = shlex.split(command.split("<", 1)[0])[1:]
            stdin = (tmp_path / "master.json").read_text() if "< master.json" in command else None
            if words[0] == "setup":  # what a real account already has: the sandbox's seed
                seeded = cli(["--local", "sandbox", "seed", "--env", "dev"], tmp_path, env)
                assert seeded.returncode == 0, seeded.stderr
            if words[0] == "run":
                words += ["-o", "json"]
            done = cli(["--local", *words, *(["--yes"] if words[0] == "cleanup" else [])],
                       tmp_path, env, stdin)
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            if words[0] == "run":
                result = json.loads(done.stdout)
                assert result["status"] == "SUCCEEDED"
                operation = result["operation_id"]
            assert PASSWORD not in done.stdout + done.stderr
    finally:
        cli(["sandbox", "stop"], tmp_path, env)
