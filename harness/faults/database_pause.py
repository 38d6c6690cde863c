"""Fault kind ``database-pause``: the managed PostgreSQL server and all its backends are frozen
with SIGSTOP and continued with SIGCONT at heal. Connections are accepted by the kernel and then
hang, like a database stuck on a full disk or a long GC-like stall: clients see timeouts, and
every write in flight is indeterminate."""

from __future__ import annotations

from harness.faults.pause import pause_kind

__all__ = ["KIND"]

KIND = pause_kind(
    component="database",
    name="database-pause",
    summary="freeze the managed PostgreSQL server (SIGSTOP) until heal (SIGCONT); no params",
    description="PostgreSQL frozen (SIGSTOP, postmaster and backends) until heal (SIGCONT)",
)
