"""Each toxic's observable effect on real bytes through a real echo server. Timing assertions
are lower bounds only (a toxic that delays must delay at least so much)."""

from __future__ import annotations

import contextlib
import os
import socket
import time

import pytest

from tests.proxy.conftest import (
    WAIT_S,
    EchoServer,
    ProxyFactory,
    Server,
    connect,
    recv_exactly,
    recv_until_eof,
    round_trip,
)


def _add(server: Server, proxy: dict[str, object], toxic: dict[str, object]) -> None:
    reply = server.request("POST", f"/proxies/{proxy['name']}/toxics", toxic)
    assert reply.status == 200, reply.body


def _delete(server: Server, proxy: dict[str, object], toxic: str) -> None:
    assert server.request("DELETE", f"/proxies/{proxy['name']}/toxics/{toxic}").status == 204


def _timed_round_trip(sock: socket.socket, payload: bytes) -> float:
    started = time.monotonic()
    assert round_trip(sock, payload) == payload
    return time.monotonic() - started


def test_without_toxics_bytes_pass_unchanged(echo: EchoServer, make_proxy: ProxyFactory) -> None:
    payload = os.urandom(1 << 20)
    with connect(make_proxy(echo.address)["listen"]) as sock:
        assert round_trip(sock, payload) == payload


def test_noop_passes_bytes(server: Server, echo: EchoServer, make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "noop", "stream": "upstream"})
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"noop") == b"noop"


def test_latency_delays_each_direction_and_adds_up(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "latency", "attributes": {"latency": 150}})
    _add(server, proxy, {"type": "latency", "name": "up", "stream": "upstream",
                         "attributes": {"latency": 100}})  # fmt: skip
    with connect(proxy["listen"]) as sock:
        assert _timed_round_trip(sock, b"slow") >= 0.25
        # Several writes come back complete and in order.
        for index in range(3):
            sock.sendall(f"<{index}>".encode())
        assert recv_exactly(sock, 9) == b"<0><1><2>"


def test_toxics_apply_to_open_connections(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"before") == b"before"
        _add(server, proxy, {"type": "latency", "attributes": {"latency": 200}})
        assert _timed_round_trip(sock, b"during") >= 0.2
        _delete(server, proxy, "latency_downstream")
        assert round_trip(sock, b"after") == b"after"
        _add(server, proxy, {"type": "limit_data", "attributes": {"bytes": 0}})
        sock.sendall(b"x")
        assert recv_until_eof(sock) == b""


def test_bandwidth_limits_the_rate(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "bandwidth", "attributes": {"rate": 100}})  # 100 KB/s
    payload = os.urandom(50_000)
    with connect(proxy["listen"]) as sock:
        assert _timed_round_trip(sock, payload) >= 0.4  # 50 kB at 100 KB/s: 0.5 s


def test_slow_close_delays_the_end_of_stream(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "slow_close", "attributes": {"delay": 300}})
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"bye") == b"bye"
        started = time.monotonic()
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""
        assert time.monotonic() - started >= 0.3


def test_timeout_zero_black_holes_data(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}})
    with connect(proxy["listen"]) as sock:
        sock.sendall(b"lost")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(10)


def test_timeout_closes_after_the_idle_time(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "timeout", "stream": "upstream", "attributes": {"timeout": 200}})
    with connect(proxy["listen"]) as sock:
        started = time.monotonic()
        sock.sendall(b"lost")
        assert recv_until_eof(sock) == b""
        assert time.monotonic() - started >= 0.2


def test_removing_a_timeout_closes_its_connections(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"ok") == b"ok"
        _add(server, proxy, {"type": "timeout", "attributes": {"timeout": 0}})
        _delete(server, proxy, "timeout_downstream")
        assert recv_until_eof(sock) == b""


def test_reset_peer_resets_the_connection(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "reset_peer", "stream": "upstream",
                         "attributes": {"timeout": 0}})  # fmt: skip
    with connect(proxy["listen"]) as sock:
        sock.sendall(b"reset me")
        with pytest.raises(ConnectionResetError):
            while sock.recv(10):
                pass


def test_slicer_delivers_the_same_bytes(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    attributes = {"average_size": 3, "size_variation": 1, "delay": 100}
    _add(server, proxy, {"type": "slicer", "attributes": attributes})
    _add(server, proxy, {"type": "slicer", "name": "up", "stream": "upstream",
                         "attributes": attributes})  # fmt: skip
    payload = os.urandom(600)
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, payload) == payload


def test_limit_data_closes_after_the_limit(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "limit_data", "attributes": {"bytes": 10}})
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"1234567") == b"1234567"
        sock.sendall(b"89abcde")
        assert recv_until_eof(sock) == b"89a"


def test_toxicity_zero_has_no_effect(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    _add(server, proxy, {"type": "timeout", "toxicity": 0, "attributes": {"timeout": 0}})
    _add(server, proxy, {"type": "limit_data", "toxicity": 0, "attributes": {"bytes": 0}})
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"untouched") == b"untouched"


def test_disabled_proxy_drops_and_refuses(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    path = f"/proxies/{proxy['name']}"
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"up") == b"up"
        assert server.request("POST", path, {"enabled": False}).status == 200
        with contextlib.suppress(ConnectionResetError):  # a reset is also a drop
            assert recv_until_eof(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(proxy["listen"])
    assert server.request("POST", path, {"enabled": True}).status == 200
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"back") == b"back"


def test_unreachable_upstream_accepts_then_closes(make_proxy: ProxyFactory) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    with connect(make_proxy(dead)["listen"]) as sock:
        sock.settimeout(WAIT_S)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(10) == b""
