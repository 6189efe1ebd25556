"""Declared masking rules on both engines: every transformer, the keyed hash against Python's
HMAC, the same fakes on PostgreSQL and MySQL, types, lengths and unique columns, quoted
names, and the batch loop across invocations with a retry in the middle."""

from __future__ import annotations

import datetime
import hmac
import itertools
from pathlib import Path
from typing import Any

import pytest

from handlers.lib import masking, masking_rules
from handlers.lib.errors import MaskingRuleInvalid

from .conftest import MYSQL, Scratch

KEY = bytes.fromhex("11" * 32)
OTHER_KEY = bytes.fromhex("22" * 32)
COLUMNS = "email, phone, first_name, last_name, street, postal_code, date_of_birth"


def plan(rules: dict[str, Any], batch_rows: int = 1000) -> masking.Plan:
    return masking.Plan(rules=tuple(masking_rules.parse_rules(rules)), batch_rows=batch_rows)


def mask(scratch: Scratch, conn: Any, rules: dict[str, Any], key: bytes = KEY,
         batch_rows: int = 1000, seconds: float | None = None) -> masking.Outcome:
    return masking.run(conn, scratch.engine, plan(qualified(scratch, rules), batch_rows),
                       masking.pads(key), masking.Deadline(seconds), Path("/nonexistent"))


def qualified(scratch: Scratch, rules: dict[str, Any]) -> dict[str, Any]:
    """Rules written as `table.column` get the example schema (public, or MySQL's database)."""
    return {(f"{scratch.schema}.{k}" if k.count(".") == 1 else k): v for k, v in rules.items()}


def keyed_hex(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}:{value}".encode(), "sha256").hexdigest()


RULES = {
    "customers.email": "email",
    "customers.phone": "phone",
    "customers.first_name": "first_name",
    "customers.last_name": "last_name",
    "customers.street": "address",
    "customers.postal_code": {"redact_keep_last": 2},
    "customers.date_of_birth": {"date_shift": 30},
    "orders.shipping_address": "address",
    "orders.notes": None,
}


# The example rows masked by RULES with KEY, on PostgreSQL and on MySQL alike.
EXAMPLE_MASKED = [
    ["u0bf80eb9bc5696de5f1a6250@example.invalid", "+1-202-555-0152", "Taylor", "Oakhurst",
     "463 Sample Avenue", "******JH", "1815-12-23"],
    ["u7650c5ca0d33d29e28af7f94@example.invalid", "+1-202-555-0132", "Hayden", "Birchwood",
     "8630 Dummy Way", "*****LA", "1912-06-17"],
    ["u5bbdc7a341f175689b13d3eb@example.invalid", "+1-202-555-0187", "Sage", "Yarrow",
     "7123 Fictional Lane", "***01", "1906-11-25"],
    ["1265 Dummy Way"], ["4096 Mock Boulevard"], ["9392 Fictional Lane"],
]


