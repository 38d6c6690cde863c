"""Runs the API and the proxies on one event loop (uvloop when available)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from ackguard.fakes.toxiproxy.api import ToxiproxyApi
from ackguard.fakes.toxiproxy.http import serve_http

__all__ = ["ServerOptions", "StartError", "run_server"]


class StartError(Exception):
    """The server could not start; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8474
    seed: int = 0
    ready_file: Path | None = None
    config: Path | None = None
    """A populate file (a JSON list of proxies) created before the server reports ready."""
    allow_non_loopback: bool = False
    """Let the API and the proxies listen on addresses other than loopback."""


def _check_api_host(host: str, allowed: bool) -> None:
    if allowed:
        return
    try:
        infos = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise StartError(f"-host {host}: cannot resolve: {exc}") from exc
    for info in infos:
        if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback:
            raise StartError(
                f"-host {host}: {info[4][0]} is not a loopback address; the API has no "
                "authentication, pass --allow-non-loopback to listen there anyway"
            )


async def _populate(api: ToxiproxyApi, config: Path) -> None:
    try:
        payload = config.read_bytes()
    except OSError as exc:
        raise StartError(f"-config {config}: {exc.strerror or exc}") from exc
    answer = await api.handle("POST", "/populate", payload)
    if answer.status >= 300:
        text = answer.body.decode("utf-8", errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            text = str(json.loads(text).get("error", text))
        raise StartError(f"-config {config}: {text.strip()}")


async def _main(options: ServerOptions) -> None:
    _check_api_host(options.host, options.allow_non_loopback)
    api = ToxiproxyApi(options.seed, allow_non_loopback=options.allow_non_loopback)
    try:
        server = await serve_http(api.handle, options.host, options.port)
    except OSError as exc:
        reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
        raise StartError(f"cannot listen on {options.host}:{options.port}: {reason}") from exc
    try:
        if options.config is not None:
            await _populate(api, options.config)
        await _serve(api, server, options)
    finally:
        server.close()
        await api.close()


async def _serve(api: ToxiproxyApi, server: asyncio.Server, options: ServerOptions) -> None:
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{url_host}:{bound_port}"
    line = json.dumps({"url": url, "port": bound_port, "pid": os.getpid(), "seed": options.seed})
    print(line, flush=True)
    if options.ready_file is not None:
        partial = options.ready_file.with_name(options.ready_file.name + ".tmp")
        partial.write_text(line + "\n", encoding="utf-8")
        partial.replace(options.ready_file)  # readers never see half a line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def run_server(options: ServerOptions) -> None:
    """Serve until SIGTERM or SIGINT. Raises StartError when the server cannot start."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(_main(options))
        return
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main(options))
