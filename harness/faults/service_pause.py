"""Fault kind ``service-pause``: the consultation service process group is frozen with SIGSTOP
and continued with SIGCONT at heal. Clients time out while requests sit in its socket backlog;
after the pause those requests may still be served, which is why timeouts are indeterminate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.faults.base import FaultConfigError, FaultContext, FaultKind

__all__ = ["KIND", "ServicePause"]


class ServicePause:
    """``start`` sends SIGSTOP to the service's process group; ``stop`` sends SIGCONT."""

    def __init__(self, context: FaultContext) -> None:
        self._context = context
        self._paused = False
        self.name = "service-pause"
        self.description = (
            "consultation service frozen (SIGSTOP to its process group) until heal (SIGCONT)"
        )

    def start(self) -> None:
        service = self._context.component("service")
        self._paused = True  # before acting: a half-done pause must still be healed
        service.pause()

    def stop(self) -> None:
        if self._paused:
            self._context.component("service").resume()
            self._paused = False


def build(context: FaultContext, params: Mapping[str, Any]) -> ServicePause:
    if params:
        raise FaultConfigError(sorted(params)[0], "unknown parameter (service-pause takes none)")
    return ServicePause(context)


KIND = FaultKind(
    name="service-pause",
    summary="freeze the consultation service (SIGSTOP) until heal (SIGCONT); no params",
    params={},
    build=build,
)
