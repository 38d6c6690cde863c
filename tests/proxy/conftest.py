"""The server the conformance suite runs against: ``TOXIPROXY_URL`` if set, else a
``toxiproxy-server`` on PATH, else the built-in ``python -m ackguard.fakes.toxiproxy`` (subprocesses
started here on a free loopback port). Plus a real echo server to carry bytes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

WAIT_S = 10.0  # every wait in this suite is bounded by this


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Server:
    url: str
    host: str
    port: int
    builtin: bool

    def request(
        self, method: str, path: str, body: object = None, raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:  # fmt: skip
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
                return Reply(answer.status, answer.read(), dict(answer.headers.items()))
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.read(), dict(error.headers.items()))

    def client(self) -> Toxiproxy:
        APIConsumer.host = self.host
        APIConsumer.port = self.port
        return Toxiproxy()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_version(url: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/version", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no Toxiproxy API at {url}")


def start_builtin(tmp: Path, seed: int = 7) -> tuple[subprocess.Popen[bytes], str]:
    ready = tmp / f"proxy-{seed}-{time.monotonic_ns()}.ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "ackguard.fakes.toxiproxy", "--port", "0", "--seed", str(seed),
         "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + WAIT_S * 3
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the built-in proxy did not start")
        time.sleep(0.02)
    url = str(json.loads(ready.read_text())["url"])
    return process, url


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(WAIT_S)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    process: subprocess.Popen[bytes] | None = None
    url = os.environ.get("TOXIPROXY_URL", "").strip().rstrip("/")
    binary = shutil.which("toxiproxy-server")
    if url:
        builtin = False
    elif binary is not None:
        port = _free_port()
        process = subprocess.Popen(
            [binary, "-host", "127.0.0.1", "-port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        builtin = False
    else:
        process, url = start_builtin(tmp_path_factory.mktemp("toxiproxy"))
        builtin = True
    _wait_version(url)
    host, port_text = url.split("//", 1)[1].rsplit(":", 1)
    found = Server(url, host, int(port_text), builtin)
    if not builtin:
        version = found.request("GET", "/version").body
        found.builtin = b"ackguard" in version
    try:
        yield found
    finally:
        if process is not None:
            stop_process(process)


@pytest.fixture
def builtin_server(server: Server) -> Server:
    if not server.builtin:
        pytest.skip("project-only behaviour of the built-in proxy")
    return server


class EchoServer:
    """A threaded TCP echo server on loopback; every socket it opens is closed at stop()."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.accepted = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(conn)
            self.accepted.release()
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            for conn in self._sockets:
                conn.close()
        self._thread.join(WAIT_S)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    found = EchoServer()
    try:
        yield found
    finally:
        found.stop()


ProxyFactory = Callable[..., dict[str, object]]


@pytest.fixture
def make_proxy(server: Server, request: pytest.FixtureRequest) -> Iterator[ProxyFactory]:
    """Creates proxies with names unique to the test (raw API); deletes them afterwards."""
    made: list[str] = []

    def make(upstream: str, suffix: str = "", **extra: object) -> dict[str, object]:
        name = f"{request.node.name[:40]}{suffix}".replace("[", "_").replace("]", "_")
        reply = server.request(
            "POST", "/proxies",
            {"name": name, "upstream": upstream, "listen": "127.0.0.1:0", **extra},
        )  # fmt: skip
        assert reply.status == 201, reply.body
        made.append(name)
        proxy = reply.json()
        assert isinstance(proxy, dict)
        return proxy

    try:
        yield make
    finally:
        for name in made:
            server.request("DELETE", f"/proxies/{name}")


def connect(listen: object) -> socket.socket:
    host, port = str(listen).rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=WAIT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    got = b""
    while len(got) < count:
        data = sock.recv(count - len(got))
        if not data:
            break
        got += data
    return got


def recv_until_eof(sock: socket.socket, limit: int = 1 << 24) -> bytes:
    got = b""
    while len(got) < limit:
        data = sock.recv(65536)
        if not data:
            return got
        got += data
    raise AssertionError("no EOF")


def round_trip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    return recv_exactly(sock, len(payload))
