"""The ARNs of an env's resources, as the IAM documents name them.
"""

from __future__ import annotations

from ...bundled import deployed_functions, handler_lib, handler_steps, recovery_functions
from ...config.settings import Settings
from ...contract.naming import Names


class Arns:
    """ARNs of this env's resources (RDS ids lower-case, as RDS reports them)."""

    def __init__(self, settings: Settings, names: Names) -> None:
        self.s = settings
        self.n = names
        self.p = names.partition
        self.region = names.region
        self.account = names.account_id
        self.target = settings.target.cluster_id.lower()

    def rds(self, resource: str, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{self.p}:rds:{region or self.region}:{account or self.account}:{resource}"

    def clusters(self) -> list[str]:
        t = self.target
        return [
            self.rds(f"cluster:{t}"),
            self.rds(f"cluster:{t}-stg-*"),
            self.rds(f"cluster:{t}-old-*"),
        ]

    def drill_clusters(self) -> list[str]:
        """Restore drills' temporary clusters (handlers/lib/naming.drill_cluster_id)."""
        return [self.rds(f"cluster:{self.target}-drill-*")]

    def instances(self) -> list[str]:
        return [self.rds(f"db:{self.target}-*")]

    def copies(self) -> list[str]:
        return [self.rds(f"cluster-snapshot:{self.target}-src-*")]

    def final_snapshots(self) -> list[str]:
        return [self.rds(f"cluster-snapshot:{self.target}-final-*")]

    def subnet_group(self) -> str:
        return self.rds(f"subgrp:{self.s.target.subnet_group.lower()}")

    def parameter_group(self) -> str | None:
        group = self.s.target.parameter_group
        return self.rds(f"cluster-pg:{group.lower()}") if group else None

    def family(self) -> str:
        """The parameter group family of the configured version: `aurora-postgresql15`,
        `aurora-mysql8.0` (handlers/lib/engine_versions.py reads the version)."""
        target = self.s.target
        return str(handler_lib("engine_versions").family(target.engine, target.engine_version))

    def cluster_parameter_group(self) -> str:
        """The configured cluster parameter group, else RDS's default for the major version
        (`default.aurora-postgresql15`, `default.aurora-mysql8.0`: the restore is authorised
        against it too)."""
        return self.parameter_group() or self.rds(f"cluster-pg:default.{self.family()}")

    def instance_parameter_group(self) -> str:
        """RDS's default DB parameter group: the instances are created without one."""
        return self.rds(f"pg:default.{self.family()}")

    def option_group(self) -> str:
        """RDS's default option group (`default:aurora-mysql-8-0`; nothing is set in it)."""
        target = self.s.target
        name = handler_lib("engine_versions").option_group(target.engine, target.engine_version)
        return self.rds(f"og:{name}")

    def restores_in_place(self) -> bool:
        """Source snapshots in this region and account may be restored without a copy."""
        src = self.s.source
        return (src.region, src.account_id) == (self.region, self.account)

    def source_cluster(self) -> str:
        """The production cluster itself: what a clone or a point-in-time restore reads
        (RestoreDBClusterToPointInTime is authorised against it and the cluster it makes)."""
        src = self.s.source
        return self.rds(f"cluster:{src.cluster_id.lower()}", src.region, src.account_id)

    def restores_from_source(self) -> bool:
        """The config allows a clone or a point-in-time restore of the source cluster."""
        return bool(set(self.s.restore_paths) & {"clone", "point_in_time"})

    def restores_snapshots(self) -> bool:
        """The config allows the snapshot path (find, copy, restore a source snapshot)."""
        return "snapshot" in self.s.restore_paths

    def source_snapshots(self) -> str:
        src = self.s.source
        name = f"rds:{src.cluster_id.lower()}-*" if src.snapshot_type == "automated" else "*"
        return self.rds(f"cluster-snapshot:{name}", src.region, src.account_id)

    def secrets(self) -> list[str]:
        """Every secret of the env (the Lambda role reads and writes them)."""
        return [*self.readable_secrets(), self.n.secret_arn_pattern(self.n.masking_secret)]

    def readable_secrets(self) -> list[str]:
        """The secrets people may read: not the masking key (with it, a masked value could be
        matched against guesses of the original)."""
        return [
            self.n.secret_arn_pattern(self.n.master_secret),
            self.n.secret_arn_pattern(self.n.app_secret),
            self.n.secret_arn_pattern(self.n.drill_secret),
        ]

    def functions(self) -> list[str]:
        return [self.n.function_arn(step) for step in handler_steps()]

    def recovery_function(self) -> str:
        return self.n.function_arn(recovery_functions()[0])

    def function_log_groups(self) -> list[str]:
        return [
            f"arn:{self.p}:logs:{self.region}:{self.account}:log-group:"
            f"{self.n.function_log_group(step)}:*"
            for step in deployed_functions()
        ]

    def run_log_groups(self) -> list[str]:
        """Every log group a run writes to (functions, state machines), as FilterLogEvents is
        authorised: `log-group:<name>` without the `:*` of the log-stream actions."""
        names = [self.n.function_log_group(step) for step in deployed_functions()]
        names += [self.n.state_machine_log_group, self.n.drill_state_machine_log_group]
        return [f"arn:{self.p}:logs:{self.region}:{self.account}:log-group:{name}" for name in names]

    def executions(self) -> str:
        return (
            f"arn:{self.p}:states:{self.region}:{self.account}:execution:{self.n.state_machine}:*"
        )

    def drill_executions(self) -> str:
        return (
            f"arn:{self.p}:states:{self.region}:{self.account}:execution:"
            f"{self.n.drill_state_machine}:*"
        )

    def recovery_executions(self) -> str:
        """Automatic recovery's executions (named after the operation they recover)."""
        return (
            f"arn:{self.p}:states:{self.region}:{self.account}:execution:"
            f"{self.n.recovery_state_machine}:*"
        )

    def ec2(self, resource: str) -> str:
        return f"arn:{self.p}:ec2:{self.region}:{self.account}:{resource}"
