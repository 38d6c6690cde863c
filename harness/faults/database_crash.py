"""Fault kind ``database-crash``: the managed PostgreSQL server dies without a checkpoint and
comes back when the fault heals, replaying its WAL. What was acknowledged with
``synchronous_commit=on`` must survive; with ``off``, the last few hundred milliseconds of
acknowledged commits may not (that is the point of the async-commit scenarios)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.faults.base import FaultContext, FaultKind, FaultParams

__all__ = ["KIND", "DatabaseCrash", "DatabaseCrashParams"]

CrashMode = Literal["immediate", "sigkill"]
_RESTART_TIMEOUT_S = 60.0


class DatabaseCrash:
    """``start`` crashes the server (immediate shutdown or SIGKILL of every server process);
    ``stop`` starts it again and waits until it accepts connections."""

    def __init__(self, context: FaultContext, mode: CrashMode) -> None:
        self._context = context
        self.mode: CrashMode = mode
        self._crashed = False
        self.name = "database-crash"
        how = (
            "an immediate shutdown (SIGQUIT to the postmaster: no checkpoint)"
            if mode == "immediate"
            else "SIGKILL of the postmaster and every backend"
        )
        self.description = (
            f"PostgreSQL crashed by {how}; restarted at heal, crash recovery from the WAL "
            f"(waits up to {_RESTART_TIMEOUT_S:g} s for connections)"
        )

    def start(self) -> None:
        database = self._context.component("database")
        self._crashed = True  # before acting: a half-done crash must still be healed
        if self.mode == "immediate":
            database.stop("immediate")
        else:
            database.kill()

    def stop(self) -> None:
        if not self._crashed:
            return
        database = self._context.component("database")
        if not database.running:
            database.start(_RESTART_TIMEOUT_S)
        self._crashed = False


class DatabaseCrashParams(FaultParams):
    mode: CrashMode = Field(
        "immediate",
        description="immediate (default: immediate shutdown, no checkpoint) or sigkill (SIGKILL "
        "the postmaster and its backends)",
    )


def build(context: FaultContext, params: DatabaseCrashParams) -> DatabaseCrash:
    return DatabaseCrash(context, params.mode)


KIND = FaultKind(
    name="database-crash",
    summary="crash the managed PostgreSQL server, restart it at heal (params: mode)",
    params=DatabaseCrashParams,
    build=build,
)
