"""Aurora MySQL on the sandbox, end to end, as a user types it: `init --engine aurora-mysql`,
`sandbox seed` (the sandbox starts its MariaDB with the first aurora-mysql cluster), `setup`,
`test-functions`, `run --wait` with every database step for real (users reset, masking rules
and SQL applied, PII gate passed, verified; none skipped), the rows before and after, `drill
--wait`, and `demo --engine aurora-mysql`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from aurora_restore_cli.sandbox import control as sandbox
from aurora_restore_cli.sandbox.databases import for_engine

from .test_runs import cli_run

DATABASE_STEPS = ("reset-app-users", "mask-data", "scan-pii", "quarantine", "verify")


def test_init_seed_setup_run_and_drill_on_mysql(tmp_path: Path) -> None:
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path / "box"),
           "AURORA_RESTORE_SANDBOX_POSTGRES": "off"}  # this env needs none: MySQL only
    config = tmp_path / "cfg"
    done = cli_run("init", "--env", "qa", "--engine", "aurora-mysql", "--dir", str(config),
                   env=env)
    assert done.returncode == 0, done.stderr
    base = ["--local", "--env", "qa", "--config-dir", str(config)]
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    try:
        done = cli_run(*base, "sandbox", "seed", env=env)
        assert done.returncode == 0, done.stderr
        assert "MySQL database" in done.stdout and "fake personal data: customers 24" in done.stdout
        assert "aurora-mysql ones on a private MariaDB" in done.stderr
        done = cli_run(*base, "setup", env=env)
        assert done.returncode == 0, done.stderr

        health = cli_run(*base, "test-functions", "-o", "json", env=env)
        assert health.returncode == 0, health.stdout + health.stderr
        rows = {r["step"]: r for r in json.loads(health.stdout)["functions"]}
        for step in ("reset_app_users", "mask_data", "scan_pii", "verify"):
            assert rows[step]["database"] == "pass", rows[step]
            assert rows[step]["report"]["database"]["tls"] == "verify"

        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        box = sandbox.find()
        assert box is not None and box.mysql is not None and box.postgres is None
        database = for_engine(box, "aurora-mysql")
        assert database is not None
        before = database.sample("prod-mysql-orders", 24)

        done = cli_run(*base, "run", "--wait", "-o", "json", env=env)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "SUCCEEDED" and result["skipped_steps"] == []

        trail = cli_run(*base, "history", result["operation_id"], "-o", "json", env=env)
        events = {e["step"]: e for e in json.loads(trail.stdout)["events"]}
        for step in DATABASE_STEPS:
            assert events[step]["status"] == "SUCCEEDED", events[step]
            assert events[step]["details"]["tls"] == "verify"
        assert {(u["name"], u["action"]) for u in events["reset-app-users"]["details"]["users"]} \
            == {("orders_app", "created"), ("orders_readonly", "created")}
        masked = events["mask-data"]["details"]
        assert masked["files"] == ["after: 01_scrub_notes.sql"]
        assert masked["tables"] == {"table orders.customers": {"rows": 24, "done": True},
                                    "table orders.orders": {"rows": 60, "done": True},
                                    "table orders.outbound_email": {"rows": 12, "done": True}}
        assert events["scan-pii"]["details"]["uncovered"] == 0
        assert events["verify"]["details"]["tables_checked"] == 2

        # the rows before and after: every ruled column masked, the source untouched
        after = database.sample("qa-orders", 24)
        assert [r[0] for r in after] == [r[0] for r in before]
        for old, new in zip(before, after, strict=True):
            assert re.fullmatch(r"u[0-9a-f]{24}@example\.invalid", new[2]) and old[2] != new[2]
            assert new[1] != old[1] and new[3].startswith("+1-202-555-01")
            assert new[5] == old[5] == "-" or new[5] != old[5]  # shipping address (if any)
        assert database.sample("prod-mysql-orders", 24) == before
        assert "@" not in " ".join(r[6] for r in after)  # the SQL file scrubbed the notes
        # the quarantine: production's queue emptied and its scheduled event disabled, in the
        # refreshed target only
        quarantined = events["quarantine"]["details"]
        assert "builtin events" in quarantined["checks_passed"]
        assert database.side_effects("qa-orders") == {
            "outbound_email": 0, "event": {"name": "send_outbound_email", "enabled": False}}
        assert database.side_effects("prod-mysql-orders") == {
            "outbound_email": 12, "event": {"name": "send_outbound_email", "enabled": True}}

        # the staging database became the target's; grants moved with it (RDS keeps the name)
        admin = box.mysql.connect()
        try:
            with admin.cursor() as cursor:
                cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
                databases = {str(r[0]) for r in cursor.fetchall()}
                cursor.execute("SELECT User, Select_priv, Insert_priv FROM mysql.db "
                               "WHERE Db = 'qa-orders'")
                grants = {str(u): (str(s), str(i)) for u, s, i in cursor.fetchall()}
        finally:
            admin.close()
        assert {"prod-mysql-orders", "qa-orders"} <= databases
        assert not any("-stg-" in d or "-old-" in d for d in databases)
        assert grants == {"orders_app": ("Y", "Y"), "orders_readonly": ("Y", "N")}

        scanned = cli_run(*base, "masking", "scan", "-o", "json", env=env)
        assert scanned.returncode == 0, scanned.stderr
        report = json.loads(scanned.stdout)
        assert report["uncovered"] == 0 and report["tables"] == 4
        assert report["database"] == "qa-orders"

        drill = cli_run(*base, "drill", "--wait", "-o", "json", env=env)
        assert drill.returncode == 0, drill.stderr
        drilled = json.loads(drill.stdout)
        assert drilled["status"] == "SUCCEEDED", drilled
        trail = cli_run(*base, "history", drilled["operation_id"], "-o", "json", env=env)
        verify = next(e for e in json.loads(trail.stdout)["events"] if e["step"] == "verify")
        assert verify["status"] == "SUCCEEDED"
        assert verify["details"]["checks_ok"] == 3 and verify["details"]["tables_ok"] == 2
    finally:
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        sandbox.stop()
        if saved is not None:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def test_demo_engine_mysql_shows_a_mysql_refresh(tmp_path: Path) -> None:
    done = cli_run("demo", "--engine", "aurora-mysql", "--postgres", "off", "-o", "json",
                   env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["engine"] == "aurora-mysql" and doc["env"] == "dev-mysql"
    assert doc["run"]["status"] == "SUCCEEDED" and doc["run"]["skipped_steps"] == []
    assert doc["pii_gate"]["status"] == "FAILED" and doc["pii_gate"]["target_untouched"]
    before, after = doc["database"]["before"], doc["database"]["after"]
    assert before[0][2].endswith("@example.com") and after[0][2].endswith("@example.invalid")
    assert doc["drill"]["status"] == "SUCCEEDED"
    assert "aurora-mysql ones on a private MariaDB" in doc["sandbox"]["database"]
