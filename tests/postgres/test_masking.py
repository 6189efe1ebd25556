"""Declared masking rules on a real PostgreSQL server: every transformer, determinism across
tables and runs, unique columns, quoting, key rotation, and the batch loop across invocations
with a retry in the middle (handlers/lib/masking.py, engines/postgresql.py)."""

from __future__ import annotations

import hmac
import itertools
from pathlib import Path
from typing import Any

import pg8000.native
import pytest

from handlers.lib import masking, masking_rules
from handlers.lib.engines import engine_for
from handlers.lib.errors import MaskingRuleInvalid

from .conftest import ScratchDatabase

ENGINE = engine_for("aurora-postgresql")
KEY = bytes.fromhex("11" * 32)
OTHER_KEY = bytes.fromhex("22" * 32)


def plan(rules: dict[str, Any], batch_rows: int = 1000) -> masking.Plan:
    return masking.Plan(rules=tuple(masking_rules.parse_rules(rules)), batch_rows=batch_rows)


def mask(conn: pg8000.native.Connection, rules: dict[str, Any], key: bytes = KEY,
         batch_rows: int = 1000, seconds: float | None = None) -> masking.Outcome:
    return masking.run(conn, ENGINE, plan(rules, batch_rows), masking.pads(key),
                       masking.Deadline(seconds), Path("/nonexistent"))


def column(conn: pg8000.native.Connection, sql: str) -> list[Any]:
    return [row[0] for row in conn.run(sql)]


def keyed_hex(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), "sha256").hexdigest()


RULES = {
    "public.customers.email": "email",
    "public.customers.phone": "phone",
    "public.customers.first_name": "first_name",
    "public.customers.last_name": "last_name",
    "public.customers.street": "address",
    "public.customers.postal_code": {"redact_keep_last": 2},
    "public.customers.date_of_birth": {"date_shift": 30},
    "public.orders.shipping_address": "address",
    "public.orders.notes": None,
}


def test_every_transformer_masks_and_keeps_nulls(admin_conn: pg8000.native.Connection) -> None:
    before = admin_conn.run("SELECT email, phone, first_name, last_name, street, postal_code, "
                            "date_of_birth FROM public.customers ORDER BY id")
    outcome = mask(admin_conn, RULES)
    assert outcome.done
    after = admin_conn.run("SELECT email, phone, first_name, last_name, street, postal_code, "
                           "date_of_birth FROM public.customers ORDER BY id")
    for old, new in zip(before, after, strict=True):
        for i in range(6):
            assert old[i] != new[i]
        assert new[0].endswith("@example.invalid") and new[0].startswith("u")
        assert new[1].startswith("+1-202-555-01")
        assert new[5] == "*" * (len(old[5]) - 2) + old[5][-2:]
        assert abs((new[6] - old[6]).days) <= 30
    assert column(admin_conn, "SELECT notes FROM public.orders") == [None, None, None]
    # No progress schema is left behind.
    assert not admin_conn.run("SELECT 1 FROM pg_namespace WHERE nspname = 'aurora_restore_masking'")


def test_the_sql_hash_is_hmac_sha256_with_the_key(admin_conn: pg8000.native.Connection) -> None:
    email = column(admin_conn, "SELECT email FROM public.customers WHERE id = 1")[0]
    mask(admin_conn, {"public.customers.email": "email"})
    masked = column(admin_conn, "SELECT email FROM public.customers WHERE id = 1")[0]
    assert masked == f"u{keyed_hex(KEY, 'email', email.lower())[:24]}@example.invalid"
    assert ENGINE.hmac_hex(admin_conn, "hash", "x", masking.pads(KEY)) == keyed_hex(KEY, "hash", "x")


def test_deterministic_across_tables_runs_and_rotated_keys(database: ScratchDatabase) -> None:
    conn = database.as_admin()
    conn.run("CREATE TABLE public.contacts (id int PRIMARY KEY, mail text)")
    conn.run("INSERT INTO public.contacts SELECT id, email FROM public.customers")
    emails = column(conn, "SELECT email FROM public.customers ORDER BY id")
    rules = {"public.customers.email": "email", "public.contacts.mail": "email"}
    mask(conn, rules)
    first = column(conn, "SELECT email FROM public.customers ORDER BY id")
    # The same value masks to the same fake in another table: joins on it keep working.
    assert first == column(conn, "SELECT mail FROM public.contacts ORDER BY id")
    # Another refresh (same originals, same key) gives the same fakes; another key others.
    conn.run("UPDATE public.customers SET email = :e WHERE id = 1", e=emails[0])
    mask(conn, {"public.customers.email": "email"})
    assert column(conn, "SELECT email FROM public.customers WHERE id = 1")[0] == first[0]
    conn.run("UPDATE public.customers SET email = :e WHERE id = 1", e=emails[0])
    mask(conn, {"public.customers.email": "email"}, key=OTHER_KEY)
    rotated = column(conn, "SELECT email FROM public.customers WHERE id = 1")[0]
    assert rotated != first[0] and rotated.endswith("@example.invalid")
    conn.close()


