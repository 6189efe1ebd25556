"""aurora-restore: provision and run an Aurora PostgreSQL refresh pipeline."""

__version__ = "0.1.0"
