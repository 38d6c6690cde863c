"""Fault kind ``database-crash``: the managed PostgreSQL server dies without a checkpoint and
comes back when the fault heals, replaying its WAL. What was acknowledged with
``synchronous_commit=on`` must survive; with ``off``, the last few hundred milliseconds of
acknowledged commits may not (that is the point of the async-commit scenarios)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from harness.faults.base import FaultContext, FaultKind, only_choice

__all__ = ["KIND", "DatabaseCrash"]

CrashMode = Literal["immediate", "sigkill"]
_MODES: tuple[CrashMode, ...] = ("immediate", "sigkill")
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


def build(context: FaultContext, params: Mapping[str, Any]) -> DatabaseCrash:
    mode = only_choice(params, "mode", _MODES, "immediate")
    return DatabaseCrash(context, "immediate" if mode == "immediate" else "sigkill")


KIND = FaultKind(
    name="database-crash",
    summary="crash the managed PostgreSQL server, restart it at heal (params: mode)",
    params={
        "mode": "immediate (default: immediate shutdown, no checkpoint) or sigkill (SIGKILL the "
        "postmaster and its backends)",
    },
    build=build,
)
