"""Benchmark: aurora-restore vs the guide's hand-run AWS CLI, on one moto server, at several
added latencies.

    python bench/bench_setup.py                      # 0 ms and 100 ms
    python bench/bench_setup.py --latency-ms 0,50,200 --concurrency 8

For each latency: a fresh `setup`, `plan` and `status` over it, a no-op `setup`, `cleanup`,
then the guide's own `aws` commands replayed against the same (emptied) server. At 0 ms the
commands talk to the moto server directly; otherwise through `latency_proxy.py`, which delays
every request (a real AWS call costs 50–300 ms; loopback moto ~5 ms). Each command is a new
process, as a user runs it, so times include start-up. One unmeasured setup + cleanup warms
the server first (moto loads each service's code on first use; AWS has no such cost). With
`--runs N` every row is the median of N rounds. Prints wall times and API calls (our own
counter: reads / writes; the guide makes one call per command). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from guide_replay import ACCOUNT, REGION, commands, function_zip_name  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": REGION}


@dataclass
class Run:
    what: str
    seconds: float
    detail: str
    reads: int | None = None
    writes: int | None = None
    resources: int | None = None


def moto_config(work: Path, code: Path) -> Path:
    """`code`'s config/ with dev pointed at moto's one account (as `--local` does), and a
    throwaway CA bundle where AWS's RDS bundle would be (required outside the sandbox)."""
    target = work / "config"
    shutil.copytree(code / "config", target)
    file = target / "dev.yaml"
    data = yaml.safe_load(file.read_text())
    data["account_id"] = ACCOUNT
    if "ca_bundle" in data.get("database", {}):
        (target / "rds-global-bundle.pem").write_bytes(throwaway_ca())
        data["database"]["ca_bundle"] = "rds-global-bundle.pem"
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def throwaway_ca() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


CODE = ROOT  # the checkout whose aurora-restore is measured (--code)


def cli(endpoint: str, config: Path, env: dict[str, str], *args: str) -> tuple[float, dict]:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "aurora_restore_cli", "--endpoint-url", endpoint, "--config-dir",
         str(config), "--env", "dev", *args, "-o", "json"],
        capture_output=True, text=True, cwd=CODE, env=env)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"aurora-restore {' '.join(args)} failed:\n{done.stderr}")
    return elapsed, json.loads(done.stdout)


def ours(what: str, seconds: float, doc: dict) -> Run:
    calls = doc["api_calls"]
    actions: dict[str, int] = {}
    for change in doc["changes"]:
        actions[change["action"]] = actions.get(change["action"], 0) + 1
    detail = ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))
    return Run(what, seconds, detail, calls["reads"], calls["writes"], len(doc["changes"]))


