"""What the two pause kinds share: freeze a component with SIGSTOP, continue it with SIGCONT at
heal. The component (a managed process or a managed PostgreSQL) knows which PIDs to signal."""

from __future__ import annotations

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams

__all__ = ["NoParams", "PauseFault", "pause_kind"]


class NoParams(FaultParams):
    """The parameters of a kind that takes none."""


class PauseFault:
    """``start`` freezes the component; ``stop`` continues it (only if it was frozen)."""

    def __init__(self, context: FaultContext, component: str, name: str, description: str) -> None:
        self._context = context
        self._component = component
        self._paused = False
        self.name = name
        self.description = description

    def start(self) -> None:
        target = self._context.component(self._component)
        self._paused = True  # before acting: a half-done pause must still be healed
        target.pause()

    def stop(self) -> None:
        if self._paused:
            self._context.component(self._component).resume()
            self._paused = False


def pause_kind(*, component: str, name: str, summary: str, description: str) -> FaultKind[NoParams]:
    """The registry row of a pause kind that takes no parameters."""

    def build(context: FaultContext, params: NoParams) -> PauseFault:
        return PauseFault(context, component, name, description)

    return FaultKind(name=name, summary=summary, params=NoParams, build=build)
