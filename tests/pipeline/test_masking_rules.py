"""The masking rules' parser and the PII detectors: pure, no database (handlers/lib)."""

from __future__ import annotations

import pytest

from handlers.lib import masking_rules, pii_detectors
from handlers.lib.masking_rules import Column


@pytest.mark.parametrize(
    ("key", "column"),
    [
        ("public.customers.email", Column("public", "customers", "email")),
        ("Public.Customers.EMail", Column("public", "customers", "email")),  # folded
        ('public."Order Items"."E-Mail"', Column("public", "Order Items", "E-Mail")),
        ('"sales.eu"."order"."select"', Column("sales.eu", "order", "select")),
        ('app.t."say ""hi"""', Column("app", "t", 'say "hi"')),
    ],
)
def test_columns_are_named_as_sql_names_them(key: str, column: Column) -> None:
    parsed = masking_rules.parse_column(key)
    assert parsed == column
    assert masking_rules.parse_column(str(parsed)) == parsed  # str() round-trips


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("customers.email", "expected schema.table.column"),
        ("a.b.c.d", "expected schema.table.column"),
        ('a."b.c', "unterminated quote"),
        ("a.b c.d", "spaces"),
        ("a..c", "empty part"),
        ("a.b." + "x" * 64, "longer than 63 bytes"),
    ],
)
def test_malformed_columns_are_refused(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        masking_rules.parse_column(key)


def test_transformers_and_their_arguments() -> None:
    rules = masking_rules.parse_rules({
        "s.t.a": "email", "s.t.b": None, "s.t.c": {"fixed": 0}, "s.t.d": {"redact_keep_last": 4},
        "s.t.e": {"date_shift": 10}, "s.t.f": "keep", "s.t.g": "sql",
    })
    assert [(r.column.column, r.transformer, r.argument) for r in rules] == [
        ("a", "email", None), ("b", "null", None), ("c", "fixed", 0),
        ("d", "redact_keep_last", 4), ("e", "date_shift", 10), ("f", "keep", None),
        ("g", "sql", None),
    ]
    assert [r.writes for r in rules] == [True] * 5 + [False, False]
    for bad, message in (
        ("mask", "unknown transformer 'mask'"),
        ({"fixed": [1]}, "expected a scalar"),
        ({"redact_keep_last": -1}, "expected 0 to 64"),
        ({"date_shift": "a"}, "expected a whole number"),
        ({"hash": 3}, "unknown transformer 'hash' with an argument"),
        ({"email": 1, "hash": 2}, "one-key mapping"),
    ):
        with pytest.raises(ValueError, match=message):
            masking_rules.parse_transformer(bad)
    with pytest.raises(ValueError, match="the same column as another rule"):
        masking_rules.parse_rules({"s.t.A": "hash", "s.t.a": "email"})
    # The settings document's form reads back to the same rules.
    assert [masking_rules.rule_from_json(r.to_json()) for r in rules] == rules


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("mail ada@lovelace.co.uk today", {"email"}),
        ("customer1@example.invalid", set()),  # reserved domains are not anyone's
        ("x@example.com, y@mail.example", set()),
        ("+44 20 7946 0018", {"phone"}),
        ("call (202) 555-0143 before delivery", {"phone"}),
        ("020 7946 0958", {"phone"}),
        ("order 2024-01-15 of 19.99", set()),
        ("4111 1111 1111 1111", {"card"}),  # passes Luhn
        ("4111 1111 1111 1112", set()),  # fails Luhn
        ("GB82 WEST 1234 5698 7654 32", {"iban"}),
        ("GB82 WEST 1234 5698 7654 33", set()),  # fails mod-97
        ("ssn 123-45-6789", {"ssn"}),
        ("000-12-3456 666-12-3456 912-12-3456", set()),  # invalid areas
        ("from 81.2.69.160", {"ip"}),
        ("127.0.0.1 and 192.0.2.10 and 10.300.1.1", set()),  # loopback, docs, not an address
        ("2a00:1450:4001:81c::200e", {"ip"}),
        ("2001:db8::1", set()),
        ("version 1.2.3", set()),
        ("leave at the door", set()),
    ],
)
def test_value_detectors_validate_what_they_find(value: str, found: set[str]) -> None:
    assert pii_detectors.detect(value) == found


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("first_name", "person name"), ("lastName", "person name"), ("surname", "person name"),
        ("customer_name", "person name"), ("billing_email", "email"), ("email_address", "email"),
        ("mobile", "phone"), ("ssn", "national id"), ("date_of_birth", "birth date"),
        ("dob", "birth date"), ("shipping_address", "address"), ("postal_code", "address"),
        ("iban", "financial"), ("card_number", "financial"), ("client_ip", "ip address"),
        ("ip_address", "ip address"),
        ("name", None), ("product_name", None), ("email_verified", None), ("customer_id", None),
        ("created_at", None), ("total_cents", None), ("phone_country_code", None),
    ],
)
def test_column_names_that_say_personal(name: str, hint: str | None) -> None:
    assert pii_detectors.name_hint(name) == hint
