"""How much the fault proxy costs: added round-trip latency and one-connection throughput,
measured side by side with a direct loopback connection in the same run.

Targets: <= 150 us median added round trip, >= 300 MB/s through a proxy without toxics.

example:
  .venv/bin/python bench/bench_proxy.py                      # the built-in proxy
  .venv/bin/python bench/bench_proxy.py --rounds 5000 --megabytes 1000
  TOXIPROXY_URL=http://127.0.0.1:8474 .venv/bin/python bench/bench_proxy.py --url-from-env
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

_WAIT_S = 30.0
_BLOCK = 1 << 20


class _Servers:
    """An echo server and a sink (counts bytes, discards them) on loopback threads."""

    def __init__(self) -> None:
        self.echo = socket.create_server(("127.0.0.1", 0))
        self.sink = socket.create_server(("127.0.0.1", 0))
        self.sink_done = threading.Event()
        self.sink_target = 0
        for listener, handler in ((self.echo, self._echo), (self.sink, self._sink)):
            threading.Thread(target=self._accept, args=(listener, handler), daemon=True).start()

    @staticmethod
    def _accept(listener: socket.socket, handler: Callable[[socket.socket], None]) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def _sink(self, conn: socket.socket) -> None:
        buffer = bytearray(_BLOCK)
        got = 0
        with conn:
            while got < self.sink_target:
                count = conn.recv_into(buffer)
                if count == 0:
                    break
                got += count
        self.sink_done.set()

    def close(self) -> None:
        for listener in (self.echo, self.sink):
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()


def _address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def _round_trips(address: str, rounds: int, size: int) -> list[float]:
    host, port = address.rsplit(":", 1)
    payload = b"p" * size
    times: list[float] = []
    with socket.create_connection((host, int(port)), timeout=_WAIT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            started = time.perf_counter()
            sock.sendall(payload)
            got = 0
            while got < size:
                chunk = sock.recv(size - got)
                if not chunk:
                    raise RuntimeError("connection closed during the round trips")
                got += len(chunk)
            times.append(time.perf_counter() - started)
    return times


def _throughput(servers: _Servers, address: str, megabytes: int) -> float:
    total = megabytes * _BLOCK
    servers.sink_target = total
    servers.sink_done.clear()
    block = os.urandom(_BLOCK)
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=_WAIT_S) as sock:
        started = time.perf_counter()
        for _ in range(megabytes):
            sock.sendall(block)
        if not servers.sink_done.wait(_WAIT_S):
            raise RuntimeError("the sink did not receive everything in time")
        elapsed = time.perf_counter() - started
    return total / elapsed / 1e6


class _Api:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=_WAIT_S) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def proxy(self, name: str, upstream: str) -> str:
        if self._exists(name):
            self.call("DELETE", f"/proxies/{name}")
        created = self.call("POST", "/proxies", {"name": name, "upstream": upstream,
                                                  "listen": "127.0.0.1:0"})  # fmt: skip
        assert isinstance(created, dict)
        return str(created["listen"])

    def _exists(self, name: str) -> bool:
        proxies = self.call("GET", "/proxies")
        return isinstance(proxies, dict) and name in proxies


def _start_builtin(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = directory / "proxy.ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "ackguard.fakes.toxiproxy", "--port", "0", "--seed", "0",
         "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + _WAIT_S
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the built-in proxy did not start")
        time.sleep(0.02)
    return process, str(json.loads(ready.read_text())["url"])


def _slicer_delay(api: _Api, servers: _Servers, address: str) -> None:
    """64 KiB through a slicer of 64-byte pieces 200 us apart: about 1023 pauses of 200 us."""
    api.call("DELETE", "/proxies/bench_sink/toxics/noop_downstream")
    api.call("POST", "/proxies/bench_sink/toxics", {
        "name": "slicer", "type": "slicer", "stream": "upstream",
        "attributes": {"average_size": 64, "size_variation": 0, "delay": 200},
    })  # fmt: skip
    total = 64 * 1024
    servers.sink_target = total
    servers.sink_done.clear()
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=_WAIT_S) as sock:
        started = time.perf_counter()
        sock.sendall(os.urandom(total))
        if not servers.sink_done.wait(_WAIT_S):
            raise RuntimeError("the sink did not receive the sliced bytes in time")
        elapsed = time.perf_counter() - started
    api.call("DELETE", "/proxies/bench_sink/toxics/slicer")
    pauses = total // 64 - 1
    print("\nslicer, 64 KiB in 64 B pieces, delay 200 us (expected about "
          f"{pauses * 200e-6 * 1000:.0f} ms)")  # fmt: skip
    print(f"  took {elapsed * 1000:8.1f} ms   per piece {_us(elapsed / pauses)}")


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2000, help="round trips per path")
    parser.add_argument("--size", type=int, default=64, help="bytes per ping (default 64)")
    parser.add_argument("--megabytes", type=int, default=500, help="MiB per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs; best is kept")
    parser.add_argument(
        "--url-from-env", action="store_true", help="bench the server at TOXIPROXY_URL"
    )
    options = parser.parse_args()
    servers = _Servers()
    process: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        try:
            if options.url_from_env:
                url = os.environ["TOXIPROXY_URL"]
            else:
                process, url = _start_builtin(Path(tmp))
            api = _Api(url)
            version = api.call("GET", "/version")
            print(f"proxy server: {url} {version}")
            echo_direct = _address(servers.echo)
            sink_direct = _address(servers.sink)
            echo_proxied = api.proxy("bench_echo", echo_direct)
            sink_proxied = api.proxy("bench_sink", sink_direct)

            _round_trips(echo_direct, 200, options.size)  # warm up both paths
            _round_trips(echo_proxied, 200, options.size)
            direct = _round_trips(echo_direct, options.rounds, options.size)
            proxied = _round_trips(echo_proxied, options.rounds, options.size)
            added = statistics.median(proxied) - statistics.median(direct)
            print(f"\nround trip, {options.size} B ping-pong, {options.rounds} rounds each")
            for label, times in (("direct", direct), ("proxied", proxied)):
                p99 = sorted(times)[int(len(times) * 0.99) - 1]
                print(f"  {label:8} median {_us(statistics.median(times))}  p99 {_us(p99)}")
            verdict = "ok" if added <= 150e-6 else "ABOVE TARGET"
            print(f"  added    median {_us(added)}   (target <= 150 us: {verdict})")

            print(f"\nthroughput, one connection, {options.megabytes} MiB, best of "
                  f"{options.repeat}")  # fmt: skip
            rates: dict[str, float] = {}
            for label, address in (("direct", sink_direct), ("proxied", sink_proxied)):
                rates[label] = max(
                    _throughput(servers, address, options.megabytes) for _ in range(options.repeat)
                )
            api.call("POST", "/proxies/bench_sink/toxics", {"type": "noop"})
            rates["noop toxic"] = max(
                _throughput(servers, sink_proxied, options.megabytes) for _ in range(options.repeat)
            )
            for label, rate in rates.items():
                print(f"  {label:10} {rate:8.1f} MB/s")
            verdict = "ok" if rates["proxied"] >= 300 else "BELOW TARGET"
            print(f"  proxied without toxics vs target >= 300 MB/s: {verdict}")
            _slicer_delay(api, servers, sink_proxied)
            print(f"\n(cores: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f})")
            for name in ("bench_echo", "bench_sink"):
                api.call("DELETE", f"/proxies/{name}")
        finally:
            servers.close()
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(_WAIT_S)


if __name__ == "__main__":
    main()
