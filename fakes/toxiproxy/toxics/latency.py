"""``latency``: delays every chunk.

Attributes: ``latency`` (milliseconds, added to each chunk), ``jitter`` (milliseconds; each chunk
gets a uniform integer offset in [-jitter, jitter - 1] drawn from the seeded generator).
The time a chunk already spent in the proxy is subtracted, so consecutive chunks are pipelined and
throughput is not capped. Order is kept. Updating or removing the toxic releases a held chunk at
once.
"""

from __future__ import annotations

import time

from ackguard.fakes.toxiproxy.toxics.base import Attribute, Chunk, Out, Stage, ToxicType

__all__ = ["Latency"]


class _LatencyStage(Stage):
    async def on_data(self, chunk: Chunk, out: Out) -> None:
        delay_ms = self.values["latency"]
        jitter = self.values["jitter"]
        if jitter > 0:
            delay_ms += self.ctx.rng.randrange(-jitter, jitter)
        wait = chunk.read_at + delay_ms / 1000 - time.monotonic()
        if wait > 0:
            await self.ctx.sleep(wait)
        await out.data(chunk)


class Latency(ToxicType):
    name = "latency"
    summary = "adds latency (ms) +/- jitter (ms) to every chunk"
    attributes = (
        Attribute("latency", "ms", "delay added to each chunk"),
        Attribute("jitter", "ms", "uniform random offset in [-jitter, jitter - 1] per chunk"),
    )
    stage = _LatencyStage
