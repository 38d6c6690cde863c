"""``cut``: cuts a connection in the middle of what it was doing.

Attributes: ``after_ms`` (milliseconds after the toxic was attached to the connection; 0 = no
time limit) and ``after_messages`` (count of PostgreSQL protocol messages from the client,
counted from the attachment, startup packets excluded; the first ``after_messages`` are
delivered and the connection is cut instead of delivering the next one; 0 = no message limit).
At least one must be > 0. The cut closes both sockets after flushing what was already let
through: a server that was in a transaction sees its client vanish and rolls it back.
It reads the client's messages whatever ``stream`` it was created with.
"""

from __future__ import annotations

from ackguard.fakes.toxiproxy.pgwire import Splitter
from ackguard.fakes.toxiproxy.toxics.base import (
    Attribute,
    AttributeValues,
    BadAttribute,
    Chunk,
    Out,
    Stage,
    StageContext,
    ToxicType,
)

__all__ = ["Cut"]


class _ClientSide(Stage):
    def __init__(self, values: AttributeValues, ctx: StageContext) -> None:
        super().__init__(values, ctx)
        self._splitter = Splitter(frontend=True, from_start=ctx.fresh)
        self._messages = 0
        self._timer: object = None

    def started(self) -> None:
        if self.values["after_ms"] > 0:
            self._timer = self.ctx.call_later(self.values["after_ms"] / 1000, self.ctx.cut)

    def stopped(self) -> None:
        cancel = getattr(self._timer, "cancel", None)
        if cancel is not None:
            cancel()

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        limit = self.values["after_messages"]
        if limit > 0:
            for message in self._splitter.feed(chunk.data):
                if message.kind in ("", "ssl-answer"):
                    continue
                self._messages += 1
                if self._messages > limit:
                    if message.start > 0:
                        await out.data(Chunk(chunk.data[: message.start], chunk.read_at))
                    self.ctx.cut()
                    return
        await out.data(chunk)


class Cut(ToxicType):
    name = "cut"
    summary = "cuts the connection after after_ms ms or after_messages client messages"
    attributes = (
        Attribute("after_ms", "ms", "cut this long after attachment; 0 = no time limit"),
        Attribute(
            "after_messages", "count", "client messages delivered before the cut; 0 = no limit"
        ),
    )
    both_streams = True

    @classmethod
    def check(cls, values: AttributeValues) -> None:
        super().check(values)
        if values["after_ms"] == 0 and values["after_messages"] == 0:
            raise BadAttribute("after_ms", "set after_ms or after_messages (> 0)")

    @classmethod
    def make_stage(cls, values: AttributeValues, ctx: StageContext) -> Stage:
        return _ClientSide(values, ctx) if ctx.direction == "upstream" else Stage(values, ctx)
