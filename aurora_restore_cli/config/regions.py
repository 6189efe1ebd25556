"""AWS regions as botocore's own partition data knows them (read offline from its package data,
without importing botocore: config validation stays fast and makes no call)."""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def known_regions() -> dict[str, str]:
    """Region name → partition id (`us-east-1` → `aws`), e.g. 34 regions in `aws`."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:
        return {}
    data = Path(spec.origin).parent / "data"
    regions: dict[str, str] = {}
    partitions_file = data / "partitions.json"  # botocore ≥ 1.31; endpoints.json before
    if partitions_file.is_file():
        for partition in json.loads(partitions_file.read_text())["partitions"]:
            for name in partition.get("regions", {}):
                regions[name] = partition["id"]
    else:
        for partition in json.loads((data / "endpoints.json").read_text())["partitions"]:
            for name in partition.get("regions", {}):
                regions[name] = partition["partition"]
    return {name: part for name, part in regions.items() if not name.endswith("-global")}


def region_problem(name: str) -> str | None:
    """None for a region botocore knows; else what to tell the user (with the closest names)."""
    regions = known_regions()
    if not regions or name in regions:
        return None  # without botocore's data (not installed) the shape check must do
    close = difflib.get_close_matches(name, list(regions), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close[:-1])} or {close[-1]}?" if len(close) > 1 else (
        f"; did you mean {close[0]}?" if close else ""
    )
    return f"{name!r} is not an AWS region (not in botocore's partition data){hint}"


def partition(name: str) -> str | None:
    return known_regions().get(name)
