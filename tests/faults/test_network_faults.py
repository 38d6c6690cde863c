"""The toxic and partition fault kinds, through the run's proxy server (the built-in one here),
with real bytes through a real echo server."""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.faults import partition, toxic
from ackguard.harness.faults.base import FaultConfigError, FaultKind
from ackguard.harness.services.proxy import ProxyServer, start_proxy
from tests.proxy.conftest import EchoServer, connect, recv_until_eof, round_trip


class Components:
    def __init__(self, **components: object) -> None:
        self._components = components

    def component(self, name: str) -> Any:
        return self._components[name]


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        (toxic.KIND, {"proxy": "service", "type": "bandwidth", "attributes": {"rate": 0}},
         "attributes.rate"),
        (toxic.KIND, {"proxy": "service", "type": "bandwidth"}, "attributes.rate"),
        (toxic.KIND, {"proxy": "service", "type": "latency", "attributes": {"latency": "1s"}},
         "attributes.latency"),
        (toxic.KIND, {"proxy": "service", "type": "latency", "attributes": {"delay": 1}},
         "attributes.delay"),
        (toxic.KIND, {"proxy": "service", "type": "slicer",
                      "attributes": {"average_size": 2, "size_variation": 2}},
         "attributes.size_variation"),
        (toxic.KIND, {"proxy": "service", "type": "cut"}, "attributes.after_ms"),
        (toxic.KIND, {"proxy": "service", "type": "latency", "attributes": [1]}, "attributes"),
        (toxic.KIND, {"proxy": "service", "type": "lag"}, "type"),
        (toxic.KIND, {"proxy": "cache", "type": "latency"}, "proxy"),
        (toxic.KIND, {"proxy": "service", "type": "noop", "stream": "both"}, "stream"),
        (toxic.KIND, {"proxy": "service", "type": "noop", "toxicity": 2}, "toxicity"),
        (toxic.KIND, {"proxy": "service", "type": "noop", "extra": 1}, "extra"),
        (partition.KIND, {"proxy": "nowhere"}, "proxy"),
        (partition.KIND, {"proxy": "service", "for": "1s"}, "for"),
    ],
)  # fmt: skip
def test_bad_params_name_the_field(kind: FaultKind, params: Mapping[str, Any], field: str) -> None:
    with pytest.raises(FaultConfigError) as raised:
        kind.build(Components(), params)
    assert raised.value.field == field


def test_a_valid_toxic_describes_itself_with_units() -> None:
    fault = toxic.KIND.build(
        Components(), {"proxy": "database", "type": "latency", "attributes": {"latency": 250}}
    )
    assert "latency=250 ms" in fault.description
    assert "database" in fault.description


@pytest.fixture
def proxy_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProxyServer]:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no toxiproxy-server: the built-in one
    server = start_proxy(tmp_path, seed=11)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    found = EchoServer()
    try:
        yield found
    finally:
        found.stop()


def test_start_proxy_runs_the_built_in_server(proxy_server: ProxyServer, echo: EchoServer) -> None:
    assert proxy_server.kind == "built-in"
    assert proxy_server.pid is not None
    listen = proxy_server.create("service", echo.address)
    assert listen.startswith("127.0.0.1:")
    assert proxy_server.client.get_proxy("service") is not None
    with connect(listen) as sock:
        assert round_trip(sock, b"through") == b"through"


def test_close_stops_the_server_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    server = start_proxy(tmp_path, seed=1)
    url = server.url
    server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/version", timeout=5)


def test_external_server_keeps_running_and_loses_only_our_proxies(
    proxy_server: ProxyServer, echo: EchoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_server.create("someone_else", echo.address)
    monkeypatch.setenv("TOXIPROXY_URL", proxy_server.url)
    external = start_proxy(tmp_path / "other", seed=2)
    assert external.kind == "external"
    external.create("service", echo.address)
    external.close()
    names = set(proxy_server.client.proxies())
    assert names == {"someone_else"}


def test_toxic_fault_adds_and_removes_a_toxic(proxy_server: ProxyServer, echo: EchoServer) -> None:
    listen = proxy_server.create("service", echo.address)
    context = Components(proxy=proxy_server)
    fault = toxic.KIND.build(
        context, {"proxy": "service", "type": "latency", "attributes": {"latency": 200}}
    )
    with connect(listen) as sock:
        assert round_trip(sock, b"fast") == b"fast"
        fault.start()
        started = time.monotonic()
        assert round_trip(sock, b"slow") == b"slow"
        assert time.monotonic() - started >= 0.2
        assert len(proxy_server.client.get_proxy("service").toxics()) == 1
        fault.stop()
        fault.stop()  # idempotent
        assert proxy_server.client.get_proxy("service").toxics() == {}


def test_toxic_fault_limit_data_cuts_real_traffic(
    proxy_server: ProxyServer, echo: EchoServer
) -> None:
    listen = proxy_server.create("database", echo.address)
    fault = toxic.KIND.build(
        Components(proxy=proxy_server),
        {"proxy": "database", "type": "limit_data", "stream": "downstream",
         "attributes": {"bytes": 3}},
    )  # fmt: skip
    fault.stop()  # before start: nothing to heal, no error
    fault.start()
    try:
        with connect(listen) as sock:
            sock.sendall(b"abcdef")
            assert recv_until_eof(sock) == b"abc"
    finally:
        fault.stop()


def test_partition_drops_refuses_then_heals(proxy_server: ProxyServer, echo: EchoServer) -> None:
    listen = proxy_server.create("service", echo.address)
    fault = partition.KIND.build(Components(proxy=proxy_server), {"proxy": "service"})
    with connect(listen) as sock:
        assert round_trip(sock, b"up") == b"up"
        fault.start()
        with contextlib.suppress(ConnectionResetError):
            assert recv_until_eof(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(listen)
    fault.stop()
    fault.stop()
    with connect(listen) as sock:
        assert round_trip(sock, b"healed") == b"healed"


def test_faults_on_a_missing_path_say_so(proxy_server: ProxyServer) -> None:
    fault = partition.KIND.build(Components(proxy=proxy_server), {"proxy": "database"})
    with pytest.raises(RuntimeError, match="no 'database' proxy"):
        fault.start()
