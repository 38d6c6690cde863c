"""Framing of the PostgreSQL protocol by the built-in proxy's splitter, byte by byte."""

from __future__ import annotations

import random
import struct

from ackguard.fakes.toxiproxy.pgwire import SSL_REQUEST, Splitter, is_commit_sql
from ackguard.fakes.toxiproxy.toxics.slicer import slice_points


def _typed(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _untyped(body: bytes) -> bytes:
    return struct.pack("!i", len(body) + 4) + body


FRONTEND = (
    _untyped(struct.pack("!i", SSL_REQUEST))
    + _untyped(struct.pack("!i", 196608) + b"user\x00postgres\x00\x00")
    + _typed(b"Q", b"BEGIN\x00")
    + _typed(b"P", b"s1\x00COMMIT\x00\x00\x00")
    + _typed(b"Q", b"commit ;\x00")
)


def test_frontend_messages_survive_any_chunking() -> None:
    expected = ["", "", "Q", "P", "Q"]
    for size in (1, 2, 3, 7, len(FRONTEND)):
        splitter = Splitter(frontend=True, from_start=True)
        kinds: list[str] = []
        bodies: list[bytes] = []
        for start in range(0, len(FRONTEND), size):
            for message in splitter.feed(FRONTEND[start : start + size]):
                kinds.append(message.kind)
                bodies.append(message.body)
        assert kinds == expected
        assert bodies[-1] == b"commit ;\x00"


def test_backend_ssl_answer_then_typed_messages() -> None:
    splitter = Splitter(frontend=False, from_start=True)
    splitter.expect_ssl_answer = True
    data = b"N" + _typed(b"R", b"\x00\x00\x00\x00") + _typed(b"C", b"COMMIT\x00")
    messages = splitter.feed(data)
    assert [m.kind for m in messages] == ["ssl-answer", "R", "C"]
    assert messages[2].start == 1 + 9 and data[messages[2].start] == ord("C")


def test_attached_mid_stream_resyncs_on_a_message_boundary() -> None:
    splitter = Splitter(frontend=True, from_start=False)
    assert splitter.feed(b"garbage that is not a message") == []
    assert [m.kind for m in splitter.feed(_typed(b"Q", b"COMMIT\x00"))] == ["Q"]


def test_commit_statements() -> None:
    for sql in (b"COMMIT", b"commit;", b"END", b" End Transaction ; ", b"COMMIT WORK\x00"):
        assert is_commit_sql(sql)
    for sql in (b"COMMIT PREPARED 'x'", b"ROLLBACK", b"SELECT 'COMMIT'"):
        assert not is_commit_sql(sql)


def test_slicer_pieces_cover_the_chunk_in_order() -> None:
    rng = random.Random(3)
    for length in (1, 5, 60, 1000):
        ends = slice_points(length, 3, 1, rng)
        assert ends == sorted(ends) and ends[-1] == length
        starts = [0, *ends[:-1]]
        assert all(0 < end - start <= 4 for start, end in zip(starts, ends, strict=True))
