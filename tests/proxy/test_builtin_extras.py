"""Deliberate improvements of the built-in proxy over the reference server (skipped against a
real toxiproxy-server): 400s naming bad attributes, loopback-only listeners, seeded replay."""

from __future__ import annotations

import pytest

from tests.proxy.conftest import EchoServer, ProxyFactory, Server, connect, round_trip

BAD_ATTRIBUTES = [
    ("bandwidth", {"rate": 0}, "rate"),
    ("bandwidth", {"rate": -5}, "rate"),
    ("bandwidth", {}, "rate"),
    ("slicer", {"average_size": 0}, "average_size"),
    ("slicer", {"average_size": 4, "size_variation": 4}, "size_variation"),
    ("slicer", {"average_size": 4, "delay": -1}, "delay"),
    ("latency", {"latency": -1}, "latency"),
    ("latency", {"jitter": -1}, "jitter"),
    ("slow_close", {"delay": -1}, "delay"),
    ("timeout", {"timeout": -1}, "timeout"),
    ("reset_peer", {"timeout": -1}, "timeout"),
    ("limit_data", {"bytes": -1}, "bytes"),
    ("pg_commit_ack_drop", {"every": -1}, "every"),
    ("cut", {}, "after_ms"),
    ("cut", {"after_messages": -2}, "after_messages"),
]


@pytest.mark.parametrize(("kind", "attributes", "attribute"), BAD_ATTRIBUTES)
def test_bad_attribute_values_are_a_400_naming_the_attribute(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory,
    kind: str, attributes: dict[str, int], attribute: str,
) -> None:  # fmt: skip
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    reply = builtin_server.request("POST", base, {"type": kind, "attributes": attributes})
    assert reply.status == 400
    error = reply.json()
    assert isinstance(error, dict)
    assert str(error["error"]).startswith(f"invalid attribute {attribute}:")
    assert builtin_server.request("GET", base).json() == []


def test_wrong_types_and_bad_updates_are_400_and_change_nothing(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    for value in ("fast", 1.5, True, [1]):
        reply = builtin_server.request("POST", base, {"type": "bandwidth",
                                                      "attributes": {"rate": value}})  # fmt: skip
        assert reply.status == 400
        assert "BandwidthToxic.attributes.rate" in str(reply.json())
    created = builtin_server.request("POST", base, {"type": "bandwidth",
                                                    "attributes": {"rate": 10}})  # fmt: skip
    assert created.status == 200
    bad = builtin_server.request("PATCH", f"{base}/bandwidth_downstream",
                                 {"attributes": {"rate": 0}})  # fmt: skip
    assert bad.status == 400
    assert builtin_server.request("GET", f"{base}/bandwidth_downstream").json() == created.json()
    toxicity = builtin_server.request("POST", base, {"type": "noop", "toxicity": "all"})
    assert toxicity.status == 400


@pytest.mark.parametrize("listen", ["", "0.0.0.0:0", ":0"])
def test_wildcard_listen_binds_loopback(
    builtin_server: Server, echo: EchoServer, listen: str
) -> None:
    reply = builtin_server.request(
        "POST", "/proxies", {"name": "wild", "upstream": echo.address, "listen": listen}
    )
    try:
        assert reply.status == 201
        proxy = reply.json()
        assert isinstance(proxy, dict)
        assert str(proxy["listen"]).startswith("127.0.0.1:")
        with connect(proxy["listen"]) as sock:
            assert round_trip(sock, b"loopback") == b"loopback"
    finally:
        builtin_server.request("DELETE", "/proxies/wild")


def _affected_pattern(server: Server, echo: EchoServer) -> list[bool]:
    """Which of 12 connections a toxicity-0.5 limit_data hits."""
    created = server.request("POST", "/proxies", {"name": "replay", "upstream": echo.address})
    assert created.status == 201
    listen = created.json()["listen"]  # type: ignore[index]
    try:
        server.request(
            "POST",
            "/proxies/replay/toxics",
            {"type": "limit_data", "toxicity": 0.5, "attributes": {"bytes": 0}},
        )
        pattern = []
        for _ in range(12):
            with connect(listen) as sock:
                sock.sendall(b"ping")
                try:
                    pattern.append(sock.recv(10) == b"")
                except ConnectionResetError:
                    pattern.append(True)
        return pattern
    finally:
        server.request("DELETE", "/proxies/replay")


def test_toxicity_draws_replay_with_the_seed(builtin_server: Server, echo: EchoServer) -> None:
    first = _affected_pattern(builtin_server, echo)
    second = _affected_pattern(builtin_server, echo)
    assert first == second
    assert any(first) and not all(first)  # toxicity 0.5 really draws


def test_reset_peer_resets_connections_opened_before_it(
    builtin_server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"before") == b"before"
        builtin_server.request(
            "POST",
            f"/proxies/{proxy['name']}/toxics",
            {"type": "reset_peer", "attributes": {"timeout": 0}},
        )
        sock.sendall(b"now")
        with pytest.raises(ConnectionResetError):
            while sock.recv(10):
                pass
