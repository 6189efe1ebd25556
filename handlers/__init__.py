"""Lambda handlers of the aurora-restore pipeline: one module per step, `handler(event, context)`.

`STEPS` lists every step module in pipeline order (the CLI deploys one function per entry,
named `aurora-restore-<step with _ → ->-<env>`). The replace strategy runs `delete_old_cluster`
and `check_delete` before `restore_cluster`; `record_failure` and `notify_failure` form the
failure path. `DRILL_STEPS` are used only by the restore drill's state machine
(definitions/drill.asl.json), which reuses most of the others. This package never imports
`aurora_restore_cli`.
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
    "record_failure",
    "notify_failure",
    "drill_prepare",
    "drill_cleanup",
    "drill_report",
)

DRILL_STEPS: tuple[str, ...] = ("drill_prepare", "drill_cleanup", "drill_report")

DATABASE_STEPS: tuple[str, ...] = ("reset_app_users", "run_sql", "verify")
