"""Everything the toxiproxy-python client offers, against the configured server."""

from __future__ import annotations

import os

import pytest
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from tests.proxy.conftest import EchoServer, Server, connect, recv_until_eof, round_trip


def test_the_client_drives_every_operation(server: Server, echo: EchoServer) -> None:
    client = server.client()
    assert client.running()
    assert b"version" in client.version()
    proxy = client.create(upstream=echo.address, name="client_ops")
    try:
        assert proxy.listen.startswith("127.0.0.1:")
        with pytest.raises(ProxyExists):
            client.create(upstream=echo.address, name="client_ops")
        assert client.get_proxy("client_ops") is not None
        assert "client_ops" in client.proxies()
        with connect(proxy.listen) as sock:
            assert round_trip(sock, b"hi") == b"hi"

        proxy.add_toxic(type="limit_data", attributes={"bytes": 4})
        proxy.add_toxic(type="latency", stream="upstream", name="lag", toxicity=1.0,
                        attributes={"latency": 1})  # fmt: skip
        toxics = proxy.toxics()
        assert set(toxics) == {"limit_data_downstream", "lag"}
        lag = proxy.get_toxic("lag")
        assert lag is not None
        assert (lag.type, lag.stream, lag.attributes["latency"]) == ("latency", "upstream", 1)
        assert proxy.get_toxic("nope") is None
        with pytest.raises(InvalidToxic):
            proxy.add_toxic(type="no_such_toxic")
        with pytest.raises(ProxyExists):
            proxy.add_toxic(type="latency", stream="upstream", name="lag")
        with connect(proxy.listen) as sock:
            sock.sendall(b"123456")
            assert recv_until_eof(sock) == b"1234"
        assert proxy.destroy_toxic("lag") is True
        with pytest.raises(NotFound):
            proxy.destroy_toxic("lag")

        proxy.disable()
        assert client.get_proxy("client_ops").enabled is False
        with pytest.raises(ConnectionRefusedError):
            connect(proxy.listen)
        proxy.enable()
        with proxy.down(), pytest.raises(ConnectionRefusedError):
            connect(proxy.listen)
        assert client.get_proxy("client_ops").enabled is True

        proxy.disable()
        assert client.reset() is True
        assert client.get_proxy("client_ops").enabled is True
        assert proxy.toxics() == {}
    finally:
        assert client.destroy(proxy) is True
    with pytest.raises(NotFound):
        proxy.destroy()


def test_the_client_populates_and_destroys_all(server: Server, echo: EchoServer) -> None:
    client = server.client()
    wanted = [
        {"name": "pop_a", "upstream": echo.address, "listen": "127.0.0.1:0"},
        {"name": "pop_b", "upstream": echo.address, "listen": "127.0.0.1:0"},
    ]
    made = client.populate(wanted)
    assert sorted(p.name for p in made) == ["pop_a", "pop_b"]
    for proxy in made:
        with connect(proxy.listen) as sock:
            assert round_trip(sock, proxy.name.encode()) == proxy.name.encode()
    if os.environ.get("TOXIPROXY_URL"):  # somebody else's server: remove only ours
        for proxy in made:
            client.destroy(proxy)
        assert not {"pop_a", "pop_b"} & set(client.proxies())
    else:
        client.destroy_all()
        assert client.proxies() == {}
