"""Lambda handlers of the aurora-restore pipeline: one module per step, `handler(event, context)`.

`STEPS` lists every step module in pipeline order (each one is a Task of the state machine).
The replace strategy runs `delete_old_cluster` and `check_delete` before `restore_cluster`;
`undo_changes`, `record_failure`, `release_lock` and `notify_failure` form the failure path.
`FUNCTIONS` adds the functions the state machine does not run: `recover_execution`, started by
an EventBridge rule on timed-out/aborted/failed executions and by `aurora-restore recover`.
The CLI deploys one function per `FUNCTIONS` entry, named
`aurora-restore-<module with _ → ->-<env>`. `DATABASE_STEPS` connect to the database (their zips carry the driver and the CA bundle);
`RETIRED_FUNCTIONS` were deployed by earlier versions. `DRILL_STEPS` are used only by the restore drill's
state machine (definitions/drill.asl.json), which reuses most of the others. This package never
imports `aurora_restore_cli`.
"""

STEPS: tuple[str, ...] = (
    "acquire_lock",
    "check_target",
    "choose_source",
    "find_snapshot",
    "copy_snapshot",
    "check_copy",
    "restore_cluster",
    "check_restore",
    "create_instances",
    "reset_master_password",
    "reset_app_users",
    "mask_data",
    "scan_pii",
    "quarantine",
    "match_settings",
    "check_settings",
    "verify",
    "swap_out_target",
    "check_rename",
    "swap_in_staging",
    "delete_old_cluster",
    "check_delete",
    "finalize",
    "release_lock",
    "notify_success",
    "undo_changes",
    "record_failure",
    "notify_failure",
    "drill_prepare",
    "drill_cleanup",
    "drill_report",
)

DRILL_STEPS: tuple[str, ...] = ("drill_prepare", "drill_cleanup", "drill_report")

RECOVERY_FUNCTIONS: tuple[str, ...] = ("recover_execution",)
FUNCTIONS: tuple[str, ...] = STEPS + RECOVERY_FUNCTIONS

DATABASE_STEPS: tuple[str, ...] = (
    "reset_app_users", "mask_data", "scan_pii", "quarantine", "verify"
)

# Functions an earlier version deployed and this one does not: `setup lambdas` deletes them
# (when they carry our tags). `run_sql` became `mask_data` (SQL files and declared rules).
RETIRED_FUNCTIONS: tuple[str, ...] = ("run_sql",)
