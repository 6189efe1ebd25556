"""A restore drill's verification against the real PostgreSQL server, end to end: the drill
state machine on moto's interpreter (tests/pipeline), with the database steps in override mode
pointing at a scratch database that stands in for the drill cluster, and the drill SQL checks
file packaged as the verify function would hold it. A false check fails the drill — which is
still cleaned up, reported FAILED naming the failing check — and a drill whose checks all hold
succeeds with their results in its summary. The target is compared before and after; the AWS
rules layer (tests/pipeline/aws_rules.py) is on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from aurora_restore_cli.sandbox import lambda_router
from handlers.lib import naming

from ..pipeline import drill_support, support
from ..pipeline.aws_rules import aws_rules
from ..pipeline.moto_patches import patched_moto
from .conftest import ScratchDatabase

ADMIN_SECRET = "aurora-restore/dev/local-admin"
GOOD_CHECKS = """\
-- check: customers restored
SELECT count(*) >= 3 FROM public.customers;
-- check: every order has its customer
SELECT NOT EXISTS (SELECT 1 FROM public.orders o
                   LEFT JOIN public.customers c ON c.id = o.customer_id WHERE c.id IS NULL);
"""
FALSE_CHECK = """\
-- check: at least a million orders
SELECT count(*) >= 1000000 FROM public.orders;
"""


@pytest.fixture
def drill_world(
    database: ScratchDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", support.REGION)
    with (
        mock_aws(config=support.MOTO_CONFIG),
        patched_moto(),
        aws_rules(),  # what AWS refuses is refused here too (tests/pipeline/aws_rules.py)
        lambda_router.routing(),
    ):
        world = support.build_world()
        world.settings["database"]["name"] = database.name
        world.settings["database"]["verify"]["expected_tables"] = [
            {"name": "public.customers", "min_rows": 3},
            {"name": "public.orders", "min_rows": 1},
        ]
        support.client("secretsmanager").create_secret(
            Name=ADMIN_SECRET,
            SecretString=json.dumps(
                {"username": database.admin.username, "password": database.admin.password}
            ),
        )
        environment = {
            "AURORA_RESTORE_DB_MODE": "override",
            "AURORA_RESTORE_DB_HOST": database.server.host,
            "AURORA_RESTORE_DB_PORT": str(database.server.port),
            "AURORA_RESTORE_DB_ADMIN_SECRET_ID": ADMIN_SECRET,
            "AURORA_RESTORE_DB_SSL": "verify",
            "AURORA_RESTORE_DB_CA": str(database.server.ca_file),
            "AURORA_RESTORE_SQL_DIR": str(tmp_path),
        }
        for name, value in support.lambda_environment(world).items():
            monkeypatch.setenv(name, value)
        yield {"world": world, "environment": environment, "sql_dir": tmp_path}


def run_drill(drill_world: dict[str, Any], checks: str, op: str) -> dict[str, Any]:
    (drill_world["sql_dir"] / "drill_checks.sql").write_text(checks)
    machine = drill_support.deploy_drill(
        drill_world["world"],
        drill=drill_support.drill_settings(checks_sql="drill_checks.sql"),
        environment=drill_world["environment"],
    )
    return support.run(machine, op, drill_support.drill_request(), timeout=60)


def summary_of(op: str) -> dict[str, Any]:
    items = sorted(support.audit_items(op), key=lambda i: i["timestamp"])
    return next(i["details"] for i in items if i["step"] == "drill")


def test_a_false_check_fails_the_drill_which_is_still_cleaned_up(
    drill_world: dict[str, Any],
) -> None:
    before = drill_support.target_fingerprint()
    op = "drill-false-check"
    execution = run_drill(drill_world, GOOD_CHECKS + FALSE_CHECK, op)

    assert execution["status"] == "FAILED" and execution["error"] == "VerificationFailed"
    cause = json.loads(execution["cause"])
    assert (
        "1 of 3 drill check(s) failed: at least a million orders: returned false"
        in (cause["errorMessage"])
    )
    assert "customers restored" not in cause["errorMessage"]  # only the failing one is named
    assert support.cluster_ids() == {support.TARGET}  # the drill cluster is gone
    assert drill_support.target_fingerprint() == before
    items = support.audit_items(op)
    final = next(i for i in items if i["step"] == "pipeline")
    assert (
        final["status"] == "FAILED" and "at least a million orders" in final["details"]["message"]
    )
    summary = summary_of(op)
    assert summary["status"] == "FAILED" and summary["cleanup"]["done"] is True
    assert "at least a million orders" in summary["failure"]["message"]
    (sent,) = support.notifications(drill_world["world"].topic_arn)
    assert "DRILL FAILED" in sent["subject"] and "at least a million orders" in sent["message"]


def test_a_drill_whose_checks_hold_succeeds_with_their_results(
    drill_world: dict[str, Any],
) -> None:
    before = drill_support.target_fingerprint()
    op = "drill-checks-hold"
    execution = run_drill(drill_world, GOOD_CHECKS, op)

    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    summary = summary_of(op)
    assert summary["verification"] == {
        "tables_checked": 2,
        "tables_ok": 2,
        "checks": 2,
        "checks_ok": 2,
    }
    assert summary["rto_seconds"] > 0 and summary["cleanup"]["done"] is True
    verify = next(i for i in support.audit_items(op) if i["step"] == "verify")
    assert verify["status"] == "SUCCEEDED" and verify["details"]["tls"] == "verify"
    assert support.cluster_ids() == {support.TARGET}
    assert naming.drill_cluster_id(support.TARGET, op) not in support.cluster_ids()
    assert drill_support.target_fingerprint() == before
