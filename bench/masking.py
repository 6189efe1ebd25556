"""Masking speed on the test PostgreSQL: the declared rules set-based versus row by row, and the
batch loop over a big table with a simulated per-invocation time limit.

    python bench/masking.py                    # 1M rows; the batch loop over 10M rows
    python bench/masking.py --rows 200000 --big 1000000 --invocation-seconds 20

Needs the server of scripts/pg-test-server.sh (AURORA_RESTORE_TEST_PG_* as the tests read
them). It creates a scratch database and drops it at the end. Prints a table; the figures
belong in docs/performance.md. Nothing here is asserted: timings are measurements.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.lib import db, masking, masking_rules  # noqa: E402
from handlers.lib.engines import engine_for  # noqa: E402
from handlers.lib.engines import postgresql_connection as pgc  # noqa: E402

ENGINE = engine_for("aurora-postgresql")
KEY = hashlib.sha256(b"bench").digest()
RULES = {  # the 4-column rule set of the issue: e-mail, name, phone, date of birth
    "public.people.email": "email",
    "public.people.first_name": "first_name",
    "public.people.phone": "phone",
    "public.people.born": "date_shift",
}
ROW_BY_ROW_SAMPLE = 20_000


def server() -> tuple[db.Target, db.Credentials]:
    env = os.environ.get
    ca = Path(env("AURORA_RESTORE_TEST_PG_CA", "/var/lib/postgresql/aurora-restore-tls/ca.pem"))
    target = db.Target(env("AURORA_RESTORE_TEST_PG_HOST", "127.0.0.1"),
                       int(env("AURORA_RESTORE_TEST_PG_PORT", "5432")), "postgres",
                       db.tls_context(ca), 10.0)
    return target, db.Credentials(env("AURORA_RESTORE_TEST_PG_USER", "postgres"),
                                  env("AURORA_RESTORE_TEST_PG_PASSWORD", "postgres"))


def fill(conn: Any, table: str, rows: int) -> float:
    started = time.perf_counter()
    conn.run(f"DROP TABLE IF EXISTS public.{table}")
    conn.run(f"CREATE TABLE public.{table} (id bigint PRIMARY KEY, email text UNIQUE, "
             "first_name text, phone text, born date)")
    conn.run(f"INSERT INTO public.{table} SELECT g, 'person' || g || '@mail.example.org', "
             "'First' || (g % 1000), '+44 20 7946 ' || lpad((g % 10000)::text, 4, '0'), "
             f"date '1950-01-01' + (g % 20000) FROM generate_series(1, {rows}) g")
    conn.run(f"VACUUM ANALYZE public.{table}")
    return time.perf_counter() - started


def rules_for(table: str) -> masking.Plan:
    spec = {key.replace("people", table): value for key, value in RULES.items()}
    return masking.Plan(tuple(masking_rules.parse_rules(spec)), batch_rows=50_000)


def set_based(conn: Any, rows: int) -> dict[str, float]:
    fill(conn, "people", rows)
    started = time.perf_counter()
    outcome = masking.run(conn, ENGINE, rules_for("people"), masking.pads(KEY),
                          masking.Deadline(None), Path("/nonexistent"))
    seconds = time.perf_counter() - started
    assert outcome.done
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "batches": outcome.batches}


def row_by_row(conn: Any) -> dict[str, float]:
    """The naive way: fetch each row, mask it in the client, UPDATE it back."""
    fill(conn, "people_rbr", ROW_BY_ROW_SAMPLE)
    started = time.perf_counter()
    conn.run("START TRANSACTION")
    for row_id, email, first, phone, born in conn.run(
            "SELECT id, email, first_name, phone, born FROM public.people_rbr"):
        digest = hmac.new(KEY, f"email:{email.lower()}".encode(), "sha256").hexdigest()
        name = hmac.new(KEY, f"first_name:{first}".encode(), "sha256").hexdigest()[:8]
        number = int(hmac.new(KEY, f"phone:{phone}".encode(), "sha256").hexdigest()[:8], 16)
        shift = int(hmac.new(KEY, f"date_shift:{born}".encode(), "sha256").hexdigest()[:8], 16)
        conn.run("UPDATE public.people_rbr SET email = :e, first_name = :f, phone = :p, "
                 "born = born + CAST(:d AS integer) WHERE id = :i", e=f"u{digest[:24]}@example.invalid",
                 f=name, p=f"+1-202-555-01{number % 100:02d}", d=shift % 731 - 365, i=row_id)
    conn.run("COMMIT")
    seconds = time.perf_counter() - started
    return {"rows": ROW_BY_ROW_SAMPLE, "seconds": seconds,
            "rows_per_second": ROW_BY_ROW_SAMPLE / seconds}


def batch_loop(conn: Any, rows: int, invocation_seconds: float) -> dict[str, float]:
    """Invocations of `invocation_seconds` each (the step's Deadline) until the table is done."""
    fill(conn, "people_big", rows)
    plan = rules_for("people_big")
    started = time.perf_counter()
    invocations = batches = 0
    longest_batch = 0.0
    while True:
        invocations += 1
        deadline = masking.Deadline(invocation_seconds)
        outcome = masking.run(conn, ENGINE, plan, masking.pads(KEY), deadline, Path("/x"))
        batches += outcome.batches
        longest_batch = max(longest_batch, deadline.last_batch)
        if outcome.done:
            break
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "invocations": invocations, "batches": batches, "longest_batch_s": longest_batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--invocation-seconds", type=float, default=60.0,
                        help="the simulated time of one masking invocation")
    args = parser.parse_args()
    target, admin = server()
    name = f"bench_masking_{uuid.uuid4().hex[:8]}"
    su = pgc.connect(target, admin)
    su.run(f"CREATE DATABASE {name}")
    try:
        conn = pgc.connect(db.Target(target.host, target.port, name, target.tls, 10.0), admin)
        try:
            results = {
                f"set-based, {args.rows:,} rows, 4 columns": set_based(conn, args.rows),
                f"row by row (client-side), {ROW_BY_ROW_SAMPLE:,} rows": row_by_row(conn),
                f"batch loop, {args.big:,} rows, {args.invocation_seconds:.0f} s invocations":
                    batch_loop(conn, args.big, args.invocation_seconds),
            }
        finally:
            conn.close()
    finally:
        su.run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        su.close()
    print(f"{'case':58} {'rows/s':>10} {'seconds':>9}  more")
    for case, figures in results.items():
        more = ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in figures.items()
                         if k not in ("rows", "seconds", "rows_per_second"))
        print(f"{case:58} {figures['rows_per_second']:>10,.0f} {figures['seconds']:>9.1f}  {more}")


if __name__ == "__main__":
    main()
