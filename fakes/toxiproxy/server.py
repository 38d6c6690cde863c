"""Runs the API and the proxies on one event loop (uvloop when available)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

from fakes.toxiproxy.api import ToxiproxyApi
from fakes.toxiproxy.http import serve_http

__all__ = ["run_server"]


async def _main(host: str, port: int, seed: int, ready_file: Path | None) -> None:
    api = ToxiproxyApi(seed)
    server = await serve_http(api.handle, host, port)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{url_host}:{bound_port}"
    line = json.dumps({"url": url, "port": bound_port, "pid": os.getpid(), "seed": seed})
    print(line, flush=True)
    if ready_file is not None:
        partial = ready_file.with_name(ready_file.name + ".tmp")
        partial.write_text(line + "\n", encoding="utf-8")
        partial.replace(ready_file)  # readers never see half a line
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await api.close()


def run_server(host: str, port: int, seed: int, ready_file: Path | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(_main(host, port, seed, ready_file))
        return
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main(host, port, seed, ready_file))
