"""`aurora-restore init`: a commented starter config (and its example SQL) for a new env.

The starter is the shipped example for that env when there is one of the chosen engine (`dev`,
`staging`, `prod`, `dev-mysql`), otherwise the engine's base example (`dev` for Aurora
PostgreSQL, `dev-mysql` for Aurora MySQL) with the env name swapped in; either way it validates
as written, so `init` → `--local sandbox seed` → `--local setup` → `--local run --wait` works at
once. The example SQL of the engine comes along (`sql/*.sql`; MySQL's in `sql/mysql/`).
Nothing is ever overwritten: an existing config is refused, an existing SQL file is kept if it
is identical and refused if not, before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..bundled import example_config_dir
from ..config.fields import ENV_NAME
from ..config.load import load_settings
from ..contract.time_limits import within_limits

BASE_ENV = "dev"
BASES = {"aurora-postgresql": BASE_ENV, "aurora-mysql": "dev-mysql"}  # engine → base example
SQL_DIRS = {"aurora-postgresql": "sql", "aurora-mysql": "sql/mysql"}  # engine → its example SQL
ENGINES = tuple(BASES)


class StarterRefused(Exception):
    """The target exists (or the env name is unusable); nothing was written."""


@dataclass(frozen=True)
class Written:
    path: Path
    action: str  # created | unchanged


def _engine_of(path: Path) -> str:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    target = data.get("target") if isinstance(data, dict) else None
    engine = target.get("engine") if isinstance(target, dict) else None
    return str(engine or "aurora-postgresql")


def starter_text(env: str, engine: str = "aurora-postgresql") -> str:
    examples = example_config_dir()
    shipped = examples / f"{env}.yaml"
    base = BASES[engine]
    if shipped.is_file() and _engine_of(shipped) == engine:
        body, origin = shipped.read_text(encoding="utf-8"), f"config/{env}.yaml"
    else:
        body = (examples / f"{base}.yaml").read_text(encoding="utf-8")
        body, origin = re.sub(rf"\b{base}\b", env, body), f"config/{base}.yaml"
    flag = "" if engine == "aurora-postgresql" else f" --engine {engine}"
    header = (
        f"# Written by `aurora-restore init --env {env}{flag}` from the shipped example {origin}.\n"
        "# The ids below are placeholders that validate; put in your account, regions, clusters,\n"
        "# subnets, users and SQL, then check with `aurora-restore validate --env "
        f"{env}`.\n#\n"
    )
    return header + body


def example_sql(engine: str = "aurora-postgresql") -> dict[str, bytes]:
    """`sql/<name>` (MySQL: `sql/mysql/<name>`) → content of the engine's example SQL files."""
    relative = SQL_DIRS[engine]
    directory = example_config_dir() / relative
    return {f"{relative}/{p.name}": p.read_bytes() for p in sorted(directory.glob("*.sql"))}


def write_starter(env: str, directory: Path, engine: str = "aurora-postgresql") -> list[Written]:
    """Write `<directory>/<env>.yaml` and the example SQL; check the result validates."""
    if engine not in BASES:
        raise StarterRefused(f"{engine!r} is not an engine ({' or '.join(ENGINES)})")
    if not re.fullmatch(ENV_NAME, env):
        raise StarterRefused(
            f"{env!r} is not an environment name (lower-case letters, digits, '-'; at most 20)"
        )
    config = directory / f"{env}.yaml"
    if config.exists():
        raise StarterRefused(f"{config} exists; refusing to overwrite it (remove it or pick "
                             "another --env or --dir)")
    files = {directory / name: data for name, data in example_sql(engine).items()}
    for path, data in files.items():
        if path.exists() and path.read_bytes() != data:
            raise StarterRefused(f"{path} exists with other content; refusing to overwrite it")
    written = []
    for path, data in files.items():
        if path.exists():
            written.append(Written(path, "unchanged"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(Written(path, "created"))
    config.parent.mkdir(parents=True, exist_ok=True)
    with config.open("x", encoding="utf-8") as out:  # "x": never clobber a file made meanwhile
        out.write(starter_text(env, engine))
    written.insert(0, Written(config, "created"))
    within_limits(load_settings(directory, env))  # as written, it must validate (a ConfigError here is a bug)
    return written
