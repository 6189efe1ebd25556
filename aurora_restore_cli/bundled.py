"""Where the files that ship beside the code are: the pipeline's handlers, the state-machine
definition, the example configs and their SQL.

The repository keeps them at its top level (`handlers/`, `definitions/`, `config/`). A wheel
carries them as package data under `aurora_restore_cli/_bundle/` with the same layout (setup.py
copies them there at build time), so the installed tool works from any directory without
putting a top-level `handlers` package on anyone's sys.path. An editable install or a
checkout has no `_bundle/` and uses the repository's own directories.

The CLI never imports the handlers: it reads their step lists from `handlers/__init__.py`
(`handler_steps()`), loads the pure polling rule from its file (`polling()`), packages their files, and the sandbox's server process puts `root()` on
its own sys.path to run them, as Lambda does with the zip.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
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
    """`handlers.DATABASE_STEPS`: the steps that talk to PostgreSQL."""
    return _step_lists()["DATABASE_STEPS"]


@lru_cache(maxsize=1)
def polling() -> ModuleType:
    """`handlers/lib/polling.py` (pure, standard library only), loaded from its file under a
    private name: the CLI derives loop bounds with the very rule the Lambda functions run,
    without importing a top-level `handlers` package."""
    path = handlers_dir() / "lib" / "polling.py"
    spec = importlib.util.spec_from_file_location("aurora_restore_cli._handlers_polling", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
