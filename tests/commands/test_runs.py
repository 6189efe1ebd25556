"""run / executions / history on the sandbox (a real moto server process executing our
definition), as subprocesses and through CliRunner; the database steps skipped (no PostgreSQL)
and for real (a private PostgreSQL started by the sandbox, as in CI); `demo` end to end."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from aurora_restore_cli.cli import cli
from aurora_restore_cli.sandbox import control as sandbox
from aurora_restore_cli.sandbox.data import side_effects

from ..conftest import ROOT

# The one name of each step the live view shows (the audit trail and the logs use it too).
TASK_STATES = ["acquire-lock", "check-target", "choose-source", "find-snapshot", "copy-snapshot", "check-copy",
               "restore-cluster", "check-restore", "create-instances", "check-restore (instances)",
               "reset-master-password", "reset-app-users", "mask-data", "scan-pii", "quarantine", "match-settings",
               "check-settings", "verify", "swap-out-target",
               "check-rename (swap-out)", "swap-in-staging", "check-rename (swap-in)",
               "delete-old-cluster", "check-delete", "finalize", "release-lock", "notify-success"]


def cli_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aurora_restore_cli", *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A sandbox of this module's own, without PostgreSQL, seeded and set up for env dev."""
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path_factory.mktemp("runs-sandbox")),
           "AURORA_RESTORE_SANDBOX_POSTGRES": "off"}
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    try:
        for args in (["sandbox", "seed"], ["setup"]):
            done = cli_run("--local", "--env", "dev", *args, env=env)
            assert done.returncode == 0, done.stderr
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        yield env
    finally:
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        sandbox.stop()
        if saved is not None:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def test_run_to_success_then_executions_and_history(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "--env", "dev", "run", "--wait", "-o", "json", env=provisioned)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    # auto, and dev's source is in another region: a snapshot, and the run says why
    assert result["restored_from"]["path"] == "snapshot"
    assert "clones only within a region" in result["restored_from"]["reason"]
    assert result["snapshot"] == "prod-orders-sandbox-seed"
    assert result["result"]["endpoint"].startswith("dev-orders.")
    assert set(TASK_STATES) <= set(result["steps"])
    operation = result["operation_id"]

    listed = CliRunner().invoke(cli, ["executions", "--local", "--env", "dev", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["operation_id"]: r for r in json.loads(listed.stdout)["executions"]}
    assert rows[operation]["status"] == "SUCCEEDED"
    assert rows[operation]["snapshot"] == "prod-orders-sandbox-seed"

    trail = CliRunner().invoke(cli, ["history", operation, "--local", "--env", "dev", "-o", "json"])
    assert trail.exit_code == 0, trail.output
    events = json.loads(trail.stdout)["events"]
    steps = [e["step"] for e in events]
    assert steps[0] == "acquire-lock" and steps[-1] == "notify-success"
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    skipped = {e["step"]: e for e in events if e["status"] == "SKIPPED"}
    # no database in the sandbox
    assert set(skipped) == {"reset-app-users", "mask-data", "scan-pii", "quarantine", "verify"}
    assert set(result["skipped_steps"]) == {"reset-app-users", "mask-data", "scan-pii", "quarantine", "verify"}

    text = cli_run("--local", "--env", "dev", "history", operation, env=provisioned)
    assert text.returncode == 0 and "find-snapshot" in text.stdout


def test_run_refuses_to_start_when_preflight_fails(provisioned: dict[str, str]) -> None:
    before = CliRunner().invoke(cli, ["executions", "--local", "--env", "dev", "-o", "json"])
    done = cli_run("--local", "--env", "dev", "run", "--snapshot", "no-such-snapshot", "--wait",
                   "-o", "json", env=provisioned)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "run" and result["ok"] is False
    failed = [c for c in result["checks"] if c["status"] == "fail"]
    assert [(c["area"], c["name"]) for c in failed] == [("snapshot", "source snapshot")]
    assert "no-such-snapshot" in failed[0]["detail"]
    assert "preflight failed: snapshot: source snapshot" in done.stderr
    # the failing row's detail and fix again at the end (a terminal's table may fold them)
    last = done.stderr.strip().splitlines()[-1]
    assert failed[0]["detail"] in last and f"(fix: {failed[0]['fix']})" in last
    after = CliRunner().invoke(cli, ["executions", "--local", "--env", "dev", "-o", "json"])
    assert json.loads(after.stdout)["executions"] == json.loads(before.stdout)["executions"]


def test_run_to_failure_exits_1_with_the_error(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "--env", "dev", "run", "--snapshot", "no-such-snapshot", "--wait",
                   "--skip-preflight", "-o", "json", env=provisioned)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED"
    assert result["failure"]["error"] == "SnapshotNotFound"
    assert result["failure"]["step"] == "find-snapshot"  # as the audit trail names it
    assert "no-such-snapshot" in result["failure"]["message"]
    assert "SnapshotNotFound" in done.stderr
    # the sandbox is seeded: the hint is about the id given, not the seed
    assert "is the snapshot id 'no-such-snapshot' right?" in done.stderr
    assert result["exit_code"] == 1 and "SnapshotNotFound" in result["error"]  # one document

    trail = CliRunner().invoke(cli, ["history", result["operation_id"], "--local", "--env", "dev",
                                     "-o", "json"])
    statuses = [(e["step"], e["status"]) for e in json.loads(trail.stdout)["events"]]
    assert ("find-snapshot", "FAILED") in statuses
    assert statuses[-1][0] == "notify-failure"


def test_live_view_says_skipped_and_listings_keep_ids_whole(
    provisioned: dict[str, str],
) -> None:
    done = cli_run("--local", "--env", "dev", "run", "--wait", env=provisioned)
    assert done.returncode == 0, done.stderr
    # piped: one line per change, with its time; the steps named as the audit trail names them
    # the audit says SKIPPED: so does the view
    for step in ("reset-app-users", "mask-data", "scan-pii", "quarantine", "verify"):
        assert re.search(rf"^\d\d:\d\d:\d\dZ +\d+s  {step} +skipped ", done.stderr, re.M), \
            done.stderr
    assert re.search(r"^\d\d:\d\d:\d\dZ +\d+s  find-snapshot +done ", done.stderr, re.M)
    assert re.search(r"  copy-snapshot +waiting \(poll 1\): next check in \d+s, at most \S+ more",
                     done.stderr)
    assert "AURORA_RESTORE_SANDBOX_POSTGRES=off" in done.stderr  # says why there is no database

    piped = cli_run("--local", "--env", "dev", "executions", env=provisioned)
    assert piped.returncode == 0, piped.stderr
    rows = [line for line in piped.stdout.splitlines() if line.startswith("dev-")]
    assert rows and all(len(line.split()) == 5 for line in rows)  # one line per run, whole ids
    for line in rows:
        assert re.fullmatch(r"dev-\d{8}-\d{6}-[0-9a-f]{6}", line.split()[0]), line

    narrow = cli_run("--local", "--env", "dev", "executions", env={
        **provisioned, "TTY_COMPATIBLE": "1", "COLUMNS": "60", "NO_COLOR": "1"})
    assert narrow.returncode == 0, narrow.stderr
    ids = [line.split()[0] for line in rows]
    for operation in ids:  # on a narrow terminal: columns go, ids stay whole
        assert operation in narrow.stdout
    assert "hidden to fit" in narrow.stdout
    visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", narrow.stdout)  # styles, even with NO_COLOR
    assert max(len(line) for line in visible.splitlines()) <= 60


def test_history_fits_an_80_column_terminal_and_pipes_whole_lines(
    provisioned: dict[str, str],
) -> None:
    done = cli_run("--local", "--env", "dev", "run", "--wait", "-o", "json", env=provisioned)
    operation = json.loads(done.stdout)["operation_id"]
    terminal = cli_run("--local", "--env", "dev", "history", operation, env={
        **provisioned, "TTY_COMPATIBLE": "1", "COLUMNS": "80", "NO_COLOR": "1"})
    assert terminal.returncode == 0, terminal.stderr
    visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.stdout).splitlines()
    assert max(len(line) for line in visible) <= 80
    assert any(re.match(r"│ \d\d:\d\d:\d\d │ check-restore \(instances\) +│ SUCCEEDED", line)
               for line in visible)  # the live view's name for it
    piped = cli_run("--local", "--env", "dev", "history", operation, env=provisioned)
    lines = piped.stdout.splitlines()
    assert lines[1].split() == ["time", "step", "status", "details"]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z  ", line) for line in lines[2:])
    assert all(line == line.rstrip() for line in lines)


