"""uvicorn's HTTP protocol (httptools), each answer sent in one write instead of two.

uvicorn writes an answer's status line and headers when the app sends ``http.response.start``
and its body when it sends ``http.response.body``: two ``send`` system calls on the socket, and
on loopback two segments for the client to wake up for. Both come from one step of the event
loop (the app sends them back to back), so :class:`CoalescingHttpTools` gives the protocol a
transport that gathers the writes of a step and makes them one write at its end (or at once
before a close). Everything else is uvicorn's own, unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingHttpTools"]


class _GatheringTransport:
    """Delegates to ``transport``; the writes of one loop step go out as one, in order."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():  # else the client left: nobody to send to
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        gathering: Any = _GatheringTransport(transport, self.loop)
        super().connection_made(gathering)
