"""The IAM documents of an aurora-mysql env: the restore and the instances are authorised on
RDS's default Aurora MySQL groups (default.aurora-mysql8.0, default:aurora-mysql-8-0), and the
documents lint as clean as PostgreSQL's (the same accepted findings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_restore_cli.documents import policies

from . import test_policies as pg
from .test_policies import as_list, load


def granted(env: str) -> dict[str, set[str]]:
    settings, names = load(env=env)
    found: dict[str, set[str]] = {}
    for document in policies.all_policies("lambda", settings, names).values():
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                for action in as_list(statement["Action"]):
                    found.setdefault(action, set()).update(as_list(statement["Resource"]))
    return found


def test_the_restore_and_the_instances_may_use_the_default_mysql_groups() -> None:
    rds = granted("dev-mysql")
    restore, instance = rds["rds:RestoreDBClusterFromSnapshot"], rds["rds:CreateDBInstance"]
    assert any(r.endswith(":cluster-pg:default.aurora-mysql8.0") for r in restore)
    assert any(r.endswith(":og:default:aurora-mysql-8-0") for r in restore)
    assert any(r.endswith(":pg:default.aurora-mysql8.0") for r in instance)
    everything = " ".join(r for resources in rds.values() for r in resources)
    assert "aurora-postgresql" not in everything


def test_mysql_policies_lint_clean_with_parliament(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings, names = load(env="dev-mysql")
    monkeypatch.setattr(pg, "variants", lambda _: [(settings, names)])
    pg.test_policies_lint_clean_with_parliament(tmp_path, 0)
