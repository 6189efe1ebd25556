"""verify's settings; the database checks run on both engines in
tests/databases/test_verify.py."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.lib.errors import SettingsInvalid
from handlers.verify import ExpectedTable, expected_tables


def test_settings_are_validated() -> None:
    settings: dict[str, Any] = {"database": {"verify": {"expected_tables": [{"name": "a.b.c"}]}}}
    with pytest.raises(SettingsInvalid, match=r"'table' or 'schema\.table'"):
        expected_tables(settings)
    settings = {"database": {"verify": {"expected_tables": [{"name": "t", "min_rows": -1}]}}}
    with pytest.raises(SettingsInvalid, match="min_rows"):
        expected_tables(settings)
    settings = {"database": {"verify": {"expected_tables": [{"name": "t", "min_rows": None}]}}}
    assert expected_tables(settings) == [ExpectedTable("t", 0)]
