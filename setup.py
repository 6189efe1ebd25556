"""Build hook: ship the pipeline beside the CLI as package data.

The repository keeps `handlers/`, `definitions/` and `config/` at its top level (the layout the
design asks for). A wheel must work from any directory without the repository, and must not
install a top-level `handlers` package, so `build_py` copies those trees under
`aurora_restore_cli/_bundle/` in the build; `aurora_restore_cli/bundled.py` finds them there
(or, in a checkout / editable install, at the top of the repository). Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("handlers", "definitions", "config")  # = aurora_restore_cli.bundled.SHIPPED
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


class BuildPyWithBundle(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own directories
        bundle = Path(self.build_lib) / "aurora_restore_cli" / "_bundle"
        shutil.rmtree(bundle, ignore_errors=True)  # a stale build/ must not leak old files
        for name in SHIPPED:
            shutil.copytree(HERE / name, bundle / name, ignore=IGNORED)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        bundle = Path(self.build_lib) / "aurora_restore_cli" / "_bundle"
        outputs.extend(str(p) for p in bundle.rglob("*") if p.is_file())
        return outputs


setup(cmdclass={"build_py": BuildPyWithBundle})
