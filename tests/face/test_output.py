"""The output layer: ids and names are never cut or wrapped (terminal or pipe); setup's long
list is grouped by step on a terminal and complete with -v, when piped and in JSON."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from aurora_restore_cli.face.output import Output, executions_table
from aurora_restore_cli.resources.base.changes import Action, Change

LONG_ID = "staging-eu-20261128-070102-abcdef"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def output(terminal: bool, width: int = 80, verbose: int = 0, mode: str = "text") -> tuple[
        Output, io.StringIO]:
    out = Output(mode, verbose)
    buffer = io.StringIO()
    out.out = Console(file=buffer, force_terminal=terminal, width=width, highlight=False,
                      soft_wrap=True, color_system=None)
    return out, buffer


def executions(count: int = 3) -> list[dict[str, object]]:
    return [{"operation_id": f"{LONG_ID[:-1]}{i}", "status": "SUCCEEDED",
             "started": "2026-11-28T07:01:02+00:00", "duration_seconds": 912.0,
             "snapshot": "rds:prod-orders-cluster-2026-11-28-03-05"} for i in range(count)]


@pytest.mark.parametrize("width", [200, 80, 50])
def test_ids_stay_whole_on_a_terminal_of_any_width(width: int) -> None:
    out, buffer = output(terminal=True, width=width)
    out.rows(executions_table("Executions — staging-eu", executions()))
    text = ANSI.sub("", buffer.getvalue())
    for row in executions():
        assert str(row["operation_id"]) in text
    if width >= 200:
        assert "rds:prod-orders-cluster-2026-11-28-03-05" in text and "hidden" not in text
    else:
        assert "hidden to fit" in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_piped_rows_are_one_plain_line_each() -> None:
    out, buffer = output(terminal=False, width=40)
    out.rows(executions_table("Executions — staging-eu", executions()))
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "Executions — staging-eu"
    assert lines[1].split() == ["operation", "status", "started", "duration", "snapshot"]
    for line, row in zip(lines[2:], executions(), strict=True):
        assert line.split() == [row["operation_id"], "SUCCEEDED", "2026-11-28T07:01:02+00:00",
                                "912s", "rds:prod-orders-cluster-2026-11-28-03-05"]


def changes() -> list[Change]:
    made = [Change("lambdas", "Lambda function", f"aurora-restore-step-{i}-staging-eu",
                   Action.CREATED, arn=f"arn:aws:lambda:eu-west-1:1:function:step-{i}")
            for i in range(20)]
    made.append(Change("table", "DynamoDB table", "aurora-restore-audit-staging-eu",
                       Action.FOREIGN, "exists without our tags"))
    made.append(Change("topic", "SNS topic", "aurora-restore-notifications-staging-eu",
                       Action.UNCHANGED))
    return made


def test_setup_on_a_terminal_is_grouped_by_step_with_counts() -> None:
    out, buffer = output(terminal=True, width=100)
    out.changes("Setup — staging-eu", changes(), {})
    text = buffer.getvalue()
    assert re.search(r"lambdas\s+│\s+20\s+│\s+20 created", text)
    assert re.search(r"table\s+│\s+1\s+│\s+1 foreign", text)
    assert "aurora-restore-step-7-staging-eu" not in text  # grouped …
    assert "aurora-restore-audit-staging-eu" in text  # … but what needs attention is listed
    assert "20 created, 1 foreign, 1 unchanged (every resource: -v)" in text


@pytest.mark.parametrize(("terminal", "verbose"), [(True, 1), (False, 0)])
def test_setup_lists_every_resource_with_v_and_when_piped(terminal: bool, verbose: int) -> None:
    out, buffer = output(terminal=terminal, width=60, verbose=verbose)
    out.changes("Setup — staging-eu", changes(), {})
    text = ANSI.sub("", buffer.getvalue())
    for change in changes():
        assert change.name in text
    if verbose:  # -v adds the ARNs
        assert "arn:aws:lambda:eu-west-1:1:function:step-7" in text


def test_setup_in_json_lists_every_resource(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output("json", defer=True)
    out.changes("Setup", changes(), {"command": "setup"})
    assert capsys.readouterr().out == ""  # deferred: a later failure joins the same document
    out.fail("1 resource(s) not managed by aurora-restore", 1)
    document = json.loads(capsys.readouterr().out)
    assert len(document["changes"]) == len(changes())
    assert document["exit_code"] == 1 and document["command"] == "setup"


def test_values_show_old_and_new_and_a_secret_stays_masked() -> None:
    from aurora_restore_cli.face.output import value_lines
    from aurora_restore_cli.resources.base.changes import (
        MASK,
        Action,
        Change,
        Difference,
        document_diff,
        scalar,
    )

    secret = Difference("password", "hunter2", "correct horse", secret=True)
    change = Change("lambdas", "Lambda function", "f", Action.WOULD_UPDATE, "memory", None, (
        scalar("memory", 256, 512), document_diff("tags", {"a": "1"}, {"a": "2"}), secret))
    text = [line.plain for line in value_lines([change])]
    assert text[:3] == ["What differs (current → config):", "~ Lambda function f",
                        "    memory: 256 → 512"]
    assert '      -  "a": "1"' in text and '      +  "a": "2"' in text
    assert f"    password: {MASK} → {MASK}" in text
    assert "hunter2" not in str(change.to_json()) and "hunter2" not in "".join(text)
    assert value_lines([Change("s", "k", "n", Action.UNCHANGED)]) == []


def test_a_waiting_step_says_when_it_checks_next_and_how_long_it_may_still_wait() -> None:
    from datetime import datetime, timedelta, timezone

    from aurora_restore_cli.face.output import duration, step_status
    from aurora_restore_cli.operations.runs import StepView, Wait

    entered = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = StepView("CopySnapshot", status="waiting", polls=3, label="copy-snapshot",
                    wait=Wait(next_seconds=60, waited_seconds=1200, max_seconds=36000,
                              entered=entered))
    now = entered + timedelta(seconds=20)
    assert step_status(step, now) == "waiting (poll 3): next check in 40s, at most 9h39m more"
    step.status = "done"
    assert step_status(step, now) == "done (poll 3)"
    assert [duration(s) for s in (5, 65, 3600 * 2 + 61)] == ["5s", "1m05s", "2h01m"]
