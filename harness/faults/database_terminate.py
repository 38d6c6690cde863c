"""Fault kind ``database-terminate-backends``: PostgreSQL terminates the service's connections
(``pg_terminate_backend``), as a failover or an administrator would. Transactions in flight are
rolled back; the service must reconnect and must not acknowledge what it could not commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.faults.base import FaultConfigError, FaultContext, FaultKind

__all__ = ["KIND", "DatabaseTerminateBackends"]

DEFAULT_APPLICATION = "ackguard-consultations"


class DatabaseTerminateBackends:
    """``start`` terminates every backend whose ``application_name`` matches; ``stop`` has
    nothing to heal (the service reconnects by itself)."""

    def __init__(self, context: FaultContext, application_name: str) -> None:
        self._context = context
        self.application_name = application_name
        self.terminated: int | None = None
        """How many backends the last start terminated."""
        self.name = "database-terminate-backends"
        self.description = (
            "PostgreSQL connections with application_name "
            f"{application_name!r} terminated once (pg_terminate_backend); nothing to heal"
        )

    def start(self) -> None:
        database = self._context.component("database")
        self.terminated = database.terminate_backends(self.application_name)

    def stop(self) -> None:
        """Nothing to undo: a terminated connection is gone and the client reconnects."""


def build(context: FaultContext, params: Mapping[str, Any]) -> DatabaseTerminateBackends:
    unknown = sorted(set(params) - {"application_name"})
    if unknown:
        raise FaultConfigError(unknown[0], "unknown parameter (allowed: application_name)")
    name = params.get("application_name", DEFAULT_APPLICATION)
    if not isinstance(name, str) or not name or len(name) > 63:
        raise FaultConfigError(
            "application_name", f"must be a string of 1 to 63 characters, got {name!r}"
        )
    return DatabaseTerminateBackends(context, name)


KIND = FaultKind(
    name="database-terminate-backends",
    summary="terminate the service's PostgreSQL connections once (params: application_name)",
    params={
        "application_name": f"whose connections to terminate (default {DEFAULT_APPLICATION})",
    },
    build=build,
)
