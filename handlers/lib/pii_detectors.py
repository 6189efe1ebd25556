"""What personal data looks like: value detectors that carry their own validation, and a
dictionary of column names. Pure Python (standard library only), no database.

Value detectors find PII inside any text, free text included (an e-mail in a `notes` column):

| detector | fires on | validated by |
|---|---|---|
| `email` | an address at a real-looking domain | reserved domains (example.*, .invalid, .test, .localhost) excluded |
| `phone` | E.164 (`+` and 8–15 digits) or national formats (`(202) 555-0143`, `020 7946 0958`) | digit counts, separators |
| `card` | 13–19 digits, optionally grouped | the Luhn check, an issuer prefix (3–6) |
| `iban` | country code, check digits, account | length per country, mod-97 = 1 |
| `ssn` | US social security numbers `123-45-6789` | valid ranges (area not 000/666/9xx, group and serial not 0) |
| `ip` | IPv4 and IPv6 addresses | each octet ≤ 255; loopback, unspecified and documentation ranges excluded |

The name dictionary says which columns are personal by their name (first_name, surname,
date_of_birth, iban, …), for the values no detector can recognise (a person's name).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

MAX_VALUE_CHARS = 10_000  # detectors read this much of a value (free text can be long)

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?![\w-])")
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_SUFFIXES = (".example", ".invalid", ".test", ".localhost")
E164 = re.compile(r"(?<![\w+])\+\d[\d .()-]{6,20}\d(?!\w)")
NANP = re.compile(r"(?<![\w+])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)")
NATIONAL = re.compile(r"(?<![\w+])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?!\w)")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?![A-Z0-9])")
SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26,
    "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24,
}
DOCUMENTATION_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)

DETECTORS = ("email", "phone", "card", "iban", "ssn", "ip")


def detect(value: str) -> set[str]:
    """The detectors that find PII in `value`."""
    text = value[:MAX_VALUE_CHARS]
    found = set()
    if "@" in text and any(_real_domain(m.group(1)) for m in EMAIL.finditer(text)):
        found.add("email")
    digits = sum(c.isdigit() for c in text)
    if digits >= 8:
        if _phone(text):
            found.add("phone")
        if digits >= 13 and any(_card(m.group(0)) for m in CARD.finditer(text)):
            found.add("card")
        if any(_iban(m.group(1)) for m in IBAN.finditer(text)):
            found.add("iban")
        if any(_ssn(*m.groups()) for m in SSN.finditer(text)):
            found.add("ssn")
    if ("." in text and any(_ipv4(m.groups()) for m in IPV4.finditer(text))) or (
        ":" in text and any(_ipv6(m.group(0)) for m in IPV6.finditer(text))
    ):
        found.add("ip")
    return found


def _real_domain(domain: str) -> bool:
    domain = domain.lower()
    if domain in RESERVED_DOMAINS or domain.endswith(RESERVED_SUFFIXES):
        return False
    return not any(domain.endswith("." + d) for d in RESERVED_DOMAINS)


def _phone(text: str) -> bool:
    for match in E164.finditer(text):
        if 8 <= sum(c.isdigit() for c in match.group(0)) <= 15:
            return True
    return bool(NANP.search(text) or NATIONAL.search(text))


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return (13 <= len(digits) <= 19 and digits[0] in "3456" and len(set(digits)) > 1
            and luhn(digits))


def iban_valid(candidate: str) -> bool:
    code = candidate.replace(" ", "").upper()
    expected = IBAN_LENGTHS.get(code[:2])
    if not 15 <= len(code) <= 34 or (expected is not None and len(code) != expected):
        return False
    rearranged = code[4:] + code[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _iban(candidate: str) -> bool:
    return iban_valid(candidate)


def _ssn(area: str, group: str, serial: str) -> bool:
    return (area not in ("000", "666") and not area.startswith("9") and group != "00"
            and serial != "0000")


def _ipv4(octets: Iterable[str]) -> bool:
    parts = [int(o) for o in octets]
    if any(p > 255 for p in parts):
        return False
    return _public_enough(ipaddress.ip_address(".".join(map(str, parts))))


def _ipv6(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return _public_enough(address)


def _public_enough(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback or address.is_unspecified:
        return False
    return not any(address in net for net in DOCUMENTATION_NETS if net.version == address.version)


# --- column names ---------------------------------------------------------------------------

NAME_TOKENS: dict[str, tuple[str, ...]] = {
    "person name": ("firstname", "lastname", "surname", "fullname", "forename", "givenname",
                    "familyname", "maidenname", "middlename"),
    "email": ("email", "mail", "emailaddress"),
    "phone": ("phone", "telephone", "tel", "mobile", "cellphone", "fax", "msisdn",
              "phonenumber"),
    "national id": ("ssn", "socialsecurity", "socialsecuritynumber", "nationalid", "taxid",
                    "passport", "passportnumber", "driverlicense", "driverslicense"),
    "address": ("address", "street", "streetaddress", "addressline", "addressline1",
                "addressline2", "postcode", "postalcode", "zip", "zipcode"),
    "birth date": ("dob", "birthdate", "dateofbirth", "birthday"),
    "financial": ("iban", "accountnumber", "cardnumber", "creditcard", "ccnumber", "pan",
                  "cvv", "routingnumber", "bankaccount"),
    "ip address": ("ip", "ipaddress", "clientip", "remoteaddr", "remoteip"),
}
PERSON_QUALIFIERS = ("first", "last", "given", "family", "full", "maiden", "middle", "customer",
                     "contact", "person", "user", "owner", "holder", "recipient", "patient",
                     "employee", "billing", "shipping", "account", "card")
NOT_PERSONAL_LAST = ("id", "ids", "hash", "hashed", "verified", "status", "type", "count",
                     "enabled", "flag", "optin", "domain", "template", "format", "at", "sent",
                     "confirmed", "valid", "country", "prefix", "length")
NOT_PERSONAL_ENDINGS = (("country", "code"), ("area", "code"), ("type", "code"))
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_hint(column: str) -> str | None:
    """The kind of personal data a column's name says it holds, or None."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", column).lower()) if t]
    if not tokens or tokens[-1] in NOT_PERSONAL_LAST or any(
        tuple(tokens[-len(ending):]) == ending for ending in NOT_PERSONAL_ENDINGS
    ):
        return None
    joined = {"".join(tokens[i:j]) for i in range(len(tokens)) for j in
              range(i + 1, min(len(tokens), i + 4) + 1)}
    for kind in ("ip address", "birth date", "financial", "national id", "email", "phone",
                 "person name", "address"):
        if joined & set(NAME_TOKENS[kind]):
            return kind
    for i, token in enumerate(tokens):
        if token == "name" and i and tokens[i - 1] in PERSON_QUALIFIERS:
            return "person name"
    return None
