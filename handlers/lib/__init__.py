"""Shared library of the pipeline handlers (audit, notify, guards, AWS clients, db)."""
