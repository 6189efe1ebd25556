"""Benchmark: aurora-restore vs the guide's hand-run AWS CLI, side by side on one moto server.

    python bench/bench_setup.py

Prints wall times of a fresh `setup`, a no-op re-run (with its API calls: reads vs writes)
and `cleanup`, then the guide's own commands replayed against the same server, then the
Lambda packages' sizes and build time. Numbers only; nothing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from guide_replay import ACCOUNT, REGION, commands, function_zip_name  # noqa: E402


def cli(*args: str) -> tuple[float, dict]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "aurora_restore_cli", "--local", "--env", "dev",
                           *args, "-o", "json"], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"aurora-restore {' '.join(args)} failed:\n{done.stderr}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    from aurora_restore_cli import sandbox
    from aurora_restore_cli.config import load_settings
    from aurora_restore_cli.naming import Names
    from aurora_restore_cli.packaging import Packager
    from aurora_restore_cli.pipeline_settings import render_definition
    from aurora_restore_cli.sandbox_seed import for_sandbox

    work = Path(tempfile.mkdtemp(prefix="aurora-restore-bench-"))
    os.environ["AURORA_RESTORE_SANDBOX_DIR"] = str(work)
    box, _ = sandbox.start()
    rows: list[tuple[str, str, str]] = []
    try:
        seconds, doc = cli("setup")
        rows.append(("aurora-restore setup (fresh)", f"{seconds:.2f}s",
                     f"{len(doc['changes'])} resources, {doc['api_calls']['writes']} writes, "
                     f"{doc['api_calls']['reads']} reads"))
        seconds, doc = cli("setup")
        actions = {c["action"] for c in doc["changes"]}
        rows.append(("aurora-restore setup (no-op)", f"{seconds:.2f}s",
                     f"{doc['api_calls']['writes']} writes, {doc['api_calls']['reads']} reads; "
                     f"actions {sorted(actions)}"))
        seconds, doc = cli("cleanup", "--yes", "--force-delete-secrets")
        rows.append(("aurora-restore cleanup", f"{seconds:.2f}s", f"{len(doc['changes'])} deleted"))

        settings = for_sandbox(load_settings(ROOT / "config", "dev"), ACCOUNT)
        began = time.perf_counter()
        stats = Packager().build_all(settings)
        build = time.perf_counter() - began
        zips = {}
        for step, package in stats.packages.items():
            zips[step] = work / function_zip_name(step)
            zips[step].write_bytes(package.data)
        definition = render_definition(settings, Names("guide", REGION, ACCOUNT))
        began = time.perf_counter()
        count = 0
        for command in commands(box.url, "guide", work, definition, zips):
            subprocess.run(command, check=True, capture_output=True,
                           env={**os.environ, "AWS_ACCESS_KEY_ID": "testing",
                                "AWS_SECRET_ACCESS_KEY": "testing"})
            count += 1
        guide = time.perf_counter() - began
        rows.append(("the guide: aws CLI, one command per resource", f"{guide:.2f}s",
                     f"{count} commands (create only: no check, no update, no teardown)"))
        sizes = sorted(p.size for p in stats.packages.values())
        rows.append(("Lambda packages", f"{build:.2f}s",
                     f"{len(sizes)} zips, {stats.total_bytes / 1e6:.2f} MB total, "
                     f"{sizes[0] / 1e3:.0f}–{sizes[-1] / 1e3:.0f} KB each "
                     f"(vendoring {stats.vendor_seconds:.2f}s)"))
    finally:
        sandbox.stop()
    table = Table(title="aurora-restore vs the manual guide (one moto server on 127.0.0.1)")
    for column in ("what", "wall time", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