def test_types_lengths_and_unique_columns(database: ScratchDatabase) -> None:
    conn = database.as_admin()
    conn.run("CREATE TABLE public.people (id int PRIMARY KEY, code varchar(12) UNIQUE, "
             "nick varchar(5), login varchar(44) UNIQUE, born timestamptz, tag char(4))")
    conn.run("INSERT INTO public.people SELECT g, 'c' || g, 'n' || g, 'user' || g, "
             "now(), 't' || (g % 10) FROM generate_series(1, 500) g")
    # A unique column too short for 96 bits of hash is refused before anything is written.
    with pytest.raises(MaskingRuleInvalid, match=r"public\.people\.code .*too short"):
        mask(conn, {"public.people.code": "hash", "public.people.nick": "first_name"})
    assert column(conn, "SELECT nick FROM public.people WHERE id = 1") == ["n1"]
    with pytest.raises(MaskingRuleInvalid, match="cannot keep a unique column unique"):
        mask(conn, {"public.people.login": "first_name"})
    with pytest.raises(MaskingRuleInvalid, match="needs a date or timestamp"):
        mask(conn, {"public.people.nick": "date_shift"})
    with pytest.raises(MaskingRuleInvalid, match="no column 'missing'"):
        mask(conn, {"public.people.missing": "hash"})
    with pytest.raises(MaskingRuleInvalid, match=r"no table public\.nobody"):
        mask(conn, {"public.nobody.x": "hash"})
    mask(conn, {"public.people.login": "email", "public.people.nick": "name",
                "public.people.born": "date_shift", "public.people.tag": {"fixed": "xx"}})
    logins = column(conn, "SELECT login FROM public.people")
    assert len(set(logins)) == 500 and all(len(v) <= 44 for v in logins)
    assert all(len(v) <= 5 for v in column(conn, "SELECT nick FROM public.people"))
    assert set(column(conn, "SELECT tag FROM public.people")) == {"xx  "}
    conn.close()


def test_quoted_mixed_case_dotted_and_reserved_names(database: ScratchDatabase) -> None:
    conn = database.as_admin()
    conn.run('CREATE SCHEMA "Sales.EU"')
    conn.run('CREATE TABLE "Sales.EU"."Order" (id int PRIMARY KEY, "E-Mail" text, "select" text)')
    conn.run('INSERT INTO "Sales.EU"."Order" VALUES (1, \'A@B.example\', \'secret\')')
    mask(conn, {'"Sales.EU"."Order"."E-Mail"': "email", '"Sales.EU"."Order".select': "hash"})
    row = conn.run('SELECT "E-Mail", "select" FROM "Sales.EU"."Order"')[0]
    assert row[0].endswith("@example.invalid") and row[1] == keyed_hex(KEY, "hash", "secret")
    conn.close()


def test_batches_across_invocations_survive_a_retry(database: ScratchDatabase) -> None:
    conn = database.as_admin()
    conn.run("CREATE TABLE public.big (id bigint PRIMARY KEY, email text)")
    conn.run("INSERT INTO public.big SELECT g, 'person' || g || '@mail.example' "
             "FROM generate_series(1, 2000) g")
    expected_conn = database.as_admin()
    expected_conn.run("CREATE TABLE public.big2 (id bigint PRIMARY KEY, email text)")
    expected_conn.run("INSERT INTO public.big2 SELECT * FROM public.big")
    mask(expected_conn, {"public.big2.email": "email"}, batch_rows=100_000)
    expected = column(expected_conn, "SELECT email FROM public.big2 ORDER BY id")

    rules = {"public.big.email": "email"}
    clock = itertools.count()
    # An invocation that has time for about three batches (one tick per clock read).
    deadline = masking.Deadline(6, clock=lambda: float(next(clock)))
    outcome = masking.run(conn, ENGINE, plan(rules, 150), masking.pads(KEY), deadline,
                          Path("/x"))
    assert not outcome.done and 1 <= outcome.batches < 14
    masked_so_far = outcome.tables["table public.big"]["rows"]
    assert 0 < masked_so_far < 2000

    # A retry of an invocation that died right after committing a batch: the next batch's
    # commit happens, then the connection is lost before the step could answer.
    original_commit = ENGINE.commit
    calls = {"n": 0}

    def commit_then_die(c: Any) -> None:
        original_commit(c)
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("lost after commit")

    ENGINE.commit = commit_then_die  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionError):
            mask(conn, rules, batch_rows=150)
    finally:
        ENGINE.commit = original_commit  # type: ignore[method-assign]
    invocations = 0
    while True:
        invocations += 1
        outcome = mask(conn, rules, batch_rows=150, seconds=None if invocations > 3 else 0.0)
        if outcome.done:
            break
    assert column(conn, "SELECT email FROM public.big ORDER BY id") == expected
    conn.close()
    expected_conn.close()
