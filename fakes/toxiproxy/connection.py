"""One proxied TCP connection: the client socket, the upstream socket and the two links between
them. There is no half-close, as in the reference server: when one side's stream ends (or a
toxic ends it), the socket it was going to is closed and the end of stream then flows through
the other link (so a ``slow_close`` there still applies), after which the connection is gone."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import cast

from ackguard.fakes.toxiproxy.link import Link

__all__ = ["Connection"]


class _Side(asyncio.Protocol):
    """One socket of the connection: what it reads feeds ``reads``; ``writes`` writes into it."""

    def __init__(self, connection: Connection, reads: Link, writes: Link) -> None:
        self.connection = connection
        self.reads = reads
        self.writes = writes
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        self.reads.source = self.transport
        self.writes.dest = self.transport
        self.connection.side_made(self)

    def data_received(self, data: bytes) -> None:
        self.reads.feed(data)

    def eof_received(self) -> bool:
        self.reads.feed_eof()
        return True  # keep the socket: the connection decides when to close it

    def connection_lost(self, exc: Exception | None) -> None:
        self.reads.feed_eof()
        self.writes.dest_blocked(False)

    def pause_writing(self) -> None:
        self.writes.dest_blocked(True)

    def resume_writing(self) -> None:
        self.writes.dest_blocked(False)


class Connection:
    """Created for each accepted client; dials the upstream and owns both sockets."""

    def __init__(self, number: int, on_closed: Callable[[Connection], None]) -> None:
        self.number = number
        self.upstream_link = Link(self, "upstream")  # client -> server
        self.downstream_link = Link(self, "downstream")  # server -> client
        self.shared: dict[str, dict[str, object]] = {}
        self.tasks: set[asyncio.Future[None]] = set()
        self._on_closed = on_closed
        self._client: asyncio.Transport | None = None
        self._server: asyncio.Transport | None = None
        self._closed = False

    @property
    def links(self) -> tuple[Link, Link]:
        return self.upstream_link, self.downstream_link

    def client_protocol(self) -> asyncio.Protocol:
        return _Side(self, reads=self.upstream_link, writes=self.downstream_link)

    def side_made(self, side: _Side) -> None:
        if side.reads is self.upstream_link:
            self._client = side.transport
        else:
            self._server = side.transport
        if self._closed and side.transport is not None:
            # Closed before this socket was handed over (the upstream address failed to resolve
            # before the accepted client's transport was made): close it too, no CLOSE-WAIT.
            side.transport.close()

    async def dial(self, host: str, port: int) -> None:
        """Connect to the upstream; on failure the client is closed (it sees accept, then EOF)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(
                lambda: _Side(self, reads=self.downstream_link, writes=self.upstream_link),
                host,
                port,
            )
        except (OSError, UnicodeError, ValueError):  # refused, unresolvable, malformed name
            self.close(reset=False)
            return
        if self._closed:
            if self._server is not None:
                self._server.close()
            return
        self.upstream_link.connected()
        self.downstream_link.connected()

    def link_finished(self, link: Link) -> None:
        """The end of ``link``'s stream reached its destination: close that socket, and let the
        end of stream flow through the other link."""
        if link.done:
            return
        link.done = True
        if link.dest is not None:
            link.dest.close()
        other = self.downstream_link if link is self.upstream_link else self.upstream_link
        if other.done:
            self.close(reset=False)
        elif other.dest is None:
            other.done = True
            self.close(reset=False)
        else:
            other.feed_eof()

    def close(self, *, reset: bool) -> None:
        """Close both sockets now. ``reset`` sends a TCP RST (SO_LINGER 0) to both peers;
        otherwise what was already written is flushed, then FIN."""
        if self._closed:
            return
        self._closed = True
        for link in self.links:
            link.stop()
        for transport in (self._client, self._server):
            if transport is None:
                continue
            if reset:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                transport.abort()
            else:
                transport.close()
        self._on_closed(self)
