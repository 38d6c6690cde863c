"""The fault proxy a run puts between practitioners and the service, and between the service and
its database. Three sources, in order of preference:

1. ``TOXIPROXY_URL`` (e.g. ``http://127.0.0.1:8474``): a server somebody else runs. Only the
   proxies this run creates are deleted at the end.
2. ``toxiproxy-server`` on PATH: started on a free loopback port, stopped at the end.
3. The built-in ``python -m ackguard.fakes.toxiproxy --seed N``: started the same way (same API).

All three are driven through the ``toxiproxy-python`` client.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

from ackguard.harness.services.ports import free_port
from ackguard.harness.services.process import ManagedProcess, ProcessStartError, log_tail

__all__ = ["TOXIC_TYPES_PATH", "ProxyError", "ProxyServer", "start_proxy", "toxic_types"]

_READY_TIMEOUT_S = 30.0
TOXIC_TYPES_PATH = "/ackguard/toxic-types"
"""Where the built-in proxy lists its toxic types; a real Toxiproxy answers 404 there."""


class ProxyError(RuntimeError):
    """The proxy could not be started or refused a request (the message says why)."""


class ProxyServer:
    """A Toxiproxy API server and the proxies this run created on it."""

    def __init__(self, url: str, kind: str, process: ManagedProcess | None = None) -> None:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ProxyError(f"proxy URL {url!r} needs a host and a port")
        self.url = url.rstrip("/")
        self.host = parts.hostname
        self.port = parts.port
        self.kind = kind
        """``external`` (TOXIPROXY_URL), ``toxiproxy-server`` or ``built-in``."""
        self._process = process
        self._created: list[str] = []

    @property
    def client(self) -> Toxiproxy:
        """A ``toxiproxy.Toxiproxy`` client aimed at this server. The client library keeps its
        address in class attributes, so it is re-aimed on every access."""
        APIConsumer.host = self.host
        APIConsumer.port = self.port
        return Toxiproxy()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def create(self, name: str, upstream: str) -> str:
        """Create proxy ``name`` to ``upstream`` on a free loopback port; return its listen
        address (``127.0.0.1:PORT``). A proxy of that name left by an earlier run on an
        external server is replaced."""
        client = self.client
        stale = client.get_proxy(name)
        if stale is not None:
            stale.destroy()
        try:
            proxy = client.create(upstream=upstream, name=name, listen="127.0.0.1:0")
        except KeyError as exc:  # the client parses error bodies as if they were proxies
            raise ProxyError(f"the proxy server refused to create {name!r}: {exc}") from exc
        self._created.append(name)
        return str(proxy.listen)

    def close(self) -> None:
        """Delete the proxies created here (external server) or stop the server we started.
        Never raises."""
        if self._process is not None:
            self._process.terminate()
            return
        for name in self._created:
            with contextlib.suppress(Exception):
                found = self.client.get_proxy(name)
                if found is not None:
                    found.destroy()
        self._created.clear()


def toxic_types(url: str, timeout: float = 2.0) -> frozenset[str] | None:
    """The toxic types the proxy server at ``url`` says it supports; None when it does not say
    (a real Toxiproxy has no such list) or does not answer."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + TOXIC_TYPES_PATH, timeout=timeout) as answer:
            listed = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    types = listed.get("types") if isinstance(listed, dict) else None
    if not isinstance(types, list):
        return None
    return frozenset(str(entry.get("type")) for entry in types if isinstance(entry, dict))


def _wait_version(url: str, process: ManagedProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/version", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if not process.alive:
            raise ProxyError(f"toxiproxy-server exited:\n{log_tail(process.log_path)}")
        if time.monotonic() > deadline:
            process.terminate()
            raise ProxyError(f"toxiproxy-server not answering at {url} after {timeout:g} s")
        time.sleep(0.05)


def start_proxy(run_dir: Path, seed: int) -> ProxyServer:
    """Start (or reach) the fault proxy for a run whose files live in ``run_dir``."""
    external = os.environ.get("TOXIPROXY_URL", "").strip()
    if external:
        return ProxyServer(external, "external")
    log_path = run_dir / "proxy.log"
    binary = shutil.which("toxiproxy-server")
    if binary is not None:
        port = free_port()
        process = ManagedProcess(
            [binary, "-host", "127.0.0.1", "-port", str(port), "-seed", str(seed)],
            cwd=run_dir,
            log_path=log_path,
        )
        process.start()
        url = f"http://127.0.0.1:{port}"
        _wait_version(url, process, _READY_TIMEOUT_S)
        return ProxyServer(url, "toxiproxy-server", process)
    ready = run_dir / "proxy.ready"
    argv = [sys.executable, "-m", "ackguard.fakes.toxiproxy", "--port", "0", "--seed", str(seed)]
    process = ManagedProcess(
        [*argv, "--ready-file", str(ready)],
        cwd=run_dir,
        log_path=log_path,
        ready_file=ready,
        ready_timeout=_READY_TIMEOUT_S,
    )
    try:
        info = process.start()
    except ProcessStartError as exc:
        raise ProxyError(str(exc)) from exc
    return ProxyServer(str(info["url"]), "built-in", process)
