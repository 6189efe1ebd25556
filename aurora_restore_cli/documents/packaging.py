"""Deterministic Lambda packages: one zip per pipeline step, byte-identical for the same inputs.

A step's zip holds `handlers/__init__.py`, `handlers/lib/**` and `handlers/<step>.py`; the
database steps (`handlers.DATABASE_STEPS`; the handlers come from `bundled.handlers_dir()`) also hold the vendored driver of the
target's engine (pg8000 for Aurora PostgreSQL, PyMySQL for Aurora MySQL: one driver, never
both, so a function imports only what its engine module needs), the
configured CA bundle (`handlers/certs/ca-bundle.pem`) and, for `mask_data`, the post-restore SQL
files (`handlers/sql/01_<name>.sql`, …); `verify` holds the restore drills' checks file
(`drill.checks_sql`) as `handlers/sql/drill_checks.sql`. Entries are sorted, dated 1980-01-01, mode 0644, with
no directory entries and no bytecode, so `CodeSha256` changes only when the content does.
Every zip also holds `handlers/package.json`: `{"step", "code_hash"}`, the SHA-256 of every
other entry (names and contents). A function reports it from inside its runtime to
`aurora-restore test-functions` (handlers/lib/health.py), which compares it with what it would
package now.

The driver is not copied from this machine's site-packages: the pinned wheels below (with
their hashes) are fetched with `pip download` for the function's runtime and architecture into
a cache keyed by (runtime, architecture, pins), then copied into the zip from the wheels
themselves. The cache lives in `$AURORA_RESTORE_CACHE_DIR/vendor`, else
`${XDG_CACHE_HOME:-~/.cache}/aurora-restore/vendor`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..bundled import database_steps, handler_steps
from ..bundled import handlers_dir as default_handlers_dir
from ..config.settings import Settings
from ..contract.pipeline_settings import DRILL_CHECKS_NAME, packaged_sql_names

CACHE_ENV = "AURORA_RESTORE_CACHE_DIR"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
PIP_TIMEOUT_SECONDS = 300
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
CA_BUNDLE_NAME = "handlers/certs/ca-bundle.pem"
SQL_DIR = "handlers/sql"
MANIFEST_NAME = "handlers/package.json"  # handlers/lib/health.PACKAGE_FILE


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str  # of the wheel: pip verifies it on download, we verify it on every reuse

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


# The database steps' runtime dependencies per engine, each closed under its own requirements
# (pip's --require-hashes refuses to download anything not listed here). Keep the versions equal
# to what the test environment has installed: the handlers are tested against those.
POSTGRESQL, MYSQL = "aurora-postgresql", "aurora-mysql"
VENDORED: tuple[Pin, ...] = (
    Pin("pg8000", "1.31.6", "1ffe27af94fa5b37ce6885b98d591dc75562ff076859bf50ca7729af59345a80"),
    Pin("scramp", "1.5.0", "8280608f568e81da9e9c9d69cac1331b836622d9b48bf5c5e400e16129c6d1fa"),
    Pin("asn1crypto", "1.5.1", "db4e40728b728508912cbb3d44f19ce188f218e9eba635821bb4b68564f8fd67"),
    Pin(
        "python-dateutil",
        "2.9.0.post0",
        "a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427",
    ),
    Pin("six", "1.17.0", "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"),
)
# Pure Python, no required dependencies: TLS comes from the runtime's ssl module, and with TLS
# caching_sha2_password needs no RSA (the `rsa` extra is not needed).
VENDORED_MYSQL: tuple[Pin, ...] = (
    Pin("PyMySQL", "1.2.4", "e169bed906168fffd0088925f45b3df024c2775c6fd128da0df773d47c458840"),
)
VENDORED_BY_ENGINE: dict[str, tuple[Pin, ...]] = {POSTGRESQL: VENDORED, MYSQL: VENDORED_MYSQL}


class PackagingError(ValueError):
    """A package cannot be built (missing handler module, no wheels, bad cache, …).

    A ValueError, so the engine reports it as that function's failure (exit 1, no traceback)."""


@dataclass(frozen=True)
class Package:
    step: str
    data: bytes = field(repr=False)
    sha256: str  # base64 of the SHA-256 digest: what Lambda reports as CodeSha256
    code_hash: str = ""  # hex SHA-256 of the entries besides the manifest (package.json)

    @property
    def size(self) -> int:
        return len(self.data)

    def names(self) -> list[str]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            return archive.namelist()


