"""bench/pipeline_timeline.py runs the real definition on a simulated clock and reports figures
that add up. Its timings are not asserted (they are the bench's output, not behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "pipeline_timeline.py"
SMALL = [
    "--json",
    "--runs",
    "2",
    "--copy-min",
    "3",
    "--restore-min",
    "4",
    "--instance-min",
    "2",
    "--password-min",
    "0.5",
    "--rename-min",
    "1",
    "--delete-min",
    "1.5",
    "--sql-min",
    "0.2",
]
PER_STRATEGY = {
    "status",
    "runs",
    "total_s",
    "aws_s",
    "overhead_s",
    "overhead_pct",
    "downtime_s",
    "downtime_max_s",
    "downtime_over_renames_max_s",
    "renames_s",
    "waited_s",
    "transitions",
    "history_events",
    "lambda_invocations",
    "lambda_cold_starts",
    "lambda_gb_s",
    "cost_usd",
    "cost_breakdown_usd",
    "loops",
    "each_run",
    "wall_s",
}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), *SMALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def test_one_document_with_both_strategies(report: dict[str, Any]) -> None:
    assert set(report) == {"machine", "parameters", "prices_usd", "targets", "strategies"}
    assert set(report["strategies"]) == {"swap", "replace"}
    for figures in report["strategies"].values():
        assert set(figures) >= PER_STRATEGY
        assert figures["status"] == "SUCCEEDED" and figures["runs"] == 2
        assert len(figures["each_run"]) == 2
    assert report["parameters"]["durations_s"]["copy"] == 180


def test_figures_add_up(report: dict[str, Any]) -> None:
    prices = report["prices_usd"]
    arch = report["parameters"]["lambda_model"]["architecture"]
    for figures in report["strategies"].values():
        assert figures["total_s"] == pytest.approx(  # each figure is rounded to 0.1 s alone
            figures["aws_s"] + figures["overhead_s"], abs=0.15
        )
        assert figures["overhead_pct"] == pytest.approx(
            100 * figures["overhead_s"] / figures["aws_s"], abs=0.01
        )
        assert 0 < figures["aws_s"] < figures["total_s"]
        assert figures["waited_s"] <= figures["total_s"]
        costs = figures["cost_breakdown_usd"]
        assert costs["transitions_usd"] == pytest.approx(
            figures["transitions"] * prices["stepfunctions_standard_per_transition"], rel=1e-3
        )
        assert costs["lambda_requests_usd"] == pytest.approx(
            figures["lambda_invocations"] * prices["lambda_per_request"], rel=1e-3
        )
        assert costs["lambda_duration_usd"] == pytest.approx(
            figures["lambda_gb_s"] * prices[f"lambda_per_gb_second_{arch}"], rel=1e-2
        )
        assert figures["cost_usd"] == pytest.approx(sum(costs.values()), abs=2e-6)
        # Every Lambda Task is a state; a state is entered before its events follow.
        assert figures["lambda_invocations"] < figures["transitions"] < figures["history_events"]
        assert figures["lambda_cold_starts"] <= figures["lambda_invocations"]
        assert figures["downtime_max_s"] >= figures["downtime_s"] > 0


def test_downtime_is_measured_against_the_right_operations(report: dict[str, Any]) -> None:
    swap, replace = report["strategies"]["swap"], report["strategies"]["replace"]
    rename = report["parameters"]["durations_s"]["rename"]
    # Swap: two renames (±10% each), and the target is down at least while both run.
    assert swap["renames_s"] == pytest.approx(2 * rename, rel=0.1)
    assert swap["downtime_s"] >= swap["renames_s"]
    assert swap["downtime_over_renames_max_s"] >= 0
    for run in swap["each_run"]:
        assert run["downtime_s"] - run["renames_s"] <= swap["downtime_over_renames_max_s"] + 0.1
    assert [loop["what"] for loop in swap["loops"]] == [
        "copy",
        "restore",
        "instances",
        "password",
        "swap-out",
        "swap-in",
        "delete",  # the old cluster: instances first, then the cluster (AWS's rule)
    ]
    # Replace: no rename; the target is gone from its deletion until the new one serves.
    assert replace["renames_s"] == 0
    durations = report["parameters"]["durations_s"]
    floor = 0.9 * (durations["delete"] + durations["restore"] + durations["instance"])
    assert replace["downtime_s"] >= floor
    assert [loop["what"] for loop in replace["loops"]] == [
        "copy",
        "delete",
        "restore",
        "instances",
        "password",
    ]
    for figures in (swap, replace):
        assert all(loop["checks"] >= 1 and loop["lag_s"] >= 0 for loop in figures["loops"])
