"""Deterministic Lambda packages: byte-identical rebuilds, one hash per changed handler, the
vendored PostgreSQL driver (from the pinned wheels for the runtime) only in the database steps,
and every zip able to import its handler on its own."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import handlers
from aurora_restore_cli.config.load import load_settings
from aurora_restore_cli.config.settings import Settings
from aurora_restore_cli.documents.packaging import (
    MANIFEST_NAME,
    VENDORED,
    Package,
    Packager,
    PackagingError,
    build_package,
    code_sha256,
    content_hash,
    default_cache_dir,
)

from ..conftest import CONFIG_DIR

REAL_HANDLERS = Path(handlers.__file__).resolve().parent
VENDORED_TOP_LEVEL = {"pg8000", "scramp", "asn1crypto", "dateutil", "six"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(CONFIG_DIR, "dev")


@pytest.fixture(scope="module")
def packager(settings: Settings) -> Packager:
    """The real handlers and the shared wheel cache, filled once (pip download) if empty."""
    packager = Packager(cache_dir=default_cache_dir())
    lam = settings.lambda_
    packager.vendored_files(lam.runtime, lam.architecture)
    return packager


@pytest.fixture(scope="module")
def packages(packager: Packager, settings: Settings) -> dict[str, Package]:
    return packager.build_all(settings).packages


def handlers_copy(tmp_path: Path) -> Path:
    """A private copy of handlers/ a test may edit (the real files are never touched)."""
    target = tmp_path / "handlers"
    shutil.copytree(REAL_HANDLERS, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def with_lambda(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, lambda_=dataclasses.replace(settings.lambda_, **changes))


def infos(package: Package) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        return archive.infolist()


def read(package: Package, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        return archive.read(name)


# --- determinism ---------------------------------------------------------------------------


def test_two_builds_are_byte_identical(settings: Settings, packager: Packager) -> None:
    first = packager.build_all(settings).packages
    second = Packager(cache_dir=packager.cache_dir).build_all(settings).packages
    assert list(first) == list(handlers.STEPS)
    for step in handlers.STEPS:
        assert first[step].data == second[step].data, step
        assert first[step].sha256 == second[step].sha256 == code_sha256(first[step].data)
    assert build_package("verify", settings, cache_dir=packager.cache_dir) == first["verify"]


def test_entries_sorted_with_fixed_dates_and_modes(packages: dict[str, Package]) -> None:
    for step, package in packages.items():
        entries = infos(package)
        names = [i.filename for i in entries]
        assert names == sorted(names), step
        assert len(set(names)) == len(names)
        for info in entries:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.external_attr >> 16 == 0o100644, info.filename
            assert info.create_system == 3
            assert not info.is_dir()
            assert "__pycache__" not in info.filename
            assert not info.filename.endswith((".pyc", ".pyo"))


def test_hash_is_codesha256_base64(packages: dict[str, Package]) -> None:
    package = packages["acquire_lock"]
    import base64

    assert base64.b64decode(package.sha256) == hashlib.sha256(package.data).digest()


def test_changing_one_handler_changes_only_that_steps_hash(
    tmp_path: Path, settings: Settings, packager: Packager
) -> None:
    tree = handlers_copy(tmp_path)
    before = Packager(tree, packager.cache_dir).build_all(settings).packages
    module = tree / "find_snapshot.py"
    module.write_text(module.read_text() + "# one more line\n")
    after = Packager(tree, packager.cache_dir).build_all(settings).packages
    changed = {s for s in handlers.STEPS if before[s].sha256 != after[s].sha256}
    assert changed == {"find_snapshot"}
    assert read(after["find_snapshot"], "handlers/find_snapshot.py").endswith(b"# one more line\n")


def test_changing_the_shared_library_changes_every_hash(
    tmp_path: Path, settings: Settings, packager: Packager
) -> None:
    tree = handlers_copy(tmp_path)
    before = Packager(tree, packager.cache_dir).build_all(settings).packages
    (tree / "lib" / "errors.py").write_text((tree / "lib" / "errors.py").read_text() + "\n")
    after = Packager(tree, packager.cache_dir).build_all(settings).packages
    assert all(before[s].sha256 != after[s].sha256 for s in handlers.STEPS)


def test_bytecode_and_hidden_files_in_the_tree_are_left_out(
    tmp_path: Path, settings: Settings, packager: Packager
) -> None:
    tree = handlers_copy(tmp_path)
    clean = Packager(tree, packager.cache_dir).build("check_copy", settings)
    (tree / "lib" / "__pycache__").mkdir()
    (tree / "lib" / "__pycache__" / "audit.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (tree / "lib" / "stale.pyc").write_bytes(b"\x00")
    (tree / "lib" / ".DS_Store").write_bytes(b"junk")
    assert Packager(tree, packager.cache_dir).build("check_copy", settings) == clean


# --- contents --------------------------------------------------------------------------------


def lib_files() -> set[str]:
    return {
        f"handlers/{p.relative_to(REAL_HANDLERS).as_posix()}"
        for p in (REAL_HANDLERS / "lib").rglob("*.py")
        if "__pycache__" not in p.parts
    }


def test_non_database_steps_hold_only_the_handlers(packages: dict[str, Package]) -> None:
    for step in set(handlers.STEPS) - set(handlers.DATABASE_STEPS):
        names = set(packages[step].names())
        assert names == {"handlers/__init__.py", f"handlers/{step}.py", MANIFEST_NAME} | lib_files(), step


def test_the_manifest_names_the_step_and_the_hash_of_everything_else(
    packages: dict[str, Package]
) -> None:
    """handlers/package.json: what a function reports to `test-functions` from its runtime."""
    for step, package in packages.items():
        manifest = json.loads(read(package, MANIFEST_NAME))
        assert manifest == {"step": step, "code_hash": package.code_hash}
        with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
            others = {n: archive.read(n) for n in archive.namelist() if n != MANIFEST_NAME}
        assert content_hash(others) == package.code_hash


def test_database_steps_hold_the_vendored_driver(packages: dict[str, Package]) -> None:
    for step in handlers.DATABASE_STEPS:
        names = packages[step].names()
        top = {n.split("/")[0] for n in names if "dist-info" not in n.split("/")[0]}
        assert top == {"handlers", "six.py"} | VENDORED_TOP_LEVEL - {"six"}, step
        assert {f"handlers/{step}.py", "handlers/__init__.py"} | lib_files() <= set(names)
        other_steps = {f"handlers/{s}.py" for s in handlers.STEPS if s != step}
        assert not other_steps & set(names)
        for pin in VENDORED:
            dist = f"{pin.name.replace('-', '_')}-{pin.version}.dist-info/METADATA"
            assert dist in names, dist
        assert "handlers/certs/ca-bundle.pem" not in names  # dev.yaml: ca_bundle null


def test_mask_data_holds_the_configured_scripts_in_order(
    config_dir: Path, packager: Packager
) -> None:
    (config_dir / "sql" / "zz_last.sql").write_text("SELECT 2;\n")
    (config_dir / "sql" / "aa_first.sql").write_text("SELECT 1;\n")
    settings = load_settings(config_dir, "dev")
    database = dataclasses.replace(
        settings.database,
        post_restore_sql=(config_dir / "sql" / "zz_last.sql", config_dir / "sql" / "aa_first.sql"),
    )
    settings = dataclasses.replace(settings, database=database)
    package = packager.build("mask_data", settings)
    sql = [n for n in package.names() if n.startswith("handlers/sql/")]
    assert sql == ["handlers/sql/01_zz_last.sql", "handlers/sql/02_aa_first.sql"]
    assert read(package, "handlers/sql/01_zz_last.sql") == b"SELECT 2;\n"
    verify_sql = [n for n in packager.build("verify", settings).names() if "/sql/" in n]
    assert verify_sql == ["handlers/sql/drill_checks.sql"]  # only the restore drills' checks


def test_dev_config_sql_file_is_packaged(packages: dict[str, Package]) -> None:
    assert (
        read(packages["mask_data"], "handlers/sql/01_scrub_notes.sql")
        == (CONFIG_DIR / "sql" / "scrub_notes.sql").read_bytes()
    )


def test_editing_a_sql_file_changes_only_mask_data(config_dir: Path, packager: Packager) -> None:
    before = packager.build_all(load_settings(config_dir, "dev")).packages
    script = config_dir / "sql" / "scrub_notes.sql"
    script.write_text(script.read_text() + "\n-- reviewed\n")
    after = packager.build_all(load_settings(config_dir, "dev")).packages
    assert {s for s in handlers.STEPS if before[s].sha256 != after[s].sha256} == {"mask_data"}


def test_ca_bundle_goes_into_the_database_steps_only(
    tmp_path: Path, settings: Settings, packager: Packager
) -> None:
    bundle = tmp_path / "rds-ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    database = dataclasses.replace(settings.database, ca_bundle=bundle)
    with_ca = dataclasses.replace(settings, database=database)
    for step in handlers.STEPS:
        names = packager.build(step, with_ca).names()
        expected = step in handlers.DATABASE_STEPS
        assert ("handlers/certs/ca-bundle.pem" in names) is expected, step
    assert read(packager.build("verify", with_ca), "handlers/certs/ca-bundle.pem") == (
        bundle.read_bytes()
    )


def test_vendored_files_come_from_the_pinned_wheels(settings: Settings, packager: Packager) -> None:
    lam = settings.lambda_
    wheels = packager.wheels(lam.runtime, lam.architecture)
    assert [hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels] == [
        p.sha256 for p in VENDORED
    ]
    expected: dict[str, bytes] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    expected[info.filename] = archive.read(info)
    vendored = packager.vendored_files(lam.runtime, lam.architecture)
    assert vendored == expected
    for name in vendored:  # nothing an install on this machine would have added
        assert not name.endswith((".pyc", ".so", "INSTALLER", "REQUESTED", "direct_url.json"))
        assert "__pycache__" not in name


def test_pins_match_the_tested_versions() -> None:
    # The handlers' tests run against the installed driver: ship exactly that.
    for pin in VENDORED:
        assert importlib.metadata.version(pin.name) == pin.version, pin.name


IMPORT_CHECK = """
import importlib, importlib.abc, importlib.machinery, json, sys
import boto3  # the Lambda runtime provides boto3 (and botocore's dateutil and six)
zips, isolated = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
current = None

