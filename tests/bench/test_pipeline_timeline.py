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
        "settings",  # settings parity's changes to the staging cluster (swap only)
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


@pytest.fixture(scope="module")
def paths_report() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--paths", "--sizes", "100", "5000", "--runs", "1",
         "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def test_the_paths_are_compared_at_every_size(paths_report: dict[str, Any]) -> None:
    """--paths runs the real definition on each path (a snapshot copied from another region, a
    clone and a point-in-time restore of a same-region source) at each size, with the size
    models it states; the figures add up and order as the models say."""
    assert set(paths_report["paths"]) == {"snapshot", "clone", "point_in_time"}
    assert set(paths_report["parameters"]["size_models"]) == {"copy", "restore", "pitr", "clone"}
    for path, by_size in paths_report["paths"].items():
        assert set(by_size) == {"100", "5000"}, path
        for figures in by_size.values():
            assert figures["status"] == "SUCCEEDED"
            assert 0 < figures["refreshed_s"] <= figures["total_s"]
            low, high = figures["refreshed_range_s"]
            assert low <= figures["refreshed_s"] <= high
            assert figures["cost_per_refresh_usd"] == pytest.approx(
                figures["cost_usd"] + sum(figures["data_cost_usd"].values()), abs=2e-4
            )
    snapshot, clone = paths_report["paths"]["snapshot"], paths_report["paths"]["clone"]
    pitr = paths_report["paths"]["point_in_time"]
    for size in ("100", "5000"):
        assert clone[size]["refreshed_s"] < pitr[size]["refreshed_s"]
        assert clone[size]["refreshed_s"] < snapshot[size]["refreshed_s"]
        assert "transfer_usd" in snapshot[size]["data_cost_usd"]  # across regions
        loops = [loop["what"] for loop in clone[size]["loops"]]
        assert loops[0] == "clone" and "copy" not in loops
    # a clone hardly grows with size; a snapshot copy does
    assert clone["5000"]["refreshed_s"] - clone["100"]["refreshed_s"] < 0.2 * (
        snapshot["5000"]["refreshed_s"] - snapshot["100"]["refreshed_s"]
    )
    assert "overhead_pct_max" in paths_report["goals"]
