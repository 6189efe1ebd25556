"""The PII gate's scan on a real PostgreSQL server (handlers/lib/pii_scan.py): what it finds,
what covers a finding, and that it never reports a value."""

from __future__ import annotations

import json

import pg8000.native

from handlers.lib import masking, masking_rules, pii_scan
from handlers.lib.engines import engine_for

ENGINE = engine_for("aurora-postgresql")


def rules(spec: dict[str, object]) -> list[masking_rules.Rule]:
    return masking_rules.parse_rules(spec)


def by_column(report: pii_scan.Report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.column, set()).add(finding.detector)
    return found


def test_unmasked_example_data_fails_by_value_and_by_name(
    admin_conn: pg8000.native.Connection,
) -> None:
    report = pii_scan.scan(admin_conn, ENGINE, [], sample_rows=1000)
    found = by_column(report)
    assert found["public.customers.email"] == {"column name (email)"}  # .example is reserved
    assert "phone" in found["public.customers.phone"]
    assert found["public.customers.first_name"] == {"column name (person name)"}
    assert found["public.customers.date_of_birth"] == {"column name (birth date)"}
    assert "phone" in found["public.orders.notes"]  # free text: a number inside a note
    assert "public.orders.total_cents" not in found and "public.customers.id" not in found
    assert report.failing and report.tables == 2 and report.rows_sampled == 6
    message = report.failure_message()
    assert "public.orders.notes: phone in 1 sampled value(s)" in message
    text = message + json.dumps(report.to_json())
    for value in ("ada@lovelace.example", "7946", "Lovelace", "1815"):
        assert value not in text  # never a value


def test_rules_cover_and_the_masked_database_passes(admin_conn: pg8000.native.Connection) -> None:
    declared = rules({
        "public.customers.email": "email", "public.customers.phone": "phone",
        "public.customers.first_name": "first_name", "public.customers.last_name": "last_name",
        "public.customers.street": "address", "public.customers.postal_code": "hash",
        "public.customers.date_of_birth": "date_shift",
        "public.orders.shipping_address": "address", "public.orders.notes": "null",
    })
    before = pii_scan.scan(admin_conn, ENGINE, declared, 1000)
    assert not before.failing  # every finding is covered by a rule …
    assert any(f.covered for f in before.findings)
    masking.run(admin_conn, ENGINE, masking.Plan(tuple(declared)), masking.pads(b"k" * 32),
                masking.Deadline(None), masking.sql_files.sql_directory())
    after = pii_scan.scan(admin_conn, ENGINE, declared, 1000)
    assert not after.failing
    assert "email" not in by_column(after).get("public.customers.email", set())  # reserved domain


def test_a_new_column_without_a_rule_fails_and_keep_or_sql_decide(
    admin_conn: pg8000.native.Connection,
) -> None:
    admin_conn.run("ALTER TABLE public.orders ADD COLUMN gift_message text")
    admin_conn.run("UPDATE public.orders SET gift_message = 'from bob@mailbox.org' WHERE id = 2")
    admin_conn.run("ALTER TABLE public.orders ADD COLUMN note_code text")
    admin_conn.run("UPDATE public.orders SET note_code = '4111-1111-1111-1111'")
    covered = {
        "public.customers.email": "email", "public.customers.phone": "phone",
        "public.customers.first_name": "name", "public.customers.last_name": "name",
        "public.customers.street": "address", "public.customers.postal_code": "hash",
        "public.customers.date_of_birth": "date_shift",
        "public.orders.shipping_address": "address", "public.orders.notes": "null",
    }
    report = pii_scan.scan(admin_conn, ENGINE, rules(covered), 1000)
    assert {f.column for f in report.failing} == {
        "public.orders.gift_message", "public.orders.note_code"}
    failing = {f.column: f for f in report.failing}
    assert failing["public.orders.gift_message"].detector == "email"
    assert failing["public.orders.note_code"].count == 3 and failing["public.orders.note_code"].detector == "card"
    # `keep` (reviewed) covers a column; `sql` does not until its values stop looking personal.
    decided = {**covered, "public.orders.note_code": "keep", "public.orders.gift_message": "sql"}
    report = pii_scan.scan(admin_conn, ENGINE, rules(decided), 1000)
    assert [f.column for f in report.failing] == ["public.orders.gift_message"]
    admin_conn.run("UPDATE public.orders SET gift_message = 'from [e-mail]'")
    assert not pii_scan.scan(admin_conn, ENGINE, rules(decided), 1000).failing


def test_samples_spread_over_a_big_table_and_all_rows_on_request(
    admin_conn: pg8000.native.Connection,
) -> None:
    admin_conn.run("CREATE TABLE public.events (id int PRIMARY KEY, payload text)")
    admin_conn.run("INSERT INTO public.events SELECT g, CASE WHEN g = 19999 THEN "
                   "'user ip 81.2.69.160' ELSE 'ok' END FROM generate_series(1, 20000) g")
    admin_conn.run("ANALYZE public.events")
    spec = {f"public.customers.{c}": "keep" for c in (
        "email", "phone", "first_name", "last_name", "street", "postal_code", "date_of_birth")}
    spec |= {"public.orders.shipping_address": "keep", "public.orders.notes": "keep"}
    sampled = pii_scan.scan(admin_conn, ENGINE, rules(spec), 100)
    assert sampled.rows_sampled < 400  # a sample, not the table
    full = pii_scan.scan(admin_conn, ENGINE, rules(spec), None)
    assert [(f.column, f.detector) for f in full.failing] == [("public.events.payload", "ip")]
