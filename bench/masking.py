"""Masking speed on the test database servers: the declared rules set-based versus row by row,
and the batch loop over a big table with a simulated per-invocation time limit.

    python bench/masking.py                    # PostgreSQL, 1M rows; the batch loop over 10M rows
    python bench/masking.py --engine aurora-mysql --rows 200000 --big 1000000

Needs the server of scripts/pg-test-server.sh or scripts/mysql-test-server.sh (their
AURORA_RESTORE_TEST_PG_* / AURORA_RESTORE_TEST_MYSQL_* settings, as the tests read them). It
creates a scratch database and drops it at the end. Prints a table; the figures belong in
docs/performance.md. Nothing here is asserted: timings are measurements.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.lib import db, masking, masking_rules  # noqa: E402
from handlers.lib.engines import Engine, engine_for  # noqa: E402

KEY = hashlib.sha256(b"bench").digest()
RULES = {  # the 4-column rule set of the issue: e-mail, name, phone, date of birth
    "email": "email",
    "first_name": "first_name",
    "phone": "phone",
    "born": "date_shift",
}
ROW_BY_ROW_SAMPLE = 20_000


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines in the bench's own SQL (the masking is the engine's)."""

    engine: str
    env_prefix: str
    port: str
    user: str
    password: str
    ca: str
    admin_database: str

    @property
    def postgres(self) -> bool:
        return self.engine == "aurora-postgresql"

    def schema(self, database: str) -> str:
        return "public" if self.postgres else database  # MySQL's schemas are its databases

    def execute(self, conn: Any, sql: str, *params: Any) -> list[Any]:
        """`sql` with `%s` placeholders on both engines (pg8000 wants named ones)."""
        if self.postgres:
            names = {f"p{i}": value for i, value in enumerate(params)}
            for name in names:
                sql = sql.replace("%s", f":{name}", 1)
            return list(conn.run(sql, **names) or [])
        with conn.cursor() as cursor:  # without parameters PyMySQL formats nothing
            cursor.execute(sql, params or None)
            return list(cursor.fetchall() or [])

    def fill(self, conn: Any, qualified: str, rows: int) -> None:
        self.execute(conn, f"DROP TABLE IF EXISTS {qualified}")
        if self.postgres:
            self.execute(conn, f"CREATE TABLE {qualified} (id bigint PRIMARY KEY, email text UNIQUE, "
                               "first_name text, phone text, born date)")
            self.execute(conn, f"INSERT INTO {qualified} SELECT g, 'person' || g || '@mail.example.org', "
                               "'First' || (g % 1000), '+44 20 7946 ' || lpad((g % 10000)::text, 4, '0'), "
                               f"date '1950-01-01' + (g % 20000) FROM generate_series(1, {rows}) g")
            self.execute(conn, f"VACUUM ANALYZE {qualified}")
            return
        self.execute(conn, f"CREATE TABLE {qualified} (id bigint PRIMARY KEY, email varchar(255) "
                           "UNIQUE, first_name varchar(64), phone varchar(32), born date)")
        # rows from cross-joined digits: no recursion limits, the same on MySQL and MariaDB
        digits = " UNION ALL ".join(f"SELECT {d} AS d" for d in range(10))
        places = len(str(max(rows - 1, 1)))
        joins = ", ".join(f"({digits}) AS t{i}" for i in range(places))
        number = " + ".join(f"t{i}.d * {10 ** i}" for i in range(places)) + " + 1"
        self.execute(conn, f"INSERT INTO {qualified} SELECT g, CONCAT('person', g, "
                           "'@mail.example.org'), CONCAT('First', g % 1000), CONCAT('+44 20 7946 ', "
                           "LPAD(g % 10000, 4, '0')), DATE_ADD('1950-01-01', INTERVAL g % 20000 DAY) "
                           f"FROM (SELECT {number} AS g FROM {joins}) AS s WHERE g <= {rows}")
        self.execute(conn, f"ANALYZE TABLE {qualified}")


DIALECTS = {
    "aurora-postgresql": Dialect("aurora-postgresql", "PG", "5432", "postgres", "postgres",
                                 "/var/lib/postgresql/aurora-restore-tls/ca.pem", "postgres"),
    "aurora-mysql": Dialect("aurora-mysql", "MYSQL", "3306", "aurora_test", "mysql",
                            "/etc/mysql/aurora-restore-tls/ca.pem", "mysql"),
}


@dataclass
class Bench:
    dialect: Dialect
    engine: Engine
    conn: Any
    database: str

    def table(self, name: str) -> str:
        return self.engine.table(self.dialect.schema(self.database), name)

    def fill(self, name: str, rows: int) -> float:
        started = time.perf_counter()
        self.dialect.fill(self.conn, self.table(name), rows)
        return time.perf_counter() - started

    def rules_for(self, name: str) -> masking.Plan:
        prefix = f"{self.dialect.schema(self.database)}.{name}"
        spec = {f"{prefix}.{column}": kind for column, kind in RULES.items()}
        return masking.Plan(tuple(masking_rules.parse_rules(spec)), batch_rows=50_000)


