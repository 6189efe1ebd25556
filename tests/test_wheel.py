"""The wheel is the product: build it from the sources, install it into a fresh virtualenv,
and use it from an empty directory, away from the repository.

Offline and fast: the wheel is built without build isolation (the dev extra brings a
setuptools with bdist_wheel) and installed with `--no-index --no-deps`; the fresh venv reuses
this venv's already-installed dependencies through a path entry (`.pth`) — a plain directory
entry, so this venv's editable install of the checkout is *not* visible there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md",
           "aurora_restore_cli", "handlers", "definitions", "config")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the sources (the build must not write into the checkout)."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--no-index", "--quiet", "--wheel-dir", str(dist), str(source)], cwd=source)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = dist.glob("aurora_restore-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding only the wheel (deps come from this venv); returns its bin/."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                 "--no-index", "--quiet", str(wheel)], cwd=venv.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=venv.parent).stdout.strip()
    Path(site, "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield venv / "bin"


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "empty"
    directory.mkdir()
    return directory


def test_wheel_ships_the_pipeline_as_package_data_and_no_top_level_handlers(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert tops == {"aurora_restore_cli"}  # no top-level `handlers` (or anything else)
    bundle = "aurora_restore_cli/_bundle/"
    for shipped in ("handlers/__init__.py", "handlers/lib/db.py", "handlers/CONTRACT.md",
                    "definitions/pipeline.asl.json", "config/dev.yaml", "config/sql/scrub_notes.sql",
                    "handlers/lib/masking.py", "handlers/lib/engines/postgresql.py"):
        assert bundle + shipped in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_installed_wheel_works_from_an_empty_directory(installed: Path, empty_dir: Path) -> None:
    tool = str(installed / "aurora-restore")
    python = str(installed / "python")
    where = _run([python, "-c", "import aurora_restore_cli; print(aurora_restore_cli.__file__)"],
                 cwd=empty_dir)
    assert where.returncode == 0 and str(installed.parent) in where.stdout  # the wheel, not ROOT
    no_handlers = _run([python, "-c", "import handlers"], cwd=empty_dir)
    assert no_handlers.returncode == 1 and "No module named 'handlers'" in no_handlers.stderr

    helped = _run([tool, "--help"], cwd=empty_dir)
    assert helped.returncode == 0 and "demo" in helped.stdout and "init" in helped.stdout

    started = _run([tool, "init", "--env", "qa", "--dir", "cfg"], cwd=empty_dir)
    assert started.returncode == 0, started.stderr
    validated = _run([tool, "validate", "--local", "--env", "qa", "--config-dir", "cfg"],
                     cwd=empty_dir)
    assert validated.returncode == 0, validated.stderr
    states = len(json.loads((ROOT / "definitions" / "pipeline.asl.json").read_text())["States"])
    assert f"definition pipeline.asl.json: {states} states" in validated.stdout

    drawn = _run([tool, "diagram"], cwd=empty_dir)
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith("flowchart TD") and "MaskData" in drawn.stdout
    for done in (helped, started, validated, drawn):
        assert "Traceback" not in done.stderr


def test_installed_wheel_runs_the_demo_from_an_empty_directory(
    installed: Path, empty_dir: Path
) -> None:
    done = _run([str(installed / "aurora-restore"), "demo"], cwd=empty_dir,
                env={"TMPDIR": str(empty_dir.parent)}, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "refresh SUCCEEDED" in output and "demo finished" in output
    # the bundled handlers ran the database steps on the sandbox's PostgreSQL (CI has one)
    assert "database steps run on a private PostgreSQL" in output
    assert "refresh FAILED at scan-pii (PiiFound)" in output  # the PII gate, from the wheel too
    assert "@example.invalid" in output and "hand-written SQL: after: 01_scrub_notes.sql" in output
    assert list(empty_dir.iterdir()) == []  # the demo wrote nothing where it was started
