"""Fault kind ``database-crash``: the managed database server dies without a checkpoint and
comes back when the fault heals, replaying its log. What PostgreSQL acknowledged with
``synchronous_commit=on`` (MariaDB: ``innodb_flush_log_at_trx_commit=1``) must survive; with
``off`` (``0``), the last moments of acknowledged commits may not (that is the point of the
async-commit and flush-crash scenarios). On MariaDB both modes are a SIGKILL of ``mariadbd``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams

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
            "an immediate shutdown (PostgreSQL: SIGQUIT to the postmaster, no checkpoint)"
            if mode == "immediate"
            else "SIGKILL of every server process"
        )
        self.description = (
            f"database crashed by {how}; MariaDB: SIGKILL of mariadbd; restarted at heal, crash "
            f"recovery from the log (waits up to {_RESTART_TIMEOUT_S:g} s for connections)"
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
        "the postmaster and its backends); on MariaDB both SIGKILL mariadbd",
    )


def build(context: FaultContext, params: DatabaseCrashParams) -> DatabaseCrash:
    return DatabaseCrash(context, params.mode)


KIND = FaultKind(
    name="database-crash",
    summary="crash the managed database server, restart it at heal (params: mode)",
    params=DatabaseCrashParams,
    build=build,
)
