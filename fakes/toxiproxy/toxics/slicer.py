"""``slicer``: cuts chunks into small pieces sent with a pause between them.

Attributes: ``average_size`` (bytes, >= 1), ``size_variation`` (bytes, < average_size),
``delay`` (microseconds of pause after each piece). Each chunk is split by recursive bisection;
a piece stays whole once it is at most ``average_size + size_variation`` bytes, and each split
point is the midpoint plus a seeded random offset in [-size_variation, size_variation - 1].
The bytes delivered are the same bytes, in order. Updating or removing the toxic sends the rest
of the current chunk as one piece.
"""

from __future__ import annotations

import random

from ackguard.fakes.toxiproxy.toxics.base import (
    Attribute,
    AttributeValues,
    BadAttribute,
    Chunk,
    Out,
    Stage,
    ToxicType,
)

__all__ = ["Slicer", "slice_points"]


def slice_points(length: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """The end offsets of the pieces of a ``length``-byte chunk (iterative bisection)."""
    ends: list[int] = []
    stack = [(0, length)]
    while stack:
        start, end = stack.pop()
        if end - start <= average + variation:
            ends.append(end)
            continue
        middle = (start + end) // 2
        if variation > 0:
            middle += rng.randrange(-variation, variation)
        middle = min(max(middle, start + 1), end - 1)
        stack.append((middle, end))  # right half after the left one (LIFO)
        stack.append((start, middle))
    return ends


class _SlicerStage(Stage):
    async def on_data(self, chunk: Chunk, out: Out) -> None:
        data = chunk.data
        ends = slice_points(
            len(data), self.values["average_size"], self.values["size_variation"], self.ctx.rng
        )
        start = 0
        for end in ends:
            await out.data(Chunk(data[start:end], chunk.read_at))
            start = end
            if start == len(data):
                break
            if await self.ctx.sleep(self.values["delay"] / 1_000_000, paced=True):
                await out.data(Chunk(data[start:], chunk.read_at))
                return


class Slicer(ToxicType):
    name = "slicer"
    summary = "slices chunks into ~average_size-byte pieces, delay us apart"
    attributes = (
        Attribute("average_size", "bytes", "typical piece size", minimum=1),
        Attribute("size_variation", "bytes", "random spread of a piece's size"),
        Attribute("delay", "us", "pause after each piece, in microseconds"),
    )
    stage = _SlicerStage

    @classmethod
    def check(cls, values: AttributeValues) -> None:
        super().check(values)
        if values["size_variation"] >= values["average_size"]:
            raise BadAttribute("size_variation", "must be < average_size (bytes)")
