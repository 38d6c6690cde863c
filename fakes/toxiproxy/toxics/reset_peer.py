"""``reset_peer``: resets the connection (TCP RST) when data first arrives.

Attribute: ``timeout`` (milliseconds). On the first chunk (or end of stream) in this direction
the chunk is dropped, the toxic waits ``timeout`` ms, then closes both sockets with SO_LINGER 0 so
that the peers see ECONNRESET. Unlike the reference server, the RST is sent whether the toxic was
added before or after the connection started, and a toxic whose toxicity roll failed changes
nothing (no SO_LINGER side effect, issue #603). Updating or removing the toxic while it waits
resets at once.
"""

from __future__ import annotations

from ackguard.fakes.toxiproxy.toxics.base import Attribute, Chunk, Out, Stage, ToxicType

__all__ = ["ResetPeer"]


class _ResetPeerStage(Stage):
    _fired = False

    async def _fire(self) -> None:
        if self._fired:
            return
        self._fired = True
        # Updating or removing the toxic (or the connection closing) ends the wait early: the
        # reset was decided, it happens at once; nothing is left sleeping on a dead link.
        await self.ctx.sleep(self.values["timeout"] / 1000)
        self.ctx.reset()

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        await self._fire()

    async def on_eof(self, out: Out) -> None:
        await self._fire()


class ResetPeer(ToxicType):
    name = "reset_peer"
    summary = "on first data, waits timeout ms then resets the connection (RST)"
    attributes = (Attribute("timeout", "ms", "wait between the first data and the reset"),)
    stage = _ResetPeerStage