class OnlyFromZip(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if "." in name or name not in isolated:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, [current])
        if spec is None:
            raise ModuleNotFoundError(f"{name} is not in the zip", name=name)
        return spec

sys.meta_path.insert(0, OnlyFromZip())
for step, current in zips.items():
    for loaded in [m for m in sys.modules if m.split(".")[0] in isolated]:
        del sys.modules[loaded]
    sys.path.insert(0, current)
    module = importlib.import_module(f"handlers.{step}")
    assert callable(module.handler), step
    assert module.__file__.startswith(current), module.__file__
    if "pg8000" in sys.modules:
        assert sys.modules["pg8000"].__file__.startswith(current)
    sys.path.remove(current)
    print(step, "ok")
"""


def test_every_zip_imports_its_handler_with_nothing_else(
    tmp_path: Path, packages: dict[str, Package]
) -> None:
    """Import each handler from its zip alone: `handlers` and the driver only from the zip;
    boto3 (with botocore's dateutil and six) and the standard library as the runtime has them."""
    zips = {}
    for step, package in packages.items():
        path = tmp_path / f"{step}.zip"
        path.write_bytes(package.data)
        zips[step] = str(path)
    isolated = sorted(VENDORED_TOP_LEVEL - {"dateutil", "six"} | {"handlers"})
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, json.dumps(zips), json.dumps(isolated)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the repository: `handlers` must come from the zip
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [w for s in handlers.STEPS for w in (s, "ok")]


# --- the wheel cache -------------------------------------------------------------------------


def failing_pip(record: Path, message: str = "ERROR: No matching distribution") -> tuple[str, ...]:
    code = (
        "import pathlib, sys; "
        f"pathlib.Path({str(record)!r}).write_text(chr(10).join(sys.argv[1:])); "
        f"sys.exit({message!r})"
    )
    return (sys.executable, "-c", code)


def test_wheels_are_fetched_for_the_functions_runtime_and_architecture(
    tmp_path: Path, settings: Settings
) -> None:
    record = tmp_path / "argv"
    packager = Packager(cache_dir=tmp_path / "cache", pip=failing_pip(record))
    x86 = with_lambda(settings, runtime="python3.11", architecture="x86_64")
    with pytest.raises(PackagingError) as failure:
        packager.build("verify", x86)
    argv = record.read_text().splitlines()
    assert argv[0] == "download"
    assert argv[argv.index("--platform") + 1] == "manylinux2014_x86_64"
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert {"--only-binary=:all:", "--require-hashes"} <= set(argv)
    message = str(failure.value)
    assert "python3.11/x86_64" in message and "No matching distribution" in message
    assert str(tmp_path / "cache") in message
    # A step without the driver needs no download at all.
    assert packager.build("check_copy", x86).step == "check_copy"


def test_cache_is_reused_without_pip_and_keyed_by_platform(
    tmp_path: Path, settings: Settings, packager: Packager
) -> None:
    lam = settings.lambda_
    cache = tmp_path / "cache"
    offline = Packager(cache_dir=cache, pip=failing_pip(tmp_path / "argv"))
    shutil.copytree(
        packager.wheel_dir(lam.runtime, lam.architecture),
        offline.wheel_dir(lam.runtime, lam.architecture),
    )
    assert offline.build("verify", settings) == packager.build("verify", settings)
    assert not (tmp_path / "argv").exists()  # pip never ran
    other = with_lambda(settings, architecture="x86_64")
    assert offline.wheel_dir("python3.12", "x86_64") != offline.wheel_dir("python3.12", "arm64")
    with pytest.raises(PackagingError):
        offline.build("verify", other)


def test_damaged_cache_is_not_used(tmp_path: Path, settings: Settings, packager: Packager) -> None:
    lam = settings.lambda_
    offline = Packager(cache_dir=tmp_path / "cache", pip=failing_pip(tmp_path / "argv"))
    target = offline.wheel_dir(lam.runtime, lam.architecture)
    shutil.copytree(packager.wheel_dir(lam.runtime, lam.architecture), target)
    wheel = next(target.glob("pg8000-*.whl"))
    wheel.write_bytes(wheel.read_bytes()[:-10])
    with pytest.raises(PackagingError, match="cannot download"):
        offline.build("verify", settings)
    assert (tmp_path / "argv").exists()  # it tried to fetch a good copy


def test_missing_handler_module_is_a_clear_error(tmp_path: Path, settings: Settings) -> None:
    tree = handlers_copy(tmp_path)
    (tree / "check_copy.py").unlink()
    with pytest.raises(PackagingError, match="no handler module for step 'check_copy'"):
        Packager(tree, tmp_path / "cache").build("check_copy", settings)


# --- Aurora MySQL: PyMySQL instead of pg8000 ---------------------------------------------------

ENGINE_IMPORT_CHECK = IMPORT_CHECK.replace(
    '    assert callable(module.handler), step\n',
    '    assert callable(module.handler), step\n'
    '    if step in engine_steps:\n'
    '        from handlers.lib.engines import engine_for\n'
    '        engine_for(engine).connect  # the engine module and its driver, from the zip\n',
).replace(
    "zips, isolated = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))",
    "zips, isolated = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))\n"
    "engine, engine_steps = sys.argv[3], set(json.loads(sys.argv[4]))",
)


def test_a_mysql_env_vendors_pymysql_and_no_postgresql_driver(
    tmp_path: Path, packager: Packager
) -> None:
    """The database functions of an aurora-mysql env carry PyMySQL (pinned, from its wheel)
    and not pg8000; each imports its handler and the MySQL engine from its zip alone, with
    pg8000 out of reach: nothing on the MySQL path imports it."""
    assert "engine_for(engine).connect" in ENGINE_IMPORT_CHECK and "sys.argv[4]" in ENGINE_IMPORT_CHECK
    settings = load_settings(CONFIG_DIR, "dev-mysql")
    packages = packager.build_all(settings).packages
    zips = {}
    for step, package in packages.items():
        names = set(package.names())
        has_pymysql = any(n.startswith("pymysql/") for n in names)
        assert has_pymysql == (step in handlers.DATABASE_STEPS), step
        assert not any(n.startswith(("pg8000/", "scramp/")) for n in names), step
        path = tmp_path / f"{step}.zip"
        path.write_bytes(package.data)
        zips[step] = str(path)
    assert "pymysql-1.2.4.dist-info/METADATA" in packages["mask_data"].names()
    isolated = sorted(VENDORED_TOP_LEVEL - {"dateutil", "six"} | {"handlers", "pymysql"})
    result = subprocess.run(
        [sys.executable, "-c", ENGINE_IMPORT_CHECK, json.dumps(zips), json.dumps(isolated),
         "aurora-mysql", json.dumps(list(handlers.DATABASE_STEPS))],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [w for s in handlers.STEPS for w in (s, "ok")]


def test_the_mysql_pin_matches_the_tested_version() -> None:
    from aurora_restore_cli.documents.packaging import VENDORED_MYSQL

    for pin in VENDORED_MYSQL:
        assert importlib.metadata.version(pin.name) == pin.version, pin.name
