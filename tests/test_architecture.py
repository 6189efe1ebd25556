"""The layer contract (pyproject.toml, [tool.importlinter]) holds, and it has teeth: a resource
module that imports the CLI's face breaks it, as a circle does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def copy_tree(tmp_path: Path) -> Path:
    for name in ("aurora_restore_cli", "handlers"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_contract_is_kept() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "aurora_restore_cli/resources/table.py",
            "from ..face import app  # a resource reaching up to the face",
            "aurora_restore_cli.resources.table -> aurora_restore_cli.face.app",
        ),
        (
            "aurora_restore_cli/config/settings.py",
            "from ..contract import naming  # config reaching up to the contract",
            "aurora_restore_cli.config.settings -> aurora_restore_cli.contract.naming",
        ),
        (
            "handlers/lib/tags.py",
            "from aurora_restore_cli import bundled  # the Lambda code importing the CLI",
            "handlers.lib.tags -> aurora_restore_cli.bundled",
        ),
        (
            "handlers/lib/errors.py",
            "from handlers.lib import audit  # a circle: audit imports errors",
            "No cycles are allowed in handlers.lib",
        ),
    ],
)
def test_a_breach_fails_the_contract(tmp_path: Path, module: str, line: str, broken: str) -> None:
    tree = copy_tree(tmp_path)
    with (tree / module).open("a") as out:
        out.write(f"\n{line}\n")
    done = lint(tree)
    assert done.returncode == 1, done.stdout
    assert broken in done.stdout
