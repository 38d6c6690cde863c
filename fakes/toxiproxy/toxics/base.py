"""What every toxic is made of: its attribute table, the per-connection stage that does the work,
and the narrow view of the connection a stage acts through.

Words:

- A **toxic** (:class:`ToxicType`) is a kind of fault with typed attributes. It is configured on a
  proxy, in one stream (``upstream`` = client -> server bytes, ``downstream`` = server -> client).
- A **stage** (:class:`Stage`) is one toxic working on one link (one direction of one connection).
  Stages of a link form a chain; bytes go through them in the order the toxics were added.
- A **chunk** is what one socket read returned, with the time it was read.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

__all__ = [
    "Attribute",
    "AttributeValues",
    "BadAttribute",
    "Chunk",
    "Out",
    "Stage",
    "StageContext",
    "ToxicType",
]

AttributeValues = Mapping[str, int]
"""A toxic's attributes, every one present (0 when not given), as integers."""


class BadAttribute(ValueError):
    """An attribute value this toxic cannot work with; the API answers 400 naming it."""

    def __init__(self, attribute: str, message: str) -> None:
        super().__init__(f"{attribute}: {message}")
        self.attribute = attribute
        self.message = message


@dataclass(frozen=True, slots=True)
class Attribute:
    """One integer attribute: its JSON key, its unit and what it does. ``minimum`` and
    ``maximum`` bound the values accepted (others get a 400 instead of a hang or a crash; the
    default maximum, 2**31 - 1, is 24 days in ms, 35 minutes in us, 2 GiB in bytes)."""

    name: str
    unit: str
    doc: str
    minimum: int = 0
    maximum: int = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes from one read, with the ``time.monotonic()`` at which they were read."""

    data: bytes
    read_at: float


class Out(Protocol):
    """Where a stage sends what it lets through: the rest of the chain, then the socket."""

    async def data(self, chunk: Chunk) -> None: ...

    async def eof(self) -> None: ...


class StageContext(Protocol):
    """The link as a stage sees it."""

    rng: random.Random
    """Seeded per proxy, connection, direction, toxic and attachment: a run replays."""
    direction: str
    """``upstream`` or ``downstream``."""
    fresh: bool
    """True when no byte had passed on this link when the stage was attached (so a protocol
    parser starts at the very first byte of the connection)."""
    persistent: dict[str, int]
    """Counters of this toxic on this link that survive the toxic being updated."""
    shared: dict[str, object]
    """State of this toxic shared by both links of the connection (protocol-aware toxics)."""
    counters: dict[str, int]
    """Counters of this toxic shared by every connection of the proxy (e.g. every N-th)."""

    async def sleep(
        self, seconds: float, *, interruptible: bool = True, paced: bool = False
    ) -> bool:
        """Wait (to within tens of microseconds, also below a millisecond); True when the toxic
        was updated or removed meanwhile (the wait ended early). ``paced``: a series of pauses
        (each counted from where the previous one was due, up to 2 ms late), so their sum is
        kept however long the work between them took."""
        ...

    def close_downstream_of_me(self) -> None:
        """End the link from this stage on (as an end of stream flowing down the chain)."""
        ...

    def cut(self) -> None:
        """Close both sockets of the connection now, dropping whatever is in flight."""
        ...

    def reset(self) -> None:
        """Close both sockets of the connection now with a TCP RST (SO_LINGER 0)."""
        ...

    def call_later(self, seconds: float, callback: object) -> object:
        """Run ``callback()`` later; returns a handle with ``cancel()``."""
        ...


class Stage:
    """One toxic on one link. The default passes everything through unchanged."""

    def __init__(self, values: AttributeValues, ctx: StageContext) -> None:
        self.values = values
        self.ctx = ctx

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        await out.data(chunk)

    async def on_eof(self, out: Out) -> None:
        await out.eof()

    def started(self) -> None:
        """Called once the stage is in the chain (arm timers here)."""

    def stopped(self) -> None:
        """Called when the stage leaves the chain (toxic updated or removed, connection gone)."""


class ToxicType:
    """A kind of toxic. Subclasses set the class variables and ``stage``; ``check`` adds rules
    between attributes."""

    name: ClassVar[str]
    summary: ClassVar[str]
    attributes: ClassVar[tuple[Attribute, ...]] = ()
    stage: ClassVar[type[Stage]] = Stage
    both_streams: ClassVar[bool] = False
    """True for protocol-aware toxics that need to see both directions of a connection; they are
    listed under the stream they were created with but act on both links."""
    closes_on_remove: ClassVar[bool] = False
    """True when removing the toxic closes the connections it was attached to (``timeout``)."""

    @classmethod
    def check(cls, values: AttributeValues) -> None:
        """Raise BadAttribute for values the toxic cannot work with. The default applies each
        attribute's minimum and maximum."""
        for attribute in cls.attributes:
            if values[attribute.name] < attribute.minimum:
                raise BadAttribute(
                    attribute.name, f"must be >= {attribute.minimum} ({attribute.unit})"
                )
            if values[attribute.name] > attribute.maximum:
                raise BadAttribute(
                    attribute.name, f"must be <= {attribute.maximum} ({attribute.unit})"
                )

    @classmethod
    def make_stage(cls, values: AttributeValues, ctx: StageContext) -> Stage:
        return cls.stage(values, ctx)