def reset(server: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{server}/moto-api/reset", method="POST"))


def one_latency(server: str, latency_ms: float, config: Path, work: Path,
                env: dict[str, str], guide: bool = True) -> list[Run]:
    from aurora_restore_cli.config.load import load_settings
    from aurora_restore_cli.contract.naming import Names
    from aurora_restore_cli.contract.pipeline_settings import render_definition
    from aurora_restore_cli.documents.packaging import Packager

    reset(server)
    proxy = LatencyProxy(server, latency_ms) if latency_ms else None
    runs: list[Run] = []
    with proxy or _nothing():
        endpoint = proxy.url if proxy else server
        runs.append(ours("setup (fresh)", *cli(endpoint, config, env, "setup")))
        runs.append(ours("plan (nothing to do)", *cli(endpoint, config, env, "plan")))
        runs.append(ours("status", *cli(endpoint, config, env, "status")))
        runs.append(ours("setup (no-op)", *cli(endpoint, config, env, "setup")))
        runs.append(ours("cleanup", *cli(endpoint, config, env, "cleanup", "--yes",
                                          "--force-delete-secrets")))
        reset(server)
        if not guide:
            return runs
        settings = load_settings(config, "dev")
        stats = Packager().build_all(settings)
        zips = {}
        for step, package in stats.packages.items():
            zips[step] = work / function_zip_name(step)
            zips[step].write_bytes(package.data)
        definition = render_definition(settings, Names("guide", REGION, ACCOUNT))
        began = time.perf_counter()
        count = 0
        for command in commands(endpoint, "guide", work, definition, zips):
            subprocess.run(command, check=True, capture_output=True, env=env)
            count += 1
        runs.append(Run("the guide: aws CLI, one command per resource",
                        time.perf_counter() - began, "create only: no check, no update, no "
                        "teardown", count, count, count))
    return runs


def median(runs: tuple[Run, ...]) -> Run:
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", default="0,100",
                        help="comma-separated added latencies per request (default 0,100)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="AURORA_RESTORE_CONCURRENCY for our commands (default: the CLI's)")
    parser.add_argument("--runs", type=int, default=1, help="rounds per latency (median)")
    parser.add_argument("--no-guide", action="store_true", help="skip the guide's replay")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="run aurora-restore from this checkout, with its config/ (before/after "
                             "comparisons; add --no-guide if that config is older)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    latencies = [float(x) for x in args.latency_ms.split(",")]
    global CODE
    CODE = args.code.resolve()

    from aurora_restore_cli.sandbox import control as sandbox

    work = Path(tempfile.mkdtemp(prefix="aurora-restore-bench-"))
    os.environ["AURORA_RESTORE_SANDBOX_DIR"] = str(work)
    env = {**os.environ, **CREDENTIALS, "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env.pop("AWS_PROFILE", None)
    if args.concurrency is not None:
        env["AURORA_RESTORE_CONCURRENCY"] = str(args.concurrency)
    config = moto_config(work, CODE)
    box, _ = sandbox.start()
    results: dict[float, list[Run]] = {}
    try:
        reset(box.url)
        cli(box.url, config, env, "setup")  # warm-up: not measured
        cli(box.url, config, env, "cleanup", "--yes", "--force-delete-secrets")
        for latency in latencies:
            rounds = [one_latency(box.url, latency, config, work, env, not args.no_guide)
                      for _ in range(args.runs)]
            results[latency] = [median(runs) for runs in zip(*rounds, strict=True)]
    finally:
        sandbox.stop()
    if args.json:
        print(json.dumps({f"{k:g}ms": [r.__dict__ for r in v] for k, v in results.items()},
                         indent=2))
        return
    report(results)


def report(results: dict[float, list[Run]]) -> None:
    table = Table(title="aurora-restore vs the manual guide (moto server on 127.0.0.1, "
                  f"{os.cpu_count()} CPUs)")
    table.add_column("what")
    for latency in results:
        table.add_column(f"+{latency:g} ms", justify="right")
        table.add_column("calls (reads/writes)", justify="right")
    names = [r.what for r in next(iter(results.values()))]
    for index, name in enumerate(names):
        cells = [name]
        for runs in results.values():
            run = runs[index]
            calls = (f"{run.reads}" if run.reads == run.writes and "guide" in name
                     else f"{run.reads}/{run.writes}")
            cells += [f"{run.seconds:.2f}s", calls]
        table.add_row(*cells)
    ratio = ["guide ÷ fresh setup"]
    per_resource = ["no-op setup: reads per resource"]
    for runs in results.values():
        by = {r.what: r for r in runs}
        fresh, guide, noop = by["setup (fresh)"], by[names[-1]], by["setup (no-op)"]
        ratio += [f"{guide.seconds / fresh.seconds:.1f}×", ""]
        per_resource += [f"{(noop.reads or 0) / (noop.resources or 1):.2f}",
                         f"{noop.resources} resources"]
    if "guide" in names[-1]:
        table.add_row(*ratio)
    table.add_row(*per_resource)
    Console().print(table)


if __name__ == "__main__":
    main()
