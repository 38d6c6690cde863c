"""Fault kind ``database-terminate-backends``: the managed database terminates the service's
connections (PostgreSQL: ``pg_terminate_backend`` by application name; MariaDB, which has no
application name: ``KILL CONNECTION`` of every connection of the service's account), as a
failover or an administrator would. Transactions in flight are
rolled back; the service must reconnect and must not acknowledge what it could not commit."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams
from ackguard.harness.scenario_fields import text

__all__ = ["KIND", "DatabaseTerminateBackends", "DatabaseTerminateParams"]

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
            f"database connections of the service (PostgreSQL: application_name "
            f"{application_name!r}) terminated once; nothing to heal"
        )

    def start(self) -> None:
        database = self._context.component("database")
        self.terminated = database.terminate_backends(self.application_name)

    def stop(self) -> None:
        """Nothing to undo: a terminated connection is gone and the client reconnects."""


class DatabaseTerminateParams(FaultParams):
    # PostgreSQL keeps at most 63 bytes of an application_name.
    application_name: Annotated[str, BeforeValidator(text(63))] = Field(
        DEFAULT_APPLICATION,
        description=f"whose connections to terminate (default {DEFAULT_APPLICATION})",
    )


def build(context: FaultContext, params: DatabaseTerminateParams) -> DatabaseTerminateBackends:
    return DatabaseTerminateBackends(context, params.application_name)


KIND = FaultKind(
    name="database-terminate-backends",
    summary="terminate the service's database connections once (params: application_name)",
    params=DatabaseTerminateParams,
    build=build,
)
