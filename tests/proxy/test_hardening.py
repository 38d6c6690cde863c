"""Bad input as a user or a client library sends it never wedges the built-in proxy, nothing
listens beyond loopback, and its command line is toxiproxy-server's (skipped against a real
toxiproxy-server where the behaviour is the built-in proxy's own)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ackguard.harness.scenario_checks import real_proxy_reason
from tests.proxy.conftest import (
    WAIT_S,
    EchoServer,
    ProxyFactory,
    Server,
    connect,
    recv_exactly,
    round_trip,
    stop_process,
)

UNSAFE_DEFAULTS = [
    ("slicer", "average_size"),
    ("bandwidth", "rate"),
    ("cut", "after_ms"),
]


def _error(reply_body: bytes) -> str:
    answer = json.loads(reply_body)  # never invalid JSON, also for errors
    assert isinstance(answer, dict)
    return str(answer["error"])


@pytest.mark.parametrize(("kind", "attribute"), UNSAFE_DEFAULTS)
@pytest.mark.parametrize("shape", ["omitted", "null", "partial"])
def test_an_unsafe_default_is_a_400_naming_the_attribute_whatever_the_body_shape(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory,
    kind: str, attribute: str, shape: str,
) -> None:  # fmt: skip
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    body: dict[str, object] = {"type": kind}
    if shape == "null":
        body["attributes"] = None
    elif shape == "partial":
        body["attributes"] = {"delay": 5} if kind == "slicer" else {"unrelated": 1}
    reply = builtin_server.request("POST", base, body)
    assert reply.status == 400
    assert _error(reply.body).startswith(f"invalid attribute {attribute}:")
    assert builtin_server.request("GET", base).json() == []


def test_a_safe_default_is_toxiproxys_and_null_attributes_on_update_change_nothing(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    base = f"/proxies/{proxy['name']}/toxics"
    created = builtin_server.request("POST", base, {"type": "latency", "attributes": None})
    assert created.status == 200
    assert created.json()["attributes"] == {"latency": 0, "jitter": 0}  # type: ignore[index]
    updated = builtin_server.request("POST", f"{base}/latency_downstream", {"attributes": None})
    assert updated.status == 200
    assert updated.json() == created.json()
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"still flowing") == b"still flowing"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "noop", "toxicity": NaN}',
        b'{"type": "noop", "toxicity": Infinity}',
        b'{"type": "noop", "toxicity": -Infinity}',
        b'{"type": "noop", "toxicity": 1e999}',
        b'{"type": "noop", "toxicity": 1.5}',
        b'{"type": "noop", "toxicity": -0.01}',
        b'{"type": "latency", "attributes": {"latency": ' + b"9" * 5000 + b"}}",
        b'{"type": "latency", "attributes": {"latency": 99999999999}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"type": "noop", "attributes": ' + b'{"a": ' * 60 + b"1" + b"}" * 61,
    ],
    ids=[
        "nan",
        "inf",
        "-inf",
        "overflow",
        "above-1",
        "below-0",
        "5000-digits",
        "huge",
        "deep-array",
        "deep-object",
    ],
)
def test_non_finite_out_of_range_and_deep_bodies_are_400(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory, raw: bytes
) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    reply = builtin_server.request("POST", base, raw=raw)
    assert reply.status == 400, reply.body
    assert _error(reply.body)
    assert builtin_server.request("GET", base).json() == []
    listen = b'"127.0.0.1:' + b"9" * 5000 + b'"'
    port = builtin_server.request(
        "POST",
        "/proxies",
        raw=b'{"name": "p", "upstream": "127.0.0.1:1", "listen": ' + listen + b"}",
    )
    assert port.status == 400
    assert "invalid port" in _error(port.body)


def test_a_toxic_can_be_updated_to_a_bad_toxicity_never(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    created = builtin_server.request("POST", base, {"type": "noop", "toxicity": 0.5})
    for raw in (b'{"toxicity": NaN}', b'{"toxicity": 2}', b'{"toxicity": "x"}'):
        assert builtin_server.request("POST", f"{base}/noop_downstream", raw=raw).status == 400
    assert builtin_server.request("GET", f"{base}/noop_downstream").json() == created.json()


@pytest.mark.parametrize("upstream", ["unreachable.invalid:80", "127.0.0.1:99999", "no-port"])
def test_an_unresolvable_upstream_closes_the_client_at_once(
    server: Server, make_proxy: ProxyFactory, upstream: str
) -> None:
    proxy = make_proxy(upstream)
    with connect(proxy["listen"]) as sock:  # times out after WAIT_S instead of hanging
        sock.sendall(b"hello")
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1) == b""


@pytest.mark.parametrize("listen", ["192.0.2.1:0", "[2001:db8::1]:0"])
def test_a_non_loopback_listen_is_a_400_naming_the_address_everywhere(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory, listen: str
) -> None:
    host = listen.rsplit(":", 1)[0].strip("[]")
    body = {"name": "outside", "upstream": echo.address, "listen": listen}
    for method, path, payload in (
        ("POST", "/proxies", body),
        ("POST", "/proxies", {**body, "enabled": False}),
        ("POST", "/populate", [body]),
        ("POST", f"/proxies/{make_proxy(echo.address)['name']}", {"listen": listen}),
    ):
        reply = builtin_server.request(method, path, payload)
        assert reply.status == 400, (path, reply.body)
        assert f"{host} is not a loopback address" in _error(reply.body)
        assert "--allow-non-loopback" in _error(reply.body)
    assert "outside" not in builtin_server.request("GET", "/proxies").json()  # type: ignore[operator]


def test_the_api_refuses_too_many_and_too_large_headers_and_keeps_answering(
    builtin_server: Server,
) -> None:
    many = {f"X-Header-{number}": "x" for number in range(200)}
    assert builtin_server.request("GET", "/version", headers=many).status == 431
    huge = {"X-Huge": "x" * 70_000}
    assert builtin_server.request("GET", "/version", headers=huge).status in (431, 414)
    assert builtin_server.request("GET", "/version").status == 200


def test_the_built_in_proxy_lists_its_toxic_types_and_the_harness_asks_it(
    builtin_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = builtin_server.request("GET", "/ackguard/toxic-types").json()
    assert isinstance(listed, dict)
    types = {entry["type"] for entry in listed["types"]}
    assert {"latency", "slicer", "pg_commit_ack_drop", "cut"} <= types
    monkeypatch.setenv("TOXIPROXY_URL", builtin_server.url)
    assert real_proxy_reason() is None


class _NotToxiproxy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # a real Toxiproxy: 404 for paths it does not know
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_without_the_list_counts_as_a_real_toxiproxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotToxiproxy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("TOXIPROXY_URL", f"http://127.0.0.1:{httpd.server_address[1]}")
        assert real_proxy_reason() == "TOXIPROXY_URL is set"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(WAIT_S)


def test_a_sub_millisecond_slicer_delay_is_kept(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    builtin_server.request("POST", f"/proxies/{proxy['name']}/toxics", {
        "type": "slicer", "stream": "upstream",
        "attributes": {"average_size": 64, "size_variation": 0, "delay": 200},
    })  # fmt: skip
    payload = os.urandom(64 * 1024)
    with connect(proxy["listen"]) as sock:
        started = time.perf_counter()
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        elapsed = time.perf_counter() - started
    # A lower bound only (load can only make it slower): 1024 pieces, a 200 us pause between
    # consecutive ones of a chunk; the proxy reads 64 KiB in a handful of chunks. Without the
    # pauses this takes ~20 ms.
    assert elapsed >= 0.9 * 1000 * 200e-6


# -- the command line --------------------------------------------------------------------------


def _proxy_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ackguard.fakes.toxiproxy", *args]


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        yield processes
    finally:
        for process in processes:
            stop_process(process)
            if process.stdout is not None:
                process.stdout.close()


def _wait_ready(process: subprocess.Popen[bytes]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()  # the ready line; EOF if it exited
    assert line, "the proxy exited before it was ready"
    ready = json.loads(line)
    assert isinstance(ready, dict)
    return ready


def test_toxiproxy_server_flags_work_as_they_are(
    tmp_path: Path, echo: EchoServer, free_port: int, started: list[subprocess.Popen[bytes]]
) -> None:
    version = subprocess.run(_proxy_command("-version"), capture_output=True, timeout=60)
    assert version.returncode == 0
    assert version.stdout.startswith(b"toxiproxy-server version ")
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from_config", "upstream": echo.address,
                                   "listen": "127.0.0.1:0"}]))  # fmt: skip
    process = subprocess.Popen(
        _proxy_command("-host", "127.0.0.1", "-port", str(free_port), "-seed", "3",
                       "-config", str(config)),
        stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    started.append(process)
    ready = _wait_ready(process)
    assert (ready["port"], ready["seed"]) == (free_port, 3)
    api = Server(f"http://127.0.0.1:{free_port}", "127.0.0.1", free_port, True)
    proxy = api.request("GET", "/proxies/from_config").json()
    assert isinstance(proxy, dict)
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"configured") == b"configured"


def test_a_busy_port_or_a_bad_config_is_one_line_and_a_failure_exit(
    tmp_path: Path, free_port: int, started: list[subprocess.Popen[bytes]]
) -> None:
    bad_config = tmp_path / "bad.json"
    bad_config.write_text('[{"name": "x"}]')
    with socket.create_server(("127.0.0.1", 0)) as busy:
        busy_port = str(busy.getsockname()[1])
        for args in (
            ("-host", "127.0.0.1", "-port", busy_port),
            ("-port", str(free_port), "-config", str(bad_config)),
            ("-port", str(free_port), "-config", str(tmp_path / "missing.json")),
            ("-host", "192.0.2.1", "-port", "0"),
        ):
            result = subprocess.run(_proxy_command(*args), capture_output=True, timeout=60)
            assert result.returncode != 0, args
            lines = result.stderr.decode().strip().splitlines()
            assert len(lines) == 1, (args, result.stderr)
            assert lines[0].startswith("ackguard proxy: "), lines
            assert "Traceback" not in lines[0]


def test_allow_non_loopback_lets_a_proxy_listen_on_every_interface(
    tmp_path: Path, echo: EchoServer, started: list[subprocess.Popen[bytes]]
) -> None:
    process = subprocess.Popen(
        _proxy_command("-port", "0", "--allow-non-loopback"),
        stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    started.append(process)
    ready = _wait_ready(process)
    api = Server(str(ready["url"]), "127.0.0.1", int(str(ready["port"])), True)
    reply = api.request(
        "POST", "/proxies", {"name": "wide", "upstream": echo.address, "listen": "0.0.0.0:0"}
    )
    assert reply.status == 201, reply.body
    listen = str(reply.json()["listen"])  # type: ignore[index]
    assert listen.startswith("0.0.0.0:")
    with connect("127.0.0.1:" + listen.rsplit(":", 1)[1]) as sock:
        assert round_trip(sock, b"wide") == b"wide"
