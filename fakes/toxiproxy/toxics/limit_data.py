"""``limit_data``: closes a link after a number of bytes.

Attribute: ``bytes`` (bytes). Each link counts the bytes it forwarded (the count survives updates
of the toxic); the chunk that crosses the limit is truncated to it and the link is then closed.
``bytes = 0`` closes on the first chunk, not at connect.
"""

from __future__ import annotations

from ackguard.fakes.toxiproxy.toxics.base import Attribute, Chunk, Out, Stage, ToxicType

__all__ = ["LimitData"]


class _LimitDataStage(Stage):
    async def on_data(self, chunk: Chunk, out: Out) -> None:
        sent = self.ctx.persistent.get("sent", 0)
        allowed = self.values["bytes"] - sent
        if len(chunk.data) < allowed:
            self.ctx.persistent["sent"] = sent + len(chunk.data)
            await out.data(chunk)
            return
        if allowed > 0:
            await out.data(Chunk(chunk.data[:allowed], chunk.read_at))
        self.ctx.persistent["sent"] = self.values["bytes"]
        await out.eof()


class LimitData(ToxicType):
    name = "limit_data"
    summary = "closes the link once bytes bytes have passed"
    attributes = (Attribute("bytes", "bytes", "bytes let through before the link closes"),)
    stage = _LimitDataStage