def test_run_without_wait_prints_the_operation(provisioned: dict[str, str]) -> None:
    done = cli_run("--local", "--env", "dev", "run", env=provisioned)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("dev-")


def test_history_of_unknown_operation_is_an_error(provisioned: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["history", "nope", "--local", "--env", "dev"])
    assert result.exit_code == 1
    assert "no audit items" in result.stderr


def test_demo_end_to_end(tmp_path: Path) -> None:
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path), "TMPDIR": str(tmp_path)}
    done = cli_run("demo", env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    for state in TASK_STATES:
        assert state in output
    assert "refresh SUCCEEDED" in output
    assert "Audit trail" in output and "notify-success" in output
    assert "SNS" in output and "SUCCEEDED: dev-orders refreshed" in output
    assert "demo finished" in output
    # the database steps ran for real on the sandbox's private PostgreSQL (CI installs it)
    database = re.search(r"database steps run on a private PostgreSQL \S+ on 127\.0\.0\.1:(\d+), "
                         r"TLS verified", output)
    assert database, re.findall(r"^.*PostgreSQL.*$", output, re.M)
    for step in ("reset-app-users", "mask-data", "scan-pii", "quarantine", "verify"):
        assert re.search(rf"^\S+Z  {step} +SUCCEEDED  .*endpoint=127\.0\.0\.1:{database[1]}",
                         output, re.M), step
    # the PII gate first stops a refresh of production's new column, the target untouched
    assert re.search(r"refresh FAILED at scan-pii \(PiiFound\), before the swap: personal data in "
                     r"1 column\(s\) no masking rule covers: public\.customers\.referral_email", output)
    assert "the target dev-orders was not touched: yes" in output
    assert "rule added (public.customers.referral_email: email" in output
    before, after = _table(output, "Production data (prod-orders)"), _table(output, "Refreshed target")
    assert len(before) == len(after) == 3
    for old, new in zip(before, after, strict=True):
        assert old[0] == new[0]  # the same customers …
        assert re.fullmatch(r"\S+@example\.(com|org|net)", old[2])
        # … masked by the declared rules: a keyed hash at a reserved domain, fictional names
        assert re.fullmatch(r"u[0-9a-f]{24}@example\.invalid", new[2]) and new[1] != old[1]
        assert new[3].startswith("+1-202-555-01") and new[5] != old[5]
    # (roles are the sandbox server's, shared by its databases: the gate's run created them)
    assert re.search(r"users reset: orders_app \(read-write, (created|updated)\), "
                     r"orders_readonly \(read-only, (created|updated)\)", output)
    assert ("masked by the declared rules: public.customers (24 rows), public.orders (60 rows), "
            "public.outbound_email (12 rows); hand-written SQL: after: 01_scrub_notes.sql") in output
    assert re.search(r"PII gate passed: 4 tables, \d+ columns, \d+ rows sampled, 0 personal", output)
    assert "verified as orders_app: 2 of 2 expected tables" in output
    # the quarantine: production keeps its queued mail and its foreign server; the refreshed
    # target has neither the mail nor a way (or the credentials) to reach production
    assert re.search(r"^production \(prod-orders\)\s+12\s+→ prod-orders\S+ \(1 user mapping",
                     output, re.M), output
    assert re.search(r"^refreshed target \(dev-orders\)\s+0\s+→ quarantined\.invalid \(0 user "
                     r"mapping", output, re.M), output
    assert re.search(r"quarantined: rule outbound-email; server production "
                     r"\(postgres_fdw\) pointed prod-orders\S+ → quarantined\.invalid; 1 user "
                     r"mapping\(s\) dropped; 5 checks passed", output), output
    # the restore drill: timed by phase, checked on the restored copy, deleted, target untouched
    assert "Drill SUCCEEDED: restore time (RTO) by phase" in output
    assert re.search(r"drill cluster dev-orders-drill-[0-9a-f]{8}: restored, verified \(2 tables, "
                     r"3 SQL checks\), deleted again; the target was not touched", output)
    # the private sandbox is gone: no state file left, no server process, no open port
    for state_file in tmp_path.glob("aurora-restore-demo-*/sandbox.json"):
        pytest.fail(f"sandbox state left behind: {state_file}")
    ports = [int(port) for port in re.findall(r"sandbox on http://127\.0\.0\.1:(\d+)", output)]
    assert ports
    for port in (ports[0], int(database[1])):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0
    left = subprocess.run(["pgrep", "-f", f"sandbox.server {tmp_path}"], capture_output=True)
    assert left.returncode == 1, left.stdout
    # piped: plain lines, no box borders, no padding at the end of a line
    assert not re.search("[│┃━─┏┗┡╇]", output)
    assert all(line == line.rstrip() for line in output.splitlines())
    # nothing left in the temporary directory: not the demo's, not the functions' SQL files
    assert not list(tmp_path.glob("aurora-restore-*")), list(tmp_path.iterdir())


def _table(output: str, title: str) -> list[list[str]]:
    """The rows of a listing printed as plain lines (stdout is a pipe), split on 2+ spaces."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 2:]:  # after the title and the header
        if not re.match(r"^\d+  ", line):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def test_init_then_seed_setup_run_with_the_database_steps_for_real(tmp_path: Path) -> None:
    """A starter config works on the sandbox at once, and (PostgreSQL installed, as in CI)
    the refresh really resets the users, masks the data and verifies it."""
    env = {"AURORA_RESTORE_SANDBOX_DIR": str(tmp_path / "box")}
    config = tmp_path / "cfg"
    done = cli_run("init", "--env", "qa", "--dir", str(config), env=env)
    assert done.returncode == 0, done.stderr
    base = ["--local", "--env", "qa", "--config-dir", str(config)]
    saved = os.environ.get("AURORA_RESTORE_SANDBOX_DIR")
    try:
        for args in (["sandbox", "seed"], ["setup"]):
            done = cli_run(*base, *args, env=env)
            assert done.returncode == 0, done.stderr
        assert "database steps run on a private PostgreSQL" in done.stderr + cli_run(
            *base, "sandbox", "status", env=env).stdout
        # every function healthy; the database steps reach the target over verified TLS
        health = cli_run(*base, "test-functions", "-o", "json", env=env)
        assert health.returncode == 0, health.stdout + health.stderr
        rows = {r["step"]: r for r in json.loads(health.stdout)["functions"]}
        for step in ("reset_app_users", "mask_data", "scan_pii", "quarantine", "verify"):
            assert rows[step]["database"] == "pass"
            assert rows[step]["report"]["database"]["tls"] == "verify"
        kept = _quarantine_check_fails_before_any_rename(base, env, config / "qa.yaml")
        done = cli_run(*base, "run", "--wait", "-o", "json", env=env)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["status"] == "SUCCEEDED" and result["skipped_steps"] == []

        trail = cli_run(*base, "history", result["operation_id"], "-o", "json", env=env)
        events = {e["step"]: e for e in json.loads(trail.stdout)["events"]}
        users = events["reset-app-users"]["details"]["users"]
        # (roles are the sandbox server's: the failed quarantine run created them)
        assert {u["name"] for u in users} == {"orders_app", "orders_readonly"}
        assert {u["action"] for u in users} <= {"created", "updated"}
        assert events["mask-data"]["details"]["files"] == ["after: 01_scrub_notes.sql"]
        assert events["scan-pii"]["details"]["uncovered"] == 0
        assert events["verify"]["details"]["tables_checked"] == 2
        for step in ("reset-app-users", "mask-data", "scan-pii", "quarantine", "verify"):
            assert events[step]["status"] == "SUCCEEDED"
            assert events[step]["details"]["tls"] == "verify"
        # the same scan, read-only, of the live target through the deployed function
        scanned = cli_run(*base, "masking", "scan", "-o", "json", env=env)
        assert scanned.returncode == 0, scanned.stderr
        report = json.loads(scanned.stdout)
        assert report["uncovered"] == 0 and report["tables"] == 4 and report["rows_sampled"] > 0
        assert report["database"] == "qa-orders"  # the target itself, not a staging copy

        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        box = sandbox.find()
        assert box is not None and box.postgres is not None
        admin = box.postgres.connect()
        try:
            databases = {r[0] for r in admin.run("SELECT datname FROM pg_database")}
        finally:
            admin.close()
        # the staging database became the target's; the old target's was dropped with it
        assert {"prod-orders", "qa-orders"} <= databases
        assert not any("-old-" in d for d in databases)
        assert {d for d in databases if "-stg-" in d} == kept  # the failed run's, kept
        target = box.postgres.connect("qa-orders")
        source = box.postgres.connect("prod-orders")
        try:
            masked = target.run("SELECT id, email, first_name FROM public.customers ORDER BY id")
            original = source.run("SELECT id, email FROM public.customers ORDER BY id")
            readonly_can_write = target.run(
                "SELECT has_table_privilege('orders_readonly', 'public.orders', 'UPDATE')")[0][0]
            effects = {"target": side_effects(target), "source": side_effects(source)}
        finally:
            target.close()
            source.close()
        assert len(masked) == len(original) == 24
        assert all(re.fullmatch(r"u[0-9a-f]{24}@example\.invalid", e) for _, e, _ in masked)
        assert not any(email.endswith(".invalid") for _, email in original)  # source untouched
        # no original value is left in a ruled column
        assert not {e for _, e in original} & {e for _, e, _ in masked}
        assert readonly_can_write is False
        # the quarantine: the target's queue is empty and its foreign server refused, while
        # production keeps both
        assert effects["target"] == {"outbound_email": 0, "foreign_server": {
            "host": "quarantined.invalid", "user_mappings": 0}}
        assert effects["source"]["outbound_email"] == 12
        assert effects["source"]["foreign_server"]["host"].startswith("prod-orders.")
        assert effects["source"]["foreign_server"]["user_mappings"] == 1
    finally:
        os.environ["AURORA_RESTORE_SANDBOX_DIR"] = env["AURORA_RESTORE_SANDBOX_DIR"]
        sandbox.stop()
        if saved is not None:
            os.environ["AURORA_RESTORE_SANDBOX_DIR"] = saved


def _quarantine_check_fails_before_any_rename(base: list[str], env: dict[str, str],
                                              config: Path) -> set[str]:
    """A quarantine rule whose check fails (its sql forgets to empty the queue) stops the run
    at the quarantine, before any rename: the target is the same cluster as before. Returns
    the staging cluster the failure kept for inspection."""
    good = config.read_text()
    config.write_text(good.replace("sql: TRUNCATE public.outbound_email",
                                   "sql: SELECT 1  # forgets to empty the queue"))
    try:
        assert cli_run(*base, "setup", "state-machine", "drill", env=env).returncode == 0
        status = json.loads(cli_run(*base, "sandbox", "status", "-o", "json", env=env).stdout)
        rds = boto3.client("rds", region_name="us-east-1", endpoint_url=status["url"])
        before = rds.describe_db_clusters(DBClusterIdentifier="qa-orders")["DBClusters"][0]
        done = cli_run(*base, "run", "--wait", "-o", "json", env=env)
        assert done.returncode == 1, done.stderr
        failure = json.loads(done.stdout).get("failure") or pytest.fail(done.stdout + done.stderr)
        assert (failure["step"], failure["error"]) == ("quarantine", "QuarantineFailed")
        assert ("rule outbound-email: its check returned one row holding a non-boolean value"
                in failure["message"])  # SELECT 1 FROM the queue still finds mail
        after = rds.describe_db_clusters(DBClusterIdentifier="qa-orders")["DBClusters"][0]
        assert after["DbClusterResourceId"] == before["DbClusterResourceId"]
        history = json.loads(cli_run(*base, "history", json.loads(done.stdout)["operation_id"],
                                     "-o", "json", env=env).stdout)["events"]
        assert not any(e["step"] in ("swap-out-target", "swap-in-staging") for e in history)
        return {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
                if "-stg-" in c["DBClusterIdentifier"]}
    finally:
        config.write_text(good)
        assert cli_run(*base, "setup", "state-machine", "drill", env=env).returncode == 0
