"""Fault kind ``database-pause``: the managed PostgreSQL server and all its backends are frozen
with SIGSTOP and continued with SIGCONT at heal. Connections are accepted by the kernel and then
hang, like a database stuck on a full disk or a long GC-like stall: clients see timeouts, and
every write in flight is indeterminate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.faults.base import FaultConfigError, FaultContext, FaultKind

__all__ = ["KIND", "DatabasePause"]


class DatabasePause:
    """``start`` sends SIGSTOP to the postmaster and its backends; ``stop`` sends SIGCONT."""

    def __init__(self, context: FaultContext) -> None:
        self._context = context
        self._paused = False
        self.name = "database-pause"
        self.description = (
            "PostgreSQL frozen (SIGSTOP to the postmaster and every backend) until heal (SIGCONT)"
        )

    def start(self) -> None:
        database = self._context.component("database")
        self._paused = True  # before acting: a half-done pause must still be healed
        database.pause()

    def stop(self) -> None:
        if self._paused:
            self._context.component("database").resume()
            self._paused = False


def build(context: FaultContext, params: Mapping[str, Any]) -> DatabasePause:
    if params:
        raise FaultConfigError(sorted(params)[0], "unknown parameter (database-pause takes none)")
    return DatabasePause(context)


KIND = FaultKind(
    name="database-pause",
    summary="freeze the managed PostgreSQL server (SIGSTOP) until heal (SIGCONT); no params",
    params={},
    build=build,
)
