"""The commands, one module per group; `aurora_restore_cli.cli` registers them on the root group."""
