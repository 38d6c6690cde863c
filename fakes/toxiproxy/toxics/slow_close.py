"""``slow_close``: holds back the end of a stream.

Attribute: ``delay`` (milliseconds). Data passes unchanged; when the link's source closes, the
close is propagated only after ``delay`` ms (then the whole connection is torn down), or at once
when the toxic is updated or removed meanwhile.
"""

from __future__ import annotations

from ackguard.fakes.toxiproxy.toxics.base import Attribute, Out, Stage, ToxicType

__all__ = ["SlowClose"]


class _SlowCloseStage(Stage):
    async def on_eof(self, out: Out) -> None:
        await self.ctx.sleep(self.values["delay"] / 1000)  # updated or removed: close now
        await out.eof()


class SlowClose(ToxicType):
    name = "slow_close"
    summary = "delays the close of a stream by delay ms"
    attributes = (Attribute("delay", "ms", "how long the end of stream is held back"),)
    stage = _SlowCloseStage
