"""Every endpoint of the Toxiproxy v2 API: shapes, status codes and named errors (raw HTTP, for
what the toxiproxy-python client does not expose)."""

from __future__ import annotations

import socket

import pytest

from tests.proxy.conftest import EchoServer, ProxyFactory, Server, connect, round_trip


def test_version_is_json_with_a_version(server: Server) -> None:
    reply = server.request("GET", "/version")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    version = reply.json()
    assert isinstance(version, dict) and isinstance(version["version"], str)


def test_every_response_has_a_request_id(server: Server) -> None:
    assert server.request("GET", "/proxies").headers.get("X-Toxiproxy-Request-Id")
    assert server.request("GET", "/proxies/nope").headers.get("X-Toxiproxy-Request-Id")


def test_create_answers_201_with_the_bound_address(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    assert proxy["upstream"] == echo.address
    assert proxy["enabled"] is True
    assert proxy["toxics"] == []
    host, port = str(proxy["listen"]).rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    listed = server.request("GET", "/proxies").json()
    assert isinstance(listed, dict)
    assert listed[str(proxy["name"])]["listen"] == proxy["listen"]
    with connect(proxy["listen"]) as sock:
        assert round_trip(sock, b"hello") == b"hello"


def test_create_errors(server: Server, echo: EchoServer, make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(echo.address)
    again = server.request("POST", "/proxies", {"name": proxy["name"], "upstream": echo.address})
    assert (again.status, again.json()) == (409, {"error": "proxy already exists", "status": 409})
    no_name = server.request("POST", "/proxies", {"upstream": echo.address})
    assert (no_name.status, no_name.json()) == (
        400, {"error": "missing required field: name", "status": 400}
    )  # fmt: skip
    no_upstream = server.request("POST", "/proxies", {"name": "x_no_upstream"})
    assert no_upstream.status == 400
    assert no_upstream.json() == {"error": "missing required field: upstream", "status": 400}
    for raw in (b"", b"{", b'{"name": 5, "upstream": "127.0.0.1:1"}'):
        bad = server.request("POST", "/proxies", raw=raw)
        assert bad.status == 400
        error = bad.json()
        assert isinstance(error, dict) and str(error["error"]).startswith("bad request body")
    assert "x_no_upstream" not in str(server.request("GET", "/proxies").json())


def test_keys_are_case_insensitive(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    reply = server.request(
        "POST", "/proxies", {"Name": "case_keys", "UpStream": echo.address, "LISTEN": "127.0.0.1:0"}
    )
    try:
        assert reply.status == 201
        proxy = reply.json()
        assert isinstance(proxy, dict) and proxy["upstream"] == echo.address
    finally:
        server.request("DELETE", "/proxies/case_keys")


def test_listen_already_in_use_is_a_500_and_nothing_is_created(
    server: Server, echo: EchoServer
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        reply = server.request(
            "POST", "/proxies",
            {"name": "port_taken", "upstream": echo.address, "listen": f"127.0.0.1:{port}"},
        )  # fmt: skip
    assert reply.status == 500
    assert "address already in use" in str(reply.json())
    assert server.request("GET", "/proxies/port_taken").status == 404


def test_created_disabled_does_not_listen(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    proxy = make_proxy(echo.address, enabled=False, listen=f"127.0.0.1:{port}")
    assert proxy["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        connect(proxy["listen"])


def test_get_and_delete_a_proxy(server: Server, echo: EchoServer) -> None:
    created = server.request("POST", "/proxies", {"name": "to_delete", "upstream": echo.address})
    assert created.status == 201
    assert server.request("GET", "/proxies/to_delete").json() == created.json()
    deleted = server.request("DELETE", "/proxies/to_delete")
    assert (deleted.status, deleted.body) == (204, b"")
    for method in ("GET", "DELETE"):
        missing = server.request(method, "/proxies/to_delete")
        assert (missing.status, missing.json()) == (
            404, {"error": "proxy not found", "status": 404}
        )  # fmt: skip


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_a_proxy(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory, method: str
) -> None:
    proxy = make_proxy(echo.address)
    path = f"/proxies/{proxy['name']}"
    off = server.request(method, path, {"enabled": False})
    assert off.status == 200
    assert isinstance(off.json(), dict) and off.json()["enabled"] is False  # type: ignore[index]
    with pytest.raises(ConnectionRefusedError):
        connect(proxy["listen"])
    on = server.request(method, path, {"enabled": True})
    assert on.status == 200
    again = server.request(method, path, {"enabled": True})  # no-op, no error
    assert again.status == 200
    other = EchoServer()
    try:
        moved = server.request(method, path, {"upstream": other.address})
        assert moved.status == 200
        body = moved.json()
        assert isinstance(body, dict) and body["upstream"] == other.address
        with connect(body["listen"]) as sock:
            assert round_trip(sock, b"moved") == b"moved"
        assert other.accepted.acquire(timeout=10)
    finally:
        other.stop()
    assert server.request(method, "/proxies/nope", {"enabled": True}).status == 404
    assert server.request(method, path, raw=b"{").status == 400


def test_toxic_endpoints(server: Server, echo: EchoServer, make_proxy: ProxyFactory) -> None:
    name = make_proxy(echo.address)["name"]
    base = f"/proxies/{name}/toxics"
    assert server.request("GET", base).json() == []
    created = server.request("POST", base, {"type": "latency", "attributes": {"latency": 5}})
    assert created.status == 200
    assert created.json() == {
        "attributes": {"latency": 5, "jitter": 0}, "name": "latency_downstream",
        "type": "latency", "stream": "downstream", "toxicity": 1,
    }  # fmt: skip
    up = server.request(
        "POST", base, {"type": "limit_data", "stream": "upstream", "toxicity": 0,
                       "attributes": {"bytes": 100}},
    )  # fmt: skip
    assert up.status == 200
    assert up.json()["toxicity"] == 0  # type: ignore[index]
    listed = server.request("GET", base).json()
    assert isinstance(listed, list)
    assert [t["name"] for t in listed] == ["limit_data_upstream", "latency_downstream"]
    assert server.request("GET", f"{base}/latency_downstream").json() == created.json()
    proxy = server.request("GET", f"/proxies/{name}").json()
    assert isinstance(proxy, dict) and proxy["toxics"] == listed


def test_toxic_create_errors(server: Server, echo: EchoServer, make_proxy: ProxyFactory) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    cases = [
        ({"type": "latency", "stream": "sideways"},
         "stream was invalid, can be either upstream or downstream"),
        ({"type": "no_such_toxic"}, "invalid toxic type"),
        ({"stream": "upstream"}, "invalid toxic type"),
    ]  # fmt: skip
    for payload, message in cases:
        reply = server.request("POST", base, payload)
        assert (reply.status, reply.json()) == (400, {"error": message, "status": 400})
    assert server.request("POST", base, {"type": "noop", "name": "same"}).status == 200
    clash = server.request("POST", base, {"type": "noop", "name": "same", "stream": "upstream"})
    assert (clash.status, clash.json()) == (409, {"error": "toxic already exists", "status": 409})
    wrong_type = server.request("POST", base, {"type": "latency", "attributes": {"latency": "1"}})
    assert wrong_type.status == 400
    assert str(wrong_type.json()).find("bad request body") >= 0
    assert server.request("POST", "/proxies/nope/toxics", {"type": "noop"}).status == 404
    assert server.request("GET", "/proxies/nope/toxics").status == 404
    missing = server.request("GET", f"{base}/nope")
    assert (missing.status, missing.json()) == (404, {"error": "toxic not found", "status": 404})


def test_stream_is_case_insensitive_and_echoed_as_given(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    reply = server.request("POST", base, {"type": "noop", "stream": "UpStream"})
    assert reply.status == 200
    assert reply.json()["stream"] == "UpStream"  # type: ignore[index]
    assert reply.json()["name"] == "noop_UpStream"  # type: ignore[index]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_toxic_update_merges_attributes(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory, method: str
) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    server.request("POST", base, {"type": "latency", "attributes": {"latency": 5, "jitter": 2}})
    updated = server.request(
        method, f"{base}/latency_downstream",
        {"type": "bandwidth", "stream": "upstream", "toxicity": 0.5,
         "attributes": {"latency": 7}},
    )  # fmt: skip
    assert updated.status == 200
    assert updated.json() == {
        "attributes": {"latency": 7, "jitter": 2}, "name": "latency_downstream",
        "type": "latency", "stream": "downstream", "toxicity": 0.5,
    }  # fmt: skip
    assert server.request(method, f"{base}/nope", {"toxicity": 1}).status == 404
    assert server.request(method, f"{base}/latency_downstream", raw=b"[").status == 400


def test_toxic_delete(server: Server, echo: EchoServer, make_proxy: ProxyFactory) -> None:
    base = f"/proxies/{make_proxy(echo.address)['name']}/toxics"
    server.request("POST", base, {"type": "noop"})
    deleted = server.request("DELETE", f"{base}/noop_downstream")
    assert (deleted.status, deleted.body) == (204, b"")
    assert server.request("DELETE", f"{base}/noop_downstream").status == 404
    assert server.request("GET", base).json() == []


def test_populate(server: Server, echo: EchoServer) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    entry = {"name": "populated", "listen": f"127.0.0.1:{port}", "upstream": echo.address}
    try:
        first = server.request("POST", "/populate", [entry])
        assert first.status == 201
        body = first.json()
        assert isinstance(body, dict)
        assert [p["name"] for p in body["proxies"]] == ["populated"]
        server.request("POST", "/proxies/populated/toxics", {"type": "noop"})
        server.request("POST", "/proxies/populated", {"enabled": False})
        same = server.request("POST", "/populate", [entry])
        assert same.status == 201
        kept = server.request("GET", "/proxies/populated").json()
        assert isinstance(kept, dict)
        assert kept["enabled"] is False and len(kept["toxics"]) == 1  # untouched
        other = EchoServer()
        try:
            replaced = server.request("POST", "/populate", [{**entry, "upstream": other.address}])
            assert replaced.status == 201
            fresh = server.request("GET", "/proxies/populated").json()
            assert isinstance(fresh, dict)
            assert fresh["toxics"] == [] and fresh["enabled"] is True
            assert fresh["upstream"] == other.address
        finally:
            other.stop()
    finally:
        server.request("DELETE", "/proxies/populated")


def test_populate_errors(server: Server, echo: EchoServer) -> None:
    empty = server.request("POST", "/populate", [])
    assert (empty.status, empty.json()) == (201, {"proxies": None})
    missing = server.request(
        "POST", "/populate",
        [{"name": "pop_ok", "upstream": echo.address}, {"upstream": echo.address}],
    )  # fmt: skip
    assert missing.status == 400
    error = missing.json()
    assert isinstance(error, dict)
    assert error["error"] == "missing required field: name at proxy 2"
    assert server.request("GET", "/proxies/pop_ok").status == 404  # nothing created
    assert server.request("POST", "/populate", {"name": "x"}).status == 400


def test_reset_enables_proxies_and_removes_toxics(
    server: Server, echo: EchoServer, make_proxy: ProxyFactory
) -> None:
    proxy = make_proxy(echo.address)
    path = f"/proxies/{proxy['name']}"
    server.request("POST", f"{path}/toxics", {"type": "timeout", "attributes": {"timeout": 0}})
    server.request("POST", path, {"enabled": False})
    reset = server.request("POST", "/reset")
    assert (reset.status, reset.body) == (204, b"")
    after = server.request("GET", path).json()
    assert isinstance(after, dict)
    assert after["enabled"] is True and after["toxics"] == []
    with connect(after["listen"]) as sock:
        assert round_trip(sock, b"after reset") == b"after reset"


def test_unknown_path_wrong_method_and_browsers(server: Server) -> None:
    assert server.request("GET", "/nope").status == 404
    assert server.request("DELETE", "/version").status == 405
    browser = server.request("GET", "/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert browser.status == 403
