"""Where the files that ship beside the code are: the pipeline's handlers, the state-machine
definition, the example configs and their SQL.

The repository keeps them at its top level (`handlers/`, `definitions/`, `config/`). A wheel
carries them as package data under `aurora_restore_cli/_bundle/` with the same layout (setup.py
copies them there at build time), so the installed tool works from any directory without
putting a top-level `handlers` package on anyone's sys.path. An editable install or a
checkout has no `_bundle/` and uses the repository's own directories.

The CLI never imports the handlers: it reads their step lists from `handlers/__init__.py`
(`handler_steps()`), loads the pure polling rule (`polling()`) and SQL check splitter
(`handler_lib("sql_text")`) from their files, packages their files, and the sandbox's server
process puts `root()` on its own sys.path to run them, as Lambda does with the zip.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLE_DIR = PACKAGE_DIR / "_bundle"  # in an installed wheel
CHECKOUT_DIR = PACKAGE_DIR.parent  # a checkout (editable install, tests)
SHIPPED = ("handlers", "definitions", "config")  # what setup.py copies into _bundle/


def root() -> Path:
    """The directory holding `handlers/`, `definitions/` and `config/`."""
    if (BUNDLE_DIR / "definitions").is_dir():
        return BUNDLE_DIR
    return CHECKOUT_DIR


def handlers_dir() -> Path:
    return root() / "handlers"


def definition_file() -> Path:
    return root() / "definitions" / "pipeline.asl.json"


def example_config_dir() -> Path:
    """The example configs (dev, staging, prod) and their `sql/`."""
    return root() / "config"


@lru_cache(maxsize=1)
def _step_lists() -> dict[str, tuple[str, ...]]:
    """The tuples assigned in `handlers/__init__.py`, read without importing the package."""
    source = (handlers_dir() / "__init__.py").read_text(encoding="utf-8")
    found: dict[str, tuple[str, ...]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            name, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if not isinstance(target, ast.Name):
                continue
            name, value = target.id, node.value
        else:
            continue
        try:
            found[name] = tuple(ast.literal_eval(value))
        except ValueError:
            continue  # computed from the others (e.g. FUNCTIONS = STEPS + ...)
    return found


def handler_steps() -> tuple[str, ...]:
    """`handlers.STEPS`: every step module, in pipeline order."""
    return _step_lists()["STEPS"]


def recovery_functions() -> tuple[str, ...]:
    """`handlers.RECOVERY_FUNCTIONS`: functions the state machine never runs (recovery)."""
    return _step_lists()["RECOVERY_FUNCTIONS"]


def deployed_functions() -> tuple[str, ...]:
    """`handlers.FUNCTIONS`: one Lambda function each (the steps, then recovery)."""
    return handler_steps() + recovery_functions()


def database_steps() -> tuple[str, ...]:
    """`handlers.DATABASE_STEPS`: the steps that talk to the database."""
    return _step_lists()["DATABASE_STEPS"]


def retired_functions() -> tuple[str, ...]:
    """`handlers.RETIRED_FUNCTIONS`: deployed by earlier versions, deleted by setup."""
    return _step_lists().get("RETIRED_FUNCTIONS", ())


@cache
def handler_lib(name: str) -> ModuleType:
    """`handlers/lib/<name>.py` loaded by path, for the library modules that use the standard
    library only (`polling`, `sql_text`): the CLI runs the very rules the Lambda functions run,
    without importing a top-level `handlers` package."""
    path = handlers_dir() / "lib" / f"{name}.py"
    module_name = f"aurora_restore_cli._handlers_lib_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def polling() -> ModuleType:
    """`handlers/lib/polling.py`: the wait-loop schedule (loop bounds, time limits)."""
    return handler_lib("polling")
