"""Lambda handlers of the aurora-restore pipeline: one module per step, `handler(event, context)`.

`STEPS` lists every step module in pipeline order (each one is a Task of the state machine).
The replace strategy runs `delete_old_cluster` and `check_delete` before `restore_cluster`;
`undo_changes`, `record_failure`, `release_lock` and `notify_failure` form the failure path.
`FUNCTIONS` adds the functions the state machine does not run: `recover_execution`, started by
an EventBridge rule on timed-out/aborted/failed executions and by `aurora-restore recover`.
The CLI deploys one function per `FUNCTIONS` entry, named
`aurora-restore-<module with _ → ->-<env>`. This package never imports `aurora_restore_cli`.
"""

STEPS: tuple[str, ...] = (
    "acquire_lock",
    "check_target",
    "find_snapshot",
    "copy_snapshot",
    "check_copy",
    "restore_cluster",
    "check_restore",
    "create_instances",
    "reset_master_password",
    "reset_app_users",
    "run_sql",
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
)

RECOVERY_FUNCTIONS: tuple[str, ...] = ("recover_execution",)
FUNCTIONS: tuple[str, ...] = STEPS + RECOVERY_FUNCTIONS

DATABASE_STEPS: tuple[str, ...] = ("reset_app_users", "run_sql", "verify")
