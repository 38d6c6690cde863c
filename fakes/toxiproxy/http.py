"""A small HTTP/1.1 server for the API (keep-alive, Content-Length and chunked request bodies),
on the same event loop as the proxies so that API calls and byte forwarding never race."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from ackguard.fakes.toxiproxy.api import Response

__all__ = ["Dispatch", "serve_http"]

Dispatch = Callable[[str, str, bytes], Awaitable[Response]]
_MAX_BODY = 16 * 1024 * 1024
_HEADER_LIMIT = 64 * 1024  # one line, and all header lines of a request together
_MAX_HEADERS = 100
_DISCARD_S = 0.2  # after a refusal, how long unread request bytes are drained before closing


class _BadRequest(Exception):
    pass


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()).strip():
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise _BadRequest("body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or "0")
    if length < 0 or length > _MAX_BODY:
        raise _BadRequest("bad content length")
    return await reader.readexactly(length) if length else b""


def _encode(response: Response, keep_alive: bool) -> bytes:
    reason = HTTPStatus(response.status).phrase
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    if response.content_type:
        lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append(f"X-Toxiproxy-Request-Id: {secrets.token_hex(10)}")
    lines.extend(f"{key}: {value}" for key, value in response.headers.items())
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


async def _refuse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int, text: str
) -> None:
    """Answer ``status`` and close; the rest of the request is read and dropped for a moment
    first, so that the client gets the answer rather than a reset."""
    writer.write(_encode(Response(status, f"{text}\n".encode(), "text/plain"), False))
    await writer.drain()
    deadline = asyncio.get_running_loop().time() + _DISCARD_S
    with contextlib.suppress(TimeoutError, ConnectionError):
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if not await asyncio.wait_for(reader.read(_HEADER_LIMIT), left):
                return


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str] | None:
    """The request's headers by lower-cased name; None when over the count or size limit."""
    headers: dict[str, str] = {}
    count = size = 0
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # one line longer than the stream's limit
            return None
        if line in (b"\r\n", b"\n", b""):
            return headers
        count += 1
        size += len(line)
        if count > _MAX_HEADERS or size > _HEADER_LIMIT:
            return None
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()


async def _serve_one(
    dispatch: Dispatch, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while True:
        try:
            request_line = await reader.readline()
        except ValueError:
            await _refuse(reader, writer, 414, "request line too long")
            return
        if not request_line.strip():
            return
        parts = request_line.decode("latin-1").split()
        if len(parts) != 3:
            writer.write(_encode(Response(400, b"bad request\n", "text/plain"), False))
            return
        method, target, version = parts
        headers = await _read_headers(reader)
        if headers is None:
            limits = f"at most {_MAX_HEADERS} headers and {_HEADER_LIMIT} bytes of them"
            await _refuse(reader, writer, 431, f"request header fields too large: {limits}")
            return
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            payload = await _read_body(reader, headers)
        except (_BadRequest, ValueError):
            writer.write(_encode(Response(400, b"bad request\n", "text/plain"), False))
            return
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        if headers.get("user-agent", "").startswith("Mozilla/"):
            response = Response(403, b"User agent not allowed\n", "text/plain; charset=utf-8")
        else:
            response = await dispatch(method.upper(), urlsplit(target).path, payload)
        writer.write(_encode(response, keep_alive))
        await writer.drain()
        if not keep_alive:
            return


async def serve_http(dispatch: Dispatch, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` (0 = a free port) and answer with ``dispatch``."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_one(dispatch, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(client, host, port, limit=_HEADER_LIMIT)