def test_every_transformer_masks_and_keeps_nulls(scratch: Scratch, admin_conn: Any) -> None:
    before = scratch.rows(admin_conn, f"SELECT {COLUMNS} FROM customers ORDER BY id")
    assert mask(scratch, admin_conn, RULES).done
    after = scratch.rows(admin_conn, f"SELECT {COLUMNS} FROM customers ORDER BY id")
    for old, new in zip(before, after, strict=True):
        for i in range(6):
            assert old[i] != new[i]
        assert new[0].endswith("@example.invalid") and new[0].startswith("u")
        assert new[1].startswith("+1-202-555-01")
        assert new[5] == "*" * (len(old[5]) - 2) + old[5][-2:]
        assert abs((new[6] - old[6]).days) <= 30
    assert scratch.column(admin_conn, "SELECT notes FROM orders") == [None, None, None]
    # No progress table or schema is left behind.
    leftover = (f"SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                f"'{scratch.name}' AND table_name LIKE 'aurora_restore%'" if scratch.mysql else
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'aurora_restore_masking'")
    assert scratch.rows(admin_conn, leftover) == [[0]]


def test_the_hash_is_hmac_sha256_with_the_key(scratch: Scratch, admin_conn: Any) -> None:
    email = scratch.column(admin_conn, "SELECT email FROM customers WHERE id = 1")[0]
    mask(scratch, admin_conn, {"customers.email": "email"})
    masked = scratch.column(admin_conn, "SELECT email FROM customers WHERE id = 1")[0]
    assert masked == f"u{keyed_hex(KEY, 'email', email.lower())[:24]}@example.invalid"
    for key in (KEY, bytes(range(256))[-48:]):  # pads of every byte value, not only text
        pads = masking.pads(key)
        for value in ("x", "pässwörd 密码", "it's"):
            assert scratch.engine.hmac_hex(admin_conn, "hash", value, pads) == \
                keyed_hex(key, "hash", value)


def test_both_engines_mask_to_the_same_fakes(scratch: Scratch, admin_conn: Any) -> None:
    """One config, two engines, one result: a value masks to the same fake everywhere (a
    team moving between engines keeps its test data)."""
    mask(scratch, admin_conn, RULES)
    masked = [[str(v) for v in row] for row in
              scratch.rows(admin_conn, f"SELECT {COLUMNS} FROM customers ORDER BY id")]
    masked += [[str(v) for v in row] for row in
               scratch.rows(admin_conn, "SELECT shipping_address FROM orders ORDER BY id")]
    assert masked == EXAMPLE_MASKED


def test_deterministic_across_tables_runs_and_rotated_keys(scratch: Scratch) -> None:
    conn = scratch.as_admin()
    scratch.execute(conn, "CREATE TABLE contacts (id int PRIMARY KEY, mail varchar(255))")
    scratch.execute(conn, "INSERT INTO contacts SELECT id, email FROM customers")
    emails = scratch.column(conn, "SELECT email FROM customers ORDER BY id")
    mask(scratch, conn, {"customers.email": "email", "contacts.mail": "email"})
    first = scratch.column(conn, "SELECT email FROM customers ORDER BY id")
    assert first == scratch.column(conn, "SELECT mail FROM contacts ORDER BY id")
    scratch.execute(conn, "UPDATE customers SET email = :e WHERE id = 1", e=emails[0])
    mask(scratch, conn, {"customers.email": "email"})
    assert scratch.column(conn, "SELECT email FROM customers WHERE id = 1")[0] == first[0]
    scratch.execute(conn, "UPDATE customers SET email = :e WHERE id = 1", e=emails[0])
    mask(scratch, conn, {"customers.email": "email"}, key=OTHER_KEY)
    rotated = scratch.column(conn, "SELECT email FROM customers WHERE id = 1")[0]
    assert rotated != first[0] and rotated.endswith("@example.invalid")
    scratch.close(conn)


def test_types_lengths_and_unique_columns(scratch: Scratch) -> None:
    conn = scratch.as_admin()
    born = "datetime" if scratch.mysql else "timestamptz"
    scratch.execute(conn, f"CREATE TABLE people (id int PRIMARY KEY, code varchar(12) UNIQUE, "
                          f"nick varchar(5), login varchar(44) UNIQUE, born {born}, tag char(4))")
    for i in range(1, 301):
        scratch.execute(conn, "INSERT INTO people VALUES (:i, :c, :n, :l, :b, :t)", i=i,
                        c=f"c{i}", n=f"n{i}", l=f"user{i}", t=f"t{i % 10}",
                        b=datetime.datetime(2000, 1, 1, 12, 0, tzinfo=datetime.timezone.utc))
    with pytest.raises(MaskingRuleInvalid, match=r"people\.code .*too short"):
        mask(scratch, conn, {"people.code": "hash", "people.nick": "first_name"})
    assert scratch.column(conn, "SELECT nick FROM people WHERE id = 1") == ["n1"]
    with pytest.raises(MaskingRuleInvalid, match="cannot keep a unique column unique"):
        mask(scratch, conn, {"people.login": "first_name"})
    with pytest.raises(MaskingRuleInvalid, match="needs a date or timestamp"):
        mask(scratch, conn, {"people.nick": "date_shift"})
    with pytest.raises(MaskingRuleInvalid, match="no column 'missing'"):
        mask(scratch, conn, {"people.missing": "hash"})
    with pytest.raises(MaskingRuleInvalid, match=r"no table .*\.nobody"):
        mask(scratch, conn, {"nobody.x": "hash"})
    mask(scratch, conn, {"people.login": "email", "people.nick": "name",
                         "people.born": "date_shift", "people.tag": {"fixed": "xx"}})
    logins = scratch.column(conn, "SELECT login FROM people")
    assert len(set(logins)) == 300 and all(len(v) <= 44 for v in logins)
    assert all(len(v) <= 5 for v in scratch.column(conn, "SELECT nick FROM people"))
    # CHAR(4): PostgreSQL keeps the padding, MySQL strips it when read
    assert set(scratch.column(conn, "SELECT tag FROM people")) == {"xx" if scratch.mysql else "xx  "}
    scratch.close(conn)


def test_quoted_mixed_case_dotted_and_reserved_names(scratch: Scratch) -> None:
    conn = scratch.as_admin()
    if scratch.mysql:  # MySQL's schemas are databases: a table of odd names in this one
        scratch.execute(conn, "CREATE TABLE `Order.EU` (id int PRIMARY KEY, `E-Mail` text, "
                              "`select` text, `100%` text)")
        scratch.execute(conn, "INSERT INTO `Order.EU` VALUES (1, 'A@B.example', 'secret', 'x')")
        table, read = f'{scratch.schema}."Order.EU"', "SELECT `E-Mail`, `select`, `100%` FROM `Order.EU`"
    else:
        scratch.execute(conn, 'CREATE SCHEMA "Sales.EU"')
        scratch.execute(conn, 'CREATE TABLE "Sales.EU"."Order" (id int PRIMARY KEY, "E-Mail" '
                              'text, "select" text, "100%" text)')
        scratch.execute(conn, "INSERT INTO \"Sales.EU\".\"Order\" VALUES (1, 'A@B.example', "
                              "'secret', 'x')")
        table, read = '"Sales.EU"."Order"', 'SELECT "E-Mail", "select", "100%" FROM "Sales.EU"."Order"'
    mask(scratch, conn, {f'{table}."E-Mail"': "email", f"{table}.select": "hash",
                         f'{table}."100%"': "hash"})
    row = scratch.rows(conn, read)[0]
    assert row[0].endswith("@example.invalid") and row[1] == keyed_hex(KEY, "hash", "secret")
    assert row[2] == keyed_hex(KEY, "hash", "x")
    scratch.close(conn)


def test_batches_across_invocations_survive_a_retry(scratch: Scratch) -> None:
    conn = scratch.as_admin()
    for name in ("big", "big2"):
        scratch.execute(conn, f"CREATE TABLE {name} (id bigint PRIMARY KEY, email varchar(80))")
    values = ", ".join(f"({i}, 'person{i}@mail.example')" for i in range(1, 1201))
    scratch.execute(conn, f"INSERT INTO big VALUES {values}")
    scratch.execute(conn, "INSERT INTO big2 SELECT * FROM big")
    mask(scratch, conn, {"big2.email": "email"}, batch_rows=100_000)
    expected = scratch.column(conn, "SELECT email FROM big2 ORDER BY id")

    rules = {"big.email": "email"}
    clock = itertools.count()
    # An invocation that has time for about three batches (one tick per clock read).
    deadline = masking.Deadline(6, clock=lambda: float(next(clock)))
    outcome = masking.run(conn, scratch.engine, plan(qualified(scratch, rules), 150),
                          masking.pads(KEY), deadline, Path("/x"))
    assert not outcome.done and 1 <= outcome.batches < 8
    masked_so_far = outcome.tables[f"table {scratch.schema}.big"]["rows"]
    assert 0 < masked_so_far < 1200

    # A retry of an invocation that died right after committing a batch.
    engine = scratch.engine
    original_commit = engine.commit
    calls = {"n": 0}

    def commit_then_die(c: Any) -> None:
        original_commit(c)
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("lost after commit")

    engine.commit = commit_then_die  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        masking.run(conn, engine, plan(qualified(scratch, rules), 150), masking.pads(KEY),
                    masking.Deadline(None), Path("/x"))
    invocations = 0
    while True:
        invocations += 1
        outcome = mask(scratch, conn, rules, batch_rows=150,
                       seconds=None if invocations > 3 else 0.0)
        if outcome.done:
            break
    assert scratch.column(conn, "SELECT email FROM big ORDER BY id") == expected
    scratch.close(conn)


def test_mysql_keys_of_every_batchable_type(scratch: Scratch) -> None:
    """Batches follow the key in its own type (MySQL casts the text of the last key back)."""
    conn = scratch.as_admin()
    unsigned = "bigint unsigned" if scratch.engine_name == MYSQL else "numeric(20)"
    keys = {"k_text": ("varchar(20)", [f"key-{i:03d}" for i in range(40)]),
            "k_date": ("date", [datetime.date(2020, 1, 1) + datetime.timedelta(days=i)
                                for i in range(40)]),
            "k_big": (unsigned, [2**63 + i for i in range(40)] if scratch.mysql
                      else list(range(40)))}
    for table, (kind, values) in keys.items():
        scratch.execute(conn, f"CREATE TABLE {table} (k {kind} PRIMARY KEY, mail varchar(80))")
        for value in values:
            scratch.execute(conn, f"INSERT INTO {table} VALUES (:k, 'someone@mail.example')",
                            k=value)
    outcome = mask(scratch, conn, {f"{t}.mail": "email" for t in keys}, batch_rows=7)
    assert outcome.done
    for table in keys:
        assert outcome.tables[f"table {scratch.schema}.{table}"]["rows"] == 40
        assert scratch.rows(conn, f"SELECT count(*) FROM {table} WHERE mail LIKE '%.invalid'") \
            == [[40]]
    scratch.close(conn)
