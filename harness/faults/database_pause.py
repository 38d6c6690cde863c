"""Fault kind ``database-pause``: the managed database server (PostgreSQL's postmaster and all
its backends, or ``mariadbd``) is frozen with SIGSTOP and continued with SIGCONT at heal.
Connections are accepted by the kernel and then hang, like a database stuck on a full disk or a
long GC-like stall: clients see timeouts, and every write in flight is indeterminate."""

from __future__ import annotations

from ackguard.harness.faults.pause import pause_kind

__all__ = ["KIND"]

KIND = pause_kind(
    component="database",
    name="database-pause",
    summary="freeze the managed database server (SIGSTOP) until heal (SIGCONT); no params",
    description="database frozen (SIGSTOP, every server process) until heal (SIGCONT)",
)
