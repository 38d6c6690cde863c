"""``pg_commit_ack_drop``: a PostgreSQL COMMIT happens, and its acknowledgement never arrives.

Attributes: ``every`` (count; the N-th, 2N-th... COMMIT forwarded through this proxy's toxic is
hit; 0 or 1 = every COMMIT). Toxicity is rolled per connection, as for every toxic.

It reads the client's messages (upstream) and the server's (downstream), whatever ``stream`` it
was created with: when a COMMIT (simple Query ``COMMIT``/``END`` [WORK|TRANSACTION], or the
Execute of a prepared one) is forwarded to the server, the server's answer to it (the
CommandComplete ``COMMIT``/``ROLLBACK`` tag, or an ErrorResponse) is not delivered: the connection
is closed just before it. The server committed; the client gets a broken connection and cannot
know. This is the "acknowledged or not?" window that every retry policy must handle.
Encrypted sessions (SSLRequest answered ``S``) are passed through untouched.
"""

from __future__ import annotations

from ackguard.fakes.toxiproxy.pgwire import GSSENC_REQUEST, SSL_REQUEST, Splitter, is_commit_sql
from ackguard.fakes.toxiproxy.toxics.base import (
    Attribute,
    AttributeValues,
    Chunk,
    Out,
    Stage,
    StageContext,
    ToxicType,
)

__all__ = ["PgCommitAckDrop"]


def _splitters(ctx: StageContext) -> tuple[Splitter, Splitter]:
    front = ctx.shared.setdefault("front", Splitter(frontend=True, from_start=ctx.fresh))
    back = ctx.shared.setdefault("back", Splitter(frontend=False, from_start=ctx.fresh))
    assert isinstance(front, Splitter) and isinstance(back, Splitter)
    return front, back


def _cstrings(body: bytes, count: int) -> list[bytes]:
    return body.split(b"\x00", count)[:count]


class _ClientSide(Stage):
    """Finds the COMMITs the client sends and books the drop of their answers."""

    def __init__(self, values: AttributeValues, ctx: StageContext) -> None:
        super().__init__(values, ctx)
        self._statements: dict[bytes, bytes] = {}
        self._portals: dict[bytes, bytes] = {}

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        front, back = _splitters(self.ctx)
        for message in front.feed(chunk.data):
            if Splitter.startup_code(message) in (SSL_REQUEST, GSSENC_REQUEST):
                back.expect_ssl_answer = True
            elif message.kind == "Q" and is_commit_sql(message.body):
                self._commit_forwarded()
            elif message.kind == "P":
                name, sql = _cstrings(message.body, 2)
                self._statements[name] = sql
            elif message.kind == "B":
                portal, statement = _cstrings(message.body, 2)
                self._portals[portal] = self._statements.get(statement, b"")
            elif message.kind == "E" and is_commit_sql(
                self._portals.get(_cstrings(message.body, 1)[0], b"")
            ):
                self._commit_forwarded()
        await out.data(chunk)

    def _commit_forwarded(self) -> None:
        counters = self.ctx.counters
        counters["commits"] = counters.get("commits", 0) + 1
        if counters["commits"] % max(self.values["every"], 1) == 0:
            drops = self.ctx.shared.get("drops", 0)
            assert isinstance(drops, int)
            self.ctx.shared["drops"] = drops + 1


class _ServerSide(Stage):
    """Cuts the connection in front of the answer to a booked COMMIT."""

    async def on_data(self, chunk: Chunk, out: Out) -> None:
        _, back = _splitters(self.ctx)
        for message in back.feed(chunk.data):
            drops = self.ctx.shared.get("drops", 0)
            assert isinstance(drops, int)
            tag = message.body.split(b"\x00", 1)[0] if message.kind == "C" else b""
            answers_commit = message.kind == "E" or tag in (b"COMMIT", b"ROLLBACK")
            if drops > 0 and answers_commit:
                self.ctx.shared["drops"] = drops - 1
                if message.start > 0:
                    await out.data(Chunk(chunk.data[: message.start], chunk.read_at))
                self.ctx.cut()
                return
        await out.data(chunk)


class PgCommitAckDrop(ToxicType):
    name = "pg_commit_ack_drop"
    summary = "PostgreSQL: lets COMMIT through, drops the connection before its answer"
    attributes = (
        Attribute("every", "count", "hit the N-th, 2N-th... COMMIT through this toxic; 0 = 1"),
    )
    both_streams = True

    @classmethod
    def make_stage(cls, values: AttributeValues, ctx: StageContext) -> Stage:
        side = _ClientSide if ctx.direction == "upstream" else _ServerSide
        return side(values, ctx)
