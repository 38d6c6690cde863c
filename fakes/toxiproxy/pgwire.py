"""Incremental framing of the PostgreSQL wire protocol (v3), for the protocol-aware toxics.

Only framing and the few payloads the toxics need are understood: a frontend stream starts with
untyped packets (SSLRequest / GSSENCRequest, then the StartupMessage, or a CancelRequest), then
typed messages (1 type byte + int32 length that counts itself). A backend stream is typed, except
the single byte that answers an SSLRequest / GSSENCRequest.

When a toxic is attached to a connection that is already running, the splitter does not know
where a message starts. It then assumes the next chunk starts on a message boundary (clients
write whole messages) and checks the type byte and length; a chunk that fails the check is passed
over and the next one is tried.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

__all__ = ["BACKEND_TYPES", "FRONTEND_TYPES", "Message", "Splitter", "is_commit_sql"]

FRONTEND_TYPES = frozenset(b"BCdcfDEHFPpQSX")
BACKEND_TYPES = frozenset(b"123ACcdDEGHIKnNRsStTVWZv")
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
_MAX_LENGTH = 1 << 30
_KEEP_BODY = frozenset(b"QPBECp")  # payloads the toxics read; others are only counted
_COMMIT_SQL = re.compile(rb"^\s*(COMMIT|END)(\s+(WORK|TRANSACTION))?\s*;?\s*$", re.I)


def is_commit_sql(sql: bytes) -> bool:
    """True for the statements that commit a transaction: COMMIT / END [WORK|TRANSACTION]."""
    return _COMMIT_SQL.match(sql.rstrip(b"\x00")) is not None


@dataclass(frozen=True, slots=True)
class Message:
    """One protocol message. ``kind`` is the type byte as a character, or ``""`` for an untyped
    startup-phase packet, or ``"ssl-answer"``. ``start``/``end`` are offsets in the chunk that
    completed it (``start`` is negative when the message began in an earlier chunk). ``body``
    is the payload after the length (only for the kinds the toxics read, else empty)."""

    kind: str
    body: bytes
    start: int
    end: int


class Splitter:
    """Splits one direction of a connection into messages, chunk by chunk."""

    def __init__(self, *, frontend: bool, from_start: bool) -> None:
        self._frontend = frontend
        self._types = FRONTEND_TYPES if frontend else BACKEND_TYPES
        self._untyped = frontend and from_start
        self._synced = from_start
        self._header = b""
        self._kind = ""
        self._remaining = -1  # body bytes still to read; -1 = reading a header
        self._body = bytearray()
        self._start = 0
        self.expect_ssl_answer = False
        """Set (by the frontend side's owner) when an SSLRequest was forwarded."""
        self.opaque = False
        """True once the session is encrypted: nothing can be parsed any more."""

    def feed(self, data: bytes) -> list[Message]:
        if self.opaque:
            return []
        if not self._synced and not self._looks_like_boundary(data):
            return []
        self._synced = True
        messages: list[Message] = []
        position = 0
        while position < len(data):
            if self._remaining < 0:
                if self.expect_ssl_answer and not self._header:
                    self.expect_ssl_answer = False
                    answer = data[position : position + 1]
                    messages.append(Message("ssl-answer", answer, position, position + 1))
                    position += 1
                    if answer in (b"S", b"G"):
                        self.opaque = True
                        return messages
                    continue
                header_size = 4 if self._untyped else 5
                need = header_size - len(self._header)
                if not self._header:
                    self._start = position
                self._header += data[position : position + need]
                position += min(need, len(data) - position)
                if len(self._header) < header_size:
                    break
                if not self._begin_body():
                    self._lose_sync()
                    return messages
            take = min(self._remaining, len(data) - position)
            if self._kind == "" or ord(self._kind) in _KEEP_BODY:
                self._body += data[position : position + take]
            position += take
            self._remaining -= take
            if self._remaining == 0:
                messages.append(self._finish(position))
        # The next chunk's offsets count from its own start.
        self._start -= len(data)
        return messages

    def _looks_like_boundary(self, data: bytes) -> bool:
        if len(data) < 5 or data[0] not in self._types:
            return False
        length: int = struct.unpack_from("!i", data, 1)[0]
        return 4 <= length < _MAX_LENGTH

    def _begin_body(self) -> bool:
        if self._untyped:
            (length,) = struct.unpack("!i", self._header)
            self._kind = ""
        else:
            if self._header[0] not in self._types:
                return False
            self._kind = chr(self._header[0])
            (length,) = struct.unpack_from("!i", self._header, 1)
        if not 4 <= length < _MAX_LENGTH:
            return False
        self._remaining = length - 4
        self._body = bytearray()
        return True

    def _finish(self, end: int) -> Message:
        message = Message(self._kind, bytes(self._body), self._start, end)
        if self._untyped and len(message.body) >= 4:
            (code,) = struct.unpack_from("!i", message.body)
            # After SSLRequest / GSSENCRequest another untyped packet follows.
            self._untyped = code in (SSL_REQUEST, GSSENC_REQUEST)
        self._header = b""
        self._remaining = -1
        self._body = bytearray()
        return message

    def _lose_sync(self) -> None:
        self._synced = False
        self._untyped = False
        self._header = b""
        self._remaining = -1
        self._body = bytearray()

    @staticmethod
    def startup_code(message: Message) -> int | None:
        """The request code of an untyped startup-phase packet."""
        if message.kind != "" or len(message.body) < 4:
            return None
        (code,) = struct.unpack_from("!i", message.body)
        return int(code)
