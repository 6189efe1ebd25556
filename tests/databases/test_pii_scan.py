"""The PII gate's scan on both engines (handlers/lib/pii_scan.py): what it finds, what covers
a finding, sampling, and that it never reports a value."""

from __future__ import annotations

import json
from typing import Any

from handlers.lib import masking, masking_rules, pii_scan

from .conftest import Scratch

CUSTOMER_COLUMNS = ("email", "phone", "first_name", "last_name", "street", "postal_code",
                    "date_of_birth")


def rules(scratch: Scratch, spec: dict[str, object]) -> list[masking_rules.Rule]:
    return masking_rules.parse_rules({f"{scratch.schema}.{k}": v for k, v in spec.items()})


def by_column(report: pii_scan.Report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.column, set()).add(finding.detector)
    return found


def test_unmasked_example_data_fails_by_value_and_by_name(scratch: Scratch,
                                                          admin_conn: Any) -> None:
    report = pii_scan.scan(admin_conn, scratch.engine, [], sample_rows=1000)
    found = by_column(report)
    s = scratch.schema
    assert found[f"{s}.customers.email"] == {"column name (email)"}  # .example is reserved
    assert "phone" in found[f"{s}.customers.phone"]
    assert found[f"{s}.customers.first_name"] == {"column name (person name)"}
    assert found[f"{s}.customers.date_of_birth"] == {"column name (birth date)"}
    assert "phone" in found[f"{s}.orders.notes"]  # free text: a number inside a note
    assert f"{s}.orders.total_cents" not in found and f"{s}.customers.id" not in found
    assert report.failing and report.tables == 2 and report.rows_sampled == 6
    message = report.failure_message()
    assert f"{s}.orders.notes: phone in 1 sampled value(s)" in message
    text = message + json.dumps(report.to_json())
    for value in ("ada@lovelace.example", "7946", "Lovelace", "1815"):
        assert value not in text  # never a value


def test_rules_cover_and_the_masked_database_passes(scratch: Scratch, admin_conn: Any) -> None:
    declared = rules(scratch, {
        "customers.email": "email", "customers.phone": "phone",
        "customers.first_name": "first_name", "customers.last_name": "last_name",
        "customers.street": "address", "customers.postal_code": "hash",
        "customers.date_of_birth": "date_shift",
        "orders.shipping_address": "address", "orders.notes": "null",
    })
    before = pii_scan.scan(admin_conn, scratch.engine, declared, 1000)
    assert not before.failing and any(f.covered for f in before.findings)
    masking.run(admin_conn, scratch.engine, masking.Plan(tuple(declared)),
                masking.pads(b"k" * 32), masking.Deadline(None),
                masking.sql_files.sql_directory())
    after = pii_scan.scan(admin_conn, scratch.engine, declared, 1000)
    assert not after.failing
    assert "email" not in by_column(after).get(f"{scratch.schema}.customers.email", set())


def test_a_new_column_without_a_rule_fails_and_keep_or_sql_decide(scratch: Scratch,
                                                                  admin_conn: Any) -> None:
    run = lambda sql: scratch.execute(admin_conn, sql)  # noqa: E731
    run("ALTER TABLE orders ADD COLUMN gift_message text")
    run("UPDATE orders SET gift_message = 'from bob@mailbox.org' WHERE id = 2")
    run("ALTER TABLE orders ADD COLUMN note_code text")
    run("UPDATE orders SET note_code = '4111-1111-1111-1111'")
    covered = {
        "customers.email": "email", "customers.phone": "phone",
        "customers.first_name": "name", "customers.last_name": "name",
        "customers.street": "address", "customers.postal_code": "hash",
        "customers.date_of_birth": "date_shift",
        "orders.shipping_address": "address", "orders.notes": "null",
    }
    s = scratch.schema
    report = pii_scan.scan(admin_conn, scratch.engine, rules(scratch, covered), 1000)
    assert {f.column for f in report.failing} == {f"{s}.orders.gift_message",
                                                  f"{s}.orders.note_code"}
    failing = {f.column: f for f in report.failing}
    assert failing[f"{s}.orders.gift_message"].detector == "email"
    assert failing[f"{s}.orders.note_code"].count == 3
    assert failing[f"{s}.orders.note_code"].detector == "card"
    decided = {**covered, "orders.note_code": "keep", "orders.gift_message": "sql"}
    report = pii_scan.scan(admin_conn, scratch.engine, rules(scratch, decided), 1000)
    assert [f.column for f in report.failing] == [f"{s}.orders.gift_message"]
    run("UPDATE orders SET gift_message = 'from [e-mail]'")
    assert not pii_scan.scan(admin_conn, scratch.engine, rules(scratch, decided), 1000).failing


def test_samples_spread_over_a_big_table_and_all_rows_on_request(scratch: Scratch,
                                                                 admin_conn: Any) -> None:
    scratch.execute(admin_conn, "CREATE TABLE events (id int PRIMARY KEY, payload text)")
    for start in range(1, 20001, 2000):
        values = ", ".join(
            f"({i}, '{'user ip 81.2.69.160' if i == 19999 else 'ok'}')"
            for i in range(start, start + 2000))
        scratch.execute(admin_conn, f"INSERT INTO events VALUES {values}")
    scratch.execute(admin_conn, "ANALYZE TABLE events" if scratch.mysql else "ANALYZE events")
    spec: dict[str, object] = {f"customers.{c}": "keep" for c in CUSTOMER_COLUMNS}
    spec |= {"orders.shipping_address": "keep", "orders.notes": "keep"}
    sampled = pii_scan.scan(admin_conn, scratch.engine, rules(scratch, spec), 100)
    assert sampled.rows_sampled < 400  # a sample, not the table
    full = pii_scan.scan(admin_conn, scratch.engine, rules(scratch, spec), None)
    assert [(f.column, f.detector) for f in full.failing] == [
        (f"{scratch.schema}.events.payload", "ip")]


def test_only_the_targets_own_database_is_seen(scratch: Scratch, admin_conn: Any) -> None:
    """On a shared server (the sandbox, these tests) the engine sees its target's database
    only: another cluster's data is neither scanned nor reported."""
    report = pii_scan.scan(admin_conn, scratch.engine, [], 10)
    assert {f.column.rsplit(".", 2)[0] for f in report.findings} == {scratch.schema}
    assert report.tables == 2
