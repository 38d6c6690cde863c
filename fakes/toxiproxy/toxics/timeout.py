"""``timeout``: black-holes a link, then closes it when idle.

Attribute: ``timeout`` (milliseconds). Every chunk in this direction is dropped. With
``timeout > 0`` the link is closed once ``timeout`` ms pass without a new chunk (counted from the
toxic's attachment or the last dropped chunk); with 0 it never closes by itself. Removing the
toxic closes every connection it was attached to, as the reference server does.
"""

from __future__ import annotations

from ackguard.fakes.toxiproxy.toxics.base import Attribute, Chunk, Out, Stage, ToxicType

__all__ = ["Timeout"]


class _TimeoutStage(Stage):
    _timer: object = None

    def started(self) -> None:
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        if self.values["timeout"] > 0:
            self._timer = self.ctx.call_later(
                self.values["timeout"] / 1000, self.ctx.close_downstream_of_me
            )

    def _disarm(self) -> None:
        cancel = getattr(self._timer, "cancel", None)
        if cancel is not None:
            cancel()
        self._timer = None

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        self._arm()  # dropped; each chunk restarts the idle timer

    def stopped(self) -> None:
        self._disarm()


class Timeout(ToxicType):
    name = "timeout"
    summary = "drops all data, closes after timeout ms idle (0 = never)"
    attributes = (Attribute("timeout", "ms", "idle time before the link is closed; 0 = never"),)
    stage = _TimeoutStage
    closes_on_remove = True