def server(dialect: Dialect) -> tuple[db.Target, db.Credentials]:
    def env(name: str, default: str) -> str:
        return os.environ.get(f"AURORA_RESTORE_TEST_{dialect.env_prefix}_{name}", default)

    target = db.Target(env("HOST", "127.0.0.1"), int(env("PORT", dialect.port)),
                       dialect.admin_database, db.tls_context(Path(env("CA", dialect.ca))), 10.0)
    return target, db.Credentials(env("USER", dialect.user), env("PASSWORD", dialect.password))


def set_based(bench: Bench, rows: int) -> dict[str, float]:
    bench.fill("people", rows)
    started = time.perf_counter()
    outcome = masking.run(bench.conn, bench.engine, bench.rules_for("people"), masking.pads(KEY),
                          masking.Deadline(None), Path("/nonexistent"))
    seconds = time.perf_counter() - started
    assert outcome.done
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "batches": outcome.batches}


def row_by_row(bench: Bench) -> dict[str, float]:
    """The naive way: fetch each row, mask it in the client, UPDATE it back."""
    bench.fill("people_rbr", ROW_BY_ROW_SAMPLE)
    table, run = bench.table("people_rbr"), bench.dialect.execute
    shifted = "born + CAST(%s AS integer)" if bench.dialect.postgres else \
        "DATE_ADD(born, INTERVAL %s DAY)"
    started = time.perf_counter()
    run(bench.conn, "START TRANSACTION")
    for row_id, email, first, phone, born in run(
            bench.conn, f"SELECT id, email, first_name, phone, born FROM {table}"):
        digest = hmac.new(KEY, f"email:{email.lower()}".encode(), "sha256").hexdigest()
        name = hmac.new(KEY, f"first_name:{first}".encode(), "sha256").hexdigest()[:8]
        number = int(hmac.new(KEY, f"phone:{phone}".encode(), "sha256").hexdigest()[:8], 16)
        shift = int(hmac.new(KEY, f"date_shift:{born}".encode(), "sha256").hexdigest()[:8], 16)
        run(bench.conn, f"UPDATE {table} SET email = %s, first_name = %s, phone = %s, "
                        f"born = {shifted} WHERE id = %s", f"u{digest[:24]}@example.invalid",
            name, f"+1-202-555-01{number % 100:02d}", shift % 731 - 365, row_id)
    run(bench.conn, "COMMIT")
    seconds = time.perf_counter() - started
    return {"rows": ROW_BY_ROW_SAMPLE, "seconds": seconds,
            "rows_per_second": ROW_BY_ROW_SAMPLE / seconds}


def batch_loop(bench: Bench, rows: int, invocation_seconds: float) -> dict[str, float]:
    """Invocations of `invocation_seconds` each (the step's Deadline) until the table is done."""
    bench.fill("people_big", rows)
    plan = bench.rules_for("people_big")
    started = time.perf_counter()
    invocations = batches = 0
    longest_batch = 0.0
    while True:
        invocations += 1
        deadline = masking.Deadline(invocation_seconds)
        outcome = masking.run(bench.conn, bench.engine, plan, masking.pads(KEY), deadline,
                              Path("/x"))
        batches += outcome.batches
        longest_batch = max(longest_batch, deadline.last_batch)
        if outcome.done:
            break
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "invocations": invocations, "batches": batches, "longest_batch_s": longest_batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(DIALECTS), default="aurora-postgresql")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--invocation-seconds", type=float, default=60.0,
                        help="the simulated time of one masking invocation")
    args = parser.parse_args()
    dialect = DIALECTS[args.engine]
    engine = engine_for(args.engine)
    target, admin = server(dialect)
    name = f"bench_masking_{uuid.uuid4().hex[:8]}"
    su = engine.connect(target, admin)
    version = dialect.execute(su, "SELECT version()")[0][0]
    dialect.execute(su, f"CREATE DATABASE {name}")
    try:
        scratch = db.Target(target.host, target.port, name, target.tls, 10.0)
        bench = Bench(dialect, engine.for_target(scratch), engine.connect(scratch, admin), name)
        try:
            results = {
                f"set-based, {args.rows:,} rows, 4 columns": set_based(bench, args.rows),
                f"row by row (client-side), {ROW_BY_ROW_SAMPLE:,} rows": row_by_row(bench),
                f"batch loop, {args.big:,} rows, {args.invocation_seconds:.0f} s invocations":
                    batch_loop(bench, args.big, args.invocation_seconds),
            }
        finally:
            engine.close(bench.conn)
    finally:
        force = " WITH (FORCE)" if dialect.postgres else ""
        dialect.execute(su, f"DROP DATABASE IF EXISTS {name}{force}")
        engine.close(su)
    print(f"{args.engine} on {version}")
    print(f"{'case':58} {'rows/s':>10} {'seconds':>9}  more")
    for case, figures in results.items():
        more = ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in figures.items()
                         if k not in ("rows", "seconds", "rows_per_second"))
        print(f"{case:58} {figures['rows_per_second']:>10,.0f} {figures['seconds']:>9.1f}  {more}")


if __name__ == "__main__":
    main()
