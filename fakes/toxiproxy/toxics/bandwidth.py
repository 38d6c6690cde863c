"""``bandwidth``: limits the rate of one link.

Attribute: ``rate`` (KB/s, 1 KB = 1000 bytes; must be > 0: the reference server stalls at 0 and
crashes below). The limit is per link (per connection and direction). A chunk larger than
``rate * 100`` bytes is sent in pieces of that size, about every 100 ms. The schedule corrects
for timer error by tracking when the next byte may leave.
"""

from __future__ import annotations

import time

from ackguard.fakes.toxiproxy.toxics.base import Attribute, Chunk, Out, Stage, ToxicType

__all__ = ["Bandwidth"]


class _BandwidthStage(Stage):
    def started(self) -> None:
        self._next_free = time.monotonic()

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        bytes_per_s = self.values["rate"] * 1000
        piece_size = self.values["rate"] * 100
        data = chunk.data
        for start in range(0, len(data), piece_size):
            piece = data[start : start + piece_size]
            now = time.monotonic()
            self._next_free = max(self._next_free, now) + len(piece) / bytes_per_s
            wait = self._next_free - now
            if wait > 0 and await self.ctx.sleep(wait):
                # Updated or removed: let the rest through at once.
                await out.data(Chunk(data[start:], chunk.read_at))
                return
            await out.data(Chunk(piece, chunk.read_at))


class Bandwidth(ToxicType):
    name = "bandwidth"
    summary = "limits a link to rate KB/s (1 KB = 1000 bytes)"
    attributes = (Attribute("rate", "KB/s", "bytes per second / 1000 on this link", minimum=1),)
    stage = _BandwidthStage