@dataclass(frozen=True)
class BuildStats:
    """What the benchmark prints: every package, and how long building them took."""

    packages: dict[str, Package]
    seconds: float  # all packages, including fetching the wheels when the cache was cold
    vendor_seconds: float  # of which fetching/reading the wheels

    @property
    def total_bytes(self) -> int:
        return sum(p.size for p in self.packages.values())


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def content_hash(files: dict[str, bytes]) -> str:
    """Hex SHA-256 over the entries' names and contents, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name]
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser() / "vendor"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "aurora-restore" / "vendor"


def python_version(runtime: str) -> str:
    """`python3.12` → `3.12`."""
    if not runtime.startswith("python3."):
        raise PackagingError(f"unsupported Lambda runtime {runtime!r} (expected python3.X)")
    return runtime.removeprefix("python")


def platform_tag(architecture: str) -> str:
    try:
        return PLATFORMS[architecture]
    except KeyError:
        raise PackagingError(f"unsupported Lambda architecture {architecture!r}") from None


def pins_key(pins: Sequence[Pin]) -> str:
    text = "\n".join(sorted(p.requirement for p in pins))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


class Packager:
    """Builds packages; reuses the wheel cache and keeps the vendored files in memory.

    `handlers_dir` is the `handlers` package directory to package (tests point it at a copy);
    `pins`: per engine (or one list for every engine); `pip` is the command that runs pip
    (tests replace it to simulate a failing download)."""

    def __init__(
        self,
        handlers_dir: Path | None = None,
        cache_dir: Path | None = None,
        pins: Sequence[Pin] | Mapping[str, Sequence[Pin]] = VENDORED_BY_ENGINE,
        pip: Sequence[str] = (sys.executable, "-m", "pip"),
    ) -> None:
        self.handlers_dir = (handlers_dir or default_handlers_dir()).resolve()
        self.cache_dir = cache_dir or default_cache_dir()
        if isinstance(pins, Mapping):
            self.pins_by_engine = {engine: tuple(p) for engine, p in pins.items()}
        else:
            self.pins_by_engine = {engine: tuple(pins) for engine in VENDORED_BY_ENGINE}
        self.pip = tuple(pip)
        self._vendored: dict[tuple[str, str, str], dict[str, bytes]] = {}
        self.vendor_seconds = 0.0

    def pins(self, engine: str = POSTGRESQL) -> tuple[Pin, ...]:
        try:
            return self.pins_by_engine[engine]
        except KeyError:
            raise PackagingError(f"no database driver is pinned for engine {engine!r}") from None

    # --- the zip -----------------------------------------------------------------------

    def build(self, step: str, settings: Settings) -> Package:
        files = self.handler_files(step)
        if step in database_steps():
            lam = settings.lambda_
            files.update(self.vendored_files(lam.runtime, lam.architecture,
                                             settings.target.engine))
            if settings.database.ca_bundle is not None:
                files[CA_BUNDLE_NAME] = _read(settings.database.ca_bundle)
            if step == "mask_data":
                paths = settings.database.post_restore_sql
                for name, path in zip(packaged_sql_names(settings), paths, strict=True):
                    files[f"{SQL_DIR}/{name}"] = _read(path)
            if step == "verify" and settings.drill.checks_sql is not None:
                files[f"{SQL_DIR}/{DRILL_CHECKS_NAME}"] = _read(settings.drill.checks_sql)
        digest = content_hash(files)
        files[MANIFEST_NAME] = json.dumps(
            {"step": step, "code_hash": digest}, sort_keys=True
        ).encode()
        data = deterministic_zip(files)
        return Package(step, data, code_sha256(data), digest)

    def build_all(self, settings: Settings, steps: Iterable[str] | None = None) -> BuildStats:
        vendor_before = self.vendor_seconds
        started = time.perf_counter()
        packages = {step: self.build(step, settings) for step in steps or handler_steps()}
        return BuildStats(
            packages, time.perf_counter() - started, self.vendor_seconds - vendor_before
        )

    def handler_files(self, step: str) -> dict[str, bytes]:
        root = self.handlers_dir
        module = root / f"{step}.py"
        if not module.is_file():
            raise PackagingError(f"no handler module for step {step!r}: {module} does not exist")
        files = {
            "handlers/__init__.py": _read(root / "__init__.py"),
            f"handlers/{step}.py": _read(module),
        }
        lib = root / "lib"
        for path in sorted(lib.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and _wanted(relative):
                files[f"handlers/{relative}"] = _read(path)
        return files

    # --- the vendored driver -------------------------------------------------------------

    def vendored_files(
        self, runtime: str, architecture: str, engine: str = POSTGRESQL
    ) -> dict[str, bytes]:
        """Archive name → content of every file the engine's pinned wheels install (bytecode
        excluded)."""
        key = (runtime, architecture, engine)
        if key not in self._vendored:
            started = time.perf_counter()
            files: dict[str, bytes] = {}
            for wheel in self.wheels(runtime, architecture, engine):
                for name, content in _wheel_files(wheel):
                    if name in files:
                        raise PackagingError(f"{name} is installed by two vendored wheels")
                    files[name] = content
            self._vendored[key] = files
            self.vendor_seconds += time.perf_counter() - started
        return dict(self._vendored[key])

    def wheel_dir(self, runtime: str, architecture: str, engine: str = POSTGRESQL) -> Path:
        return self.cache_dir / f"{runtime}-{architecture}-{pins_key(self.pins(engine))}"

    def wheels(self, runtime: str, architecture: str, engine: str = POSTGRESQL) -> list[Path]:
        """The engine's pinned wheels for this runtime and architecture, downloaded once and
        reused."""
        pins = self.pins(engine)
        directory = self.wheel_dir(runtime, architecture, engine)
        if directory.is_dir():
            found = self._verified(directory, pins)
            if found is not None:
                return found
            shutil.rmtree(directory, ignore_errors=True)  # damaged: fetch again
        self._download(runtime, architecture, directory, pins, engine)
        found = self._verified(directory, pins)
        if found is None:
            raise PackagingError(f"the wheels downloaded into {directory} do not match the pins")
        return found

    def _verified(self, directory: Path, pins: Sequence[Pin]) -> list[Path] | None:
        """One wheel per pin, each with the pinned hash; None when anything is off."""
        found = {_normalize(w.name.split("-", 1)[0]): w for w in directory.glob("*.whl")}
        if sorted(found) != sorted(_normalize(p.name) for p in pins):
            return None
        wheels = [found[_normalize(pin.name)] for pin in pins]
        for pin, wheel in zip(pins, wheels, strict=True):
            if hashlib.sha256(wheel.read_bytes()).hexdigest() != pin.sha256:
                return None
        return wheels

    def _download(
        self, runtime: str, architecture: str, directory: Path, pins: Sequence[Pin], engine: str
    ) -> None:
        directory.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".download-") as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text("".join(p.requirement + "\n" for p in pins))
            wheels = Path(tmp) / "wheels"
            command = [
                *self.pip,
                "download",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "--only-binary=:all:",
                "--platform",
                platform_tag(architecture),
                "--python-version",
                python_version(runtime),
                "--implementation",
                "cp",
                "--require-hashes",
                "--requirement",
                str(requirements),
                "--dest",
                str(wheels),
            ]
            try:
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise self._download_error(
                    runtime, architecture, directory, str(exc), pins, engine
                ) from None
            if result.returncode != 0:
                reason = (result.stderr or result.stdout).strip().splitlines()
                raise self._download_error(
                    runtime, architecture, directory, " / ".join(reason[-3:]) or "no output",
                    pins, engine,
                )
            try:
                wheels.rename(directory)  # atomic: a concurrent build may have won, keep its copy
            except OSError:
                if not directory.is_dir():
                    raise

    def _download_error(
        self, runtime: str, architecture: str, directory: Path, reason: str,
        pins: Sequence[Pin], engine: str,
    ) -> PackagingError:
        listed = ", ".join(f"{p.name}=={p.version}" for p in pins)
        driver = "MySQL" if engine == MYSQL else "PostgreSQL"
        return PackagingError(
            f"cannot download the {driver} driver for {runtime}/{architecture} ({listed}) with "
            f"pip: {reason}. The database functions need it; with no access to PyPI, put those "
            f"wheels into {directory} (or set {CACHE_ENV})."
        )


def build_package(
    step: str, settings: Settings, handlers_dir: Path | None = None, cache_dir: Path | None = None
) -> Package:
    """One step's package (a fresh Packager: use a `Packager` to build several)."""
    return Packager(handlers_dir, cache_dir).build(step, settings)


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    """A zip of `files` (archive name → content) that depends on nothing but them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is what the runtime sees
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, files[name], compresslevel=6)
    return buffer.getvalue()


def _wanted(relative: str) -> bool:
    parts = relative.split("/")
    return not (
        "__pycache__" in parts
        or any(p.startswith(".") for p in parts)
        or relative.endswith((".pyc", ".pyo"))
    )


def _wheel_files(wheel: Path) -> list[tuple[str, bytes]]:
    """What installing `wheel` puts into site-packages (the Lambda zip's root)."""
    out = []
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir():
                continue
            top, _, rest = name.partition("/")
            if top.endswith(".data"):
                kind, _, rest = rest.partition("/")
                if kind not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: nothing the functions import
                name = rest
            if _wanted(name):
                out.append((name, archive.read(info)))
    return out


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackagingError(f"cannot read {path}: {exc.strerror or exc}") from None
