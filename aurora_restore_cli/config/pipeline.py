"""The `lambda:` and `pipeline:` sections: the functions' runtime and the wait loops.
"""

from __future__ import annotations

from .fields import LOG_RETENTION_DAYS, SG_ID, SUBNET_ID, SUPPORTED_RUNTIMES, UNSUPPORTED_RUNTIMES
from .reader import Section, string_item
from .settings import WAIT_LOOP_DEFAULTS, LambdaSettings, Pipeline, Vpc, WaitLoop


def read_lambda(s: Section) -> LambdaSettings:
    with s.reading():
        runtime = s.raw("runtime", "python3.12")
        if runtime not in SUPPORTED_RUNTIMES:
            why = UNSUPPORTED_RUNTIMES.get(str(runtime))
            hint = f" ({why})" if why else ""
            raise s.error(
                "runtime", f"expected one of {', '.join(SUPPORTED_RUNTIMES)}, got {runtime!r}{hint}"
            )
        vpc = s.optional_section("vpc")
        vpc_settings = None
        if vpc is not None:
            with vpc.reading():
                vpc_settings = Vpc(
                    subnet_ids=vpc.items(
                        "subnet_ids",
                        string_item(s.file, SUBNET_ID, "a subnet id (subnet-…)"),
                        min_items=1,
                    ),
                    security_group_ids=vpc.items(
                        "security_group_ids",
                        string_item(s.file, SG_ID, "a security group id (sg-…)"),
                        min_items=1,
                    ),
                )
        retention = s.raw("log_retention_days", 30)
        if retention not in LOG_RETENTION_DAYS:
            raise s.error(
                "log_retention_days",
                f"expected one of CloudWatch's values (1, 3, 5, 7, 14, 30, 60, 90, …, 3653), got {retention!r}",
            )
        return LambdaSettings(
            runtime=runtime,
            architecture=s.string("architecture", "arm64", choices=("arm64", "x86_64")),
            memory_mb=s.integer("memory_mb", 128, 10240, 256),
            timeout_seconds=s.integer("timeout_seconds", 1, 900, 300),
            log_retention_days=retention,
            vpc=vpc_settings,
        )

REMOVED_PIPELINE_KEYS = ("poll_interval_seconds", "max_poll_attempts")

def read_pipeline(s: Section) -> Pipeline:
    for key in REMOVED_PIPELINE_KEYS:
        if s.has(key):
            raise s.error(
                key,
                "replaced by per-loop settings: pipeline.waits.<loop>.first_seconds, "
                "poll_seconds and max_seconds (see config/dev.yaml)",
            )
    with s.reading():
        timeout = s.integer("timeout_seconds", 300, 31_536_000, 86400)
        growth = s.integer("poll_growth_percent", 0, 50, 2)
        waits = s.optional_section("waits")
        loops = dict(WAIT_LOOP_DEFAULTS)
        if waits is not None:
            with waits.reading():
                for key, default in WAIT_LOOP_DEFAULTS.items():
                    loop = waits.optional_section(key)
                    if loop is not None:
                        loops[key] = _wait_loop(loop, default, timeout)
        return Pipeline(timeout_seconds=timeout, poll_growth_percent=growth, waits=loops)

def _wait_loop(s: Section, default: WaitLoop, timeout: int) -> WaitLoop:
    with s.reading():
        first = s.integer("first_seconds", 0, 86400, default.first_seconds)
        poll = s.integer("poll_seconds", 1, 3600, default.poll_seconds)
        longest = s.integer("max_seconds", 1, 31_536_000, default.max_seconds)
        if longest < first:
            raise s.error("max_seconds", f"is shorter than first_seconds ({first})")
        if longest > timeout:
            raise s.error(
                "max_seconds",
                f"is longer than the whole execution (pipeline.timeout_seconds {timeout})",
            )
        return WaitLoop(first_seconds=first, poll_seconds=poll, max_seconds=longest)
