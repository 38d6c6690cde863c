"""Fault kind ``service-kill``: the service process (the built-in consultation service or the
scenario's ``system.service`` command, with its process group) gets SIGKILL, or SIGTERM for a
graceful shutdown, and is started again at heal. Requests in flight become indeterminate;
nothing it acknowledged may be lost."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams

__all__ = ["KIND", "ServiceKill", "ServiceKillParams"]

_SIGNALS: Mapping[str, signal.Signals] = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}


class ServiceKill:
    """``start`` signals the service's process group; ``stop`` restarts the service and waits
    until it is ready again."""

    def __init__(self, context: FaultContext, signal_name: str) -> None:
        self._context = context
        self.signal_name = signal_name
        self._killed = False
        self.name = "service-kill"
        self.description = (
            f"service process group sent {signal_name}; restarted at heal "
            "(waits until the service is ready again, bounded by its ready timeout in s)"
        )

    def start(self) -> None:
        service = self._context.component("service")
        self._killed = True  # before acting: a half-done kill must still be healed
        service.kill(_SIGNALS[self.signal_name])

    def stop(self) -> None:
        if self._killed:
            self._context.component("service").restart()
            self._killed = False


class ServiceKillParams(FaultParams):
    signal: Literal["SIGKILL", "SIGTERM"] = Field(
        "SIGKILL", description="SIGKILL (default) or SIGTERM (graceful shutdown)"
    )


def build(context: FaultContext, params: ServiceKillParams) -> ServiceKill:
    return ServiceKill(context, params.signal)


KIND = FaultKind(
    name="service-kill",
    summary="kill the service (built-in or your command), restart it at heal (params: signal)",
    params=ServiceKillParams,
    build=build,
)
