"""Random bodies and sequences of API calls thrown at a real built-in proxy process while bytes
flow through it. After every call: no 5xx, no invalid JSON, the API answers within 1 s and every
stored toxic has attributes a toxic can work with. After every sequence (and a reset): the
connection that carried traffic delivers or is closed, and a new one echoes; nothing hangs."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.proxy.conftest import WAIT_S, EchoServer, start_builtin, stop_process

PROXY = "prop"
API_ANSWER_S = 1.0  # the invariant: the API answers within this after every call
_SOCKET_S = 0.2  # the traffic thread's waits (a toxic may hold bytes: that is not a failure)

# What each toxic type may store, written out here independently of the proxy's own tables.
_INT_MAX = 2**31 - 1
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "noop": (),
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "pg_commit_ack_drop": ("every",),
    "cut": ("after_ms", "after_messages"),
}


def _valid_toxic(toxic: dict[str, object]) -> str | None:
    """Why ``toxic`` (as the API lists it) is not one a toxic can work with, or None."""
    kind, values, toxicity = toxic["type"], toxic["attributes"], toxic["toxicity"]
    if kind not in ATTRIBUTES or not isinstance(values, dict):
        return f"unknown type or attributes: {toxic}"
    if not isinstance(toxicity, int | float) or not 0 <= toxicity <= 1:
        return f"toxicity {toxicity!r}"
    if set(values) != set(ATTRIBUTES[str(kind)]):
        return f"attribute names {sorted(values)}"
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT_MAX:
            return f"{name} = {value!r}"
    if kind == "bandwidth" and values["rate"] < 1:
        return "bandwidth rate < 1"
    if kind == "slicer" and not 0 <= values["size_variation"] < values["average_size"]:
        return "slicer sizes"
    if kind == "cut" and values["after_ms"] == 0 and values["after_messages"] == 0:
        return "cut with no limit"
    return None


# -- strategies ----------------------------------------------------------------------------------

_NAMES = ["a", "b", "latency_downstream", "slicer_upstream", "missing"]
_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 400),
    st.integers(),
    st.floats(),  # NaN and Infinity included: json.dumps writes them as bare words
    st.text(max_size=4),
    st.lists(st.integers(0, 3), max_size=2),
)
_SMALL = st.one_of(st.integers(-2, 60), _ANY_VALUE)
_ATTRIBUTE_NAMES = sorted({name for names in ATTRIBUTES.values() for name in names} | {"bogus"})
_ATTRIBUTES = st.one_of(
    st.none(), _ANY_VALUE, st.dictionaries(st.sampled_from(_ATTRIBUTE_NAMES), _SMALL, max_size=4)
)
_TOXIC_BODY = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from([*ATTRIBUTES, "nope"]), _ANY_VALUE),
        "name": st.one_of(st.sampled_from(_NAMES), _ANY_VALUE),
        "stream": st.one_of(st.sampled_from(["upstream", "downstream", "UpStream", "x"]), _SMALL),
        "toxicity": st.one_of(st.floats(0, 1), _ANY_VALUE),
        "attributes": _ATTRIBUTES,
    },
)
_NASTY = [
    b"",
    b"{",
    b"null",
    b"[" * 5000,
    b'{"toxicity": NaN}',
    b'{"attributes": {"rate": ' + b"7" * 400 + b"}}",
    b'{"type": "slicer", "attributes": null}',
    b'{"type": "bandwidth"}',
    b"\xff\xfe",
]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes

    def __repr__(self) -> str:  # short, for hypothesis' report of a failing sequence
        return f"{self.method} {self.path} {self.body[:120]!r}"


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()


def _calls(echo_address: str) -> st.SearchStrategy[Call]:
    toxics = f"/proxies/{PROXY}/toxics"
    name = st.sampled_from(_NAMES)
    proxy_body = st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.one_of(st.booleans(), _ANY_VALUE),
            "listen": st.sampled_from(["127.0.0.1:0", "192.0.2.1:0", "bad", "127.0.0.1:999999"]),
            "upstream": st.sampled_from([echo_address, "no-port", "unreachable.invalid:80"]),
        },
    )
    return st.one_of(
        st.builds(Call, st.just("POST"), st.just(toxics), _TOXIC_BODY.map(_dumps)),
        st.builds(
            Call,
            st.sampled_from(["POST", "PATCH"]),
            name.map(lambda toxic: f"{toxics}/{toxic}"),
            _TOXIC_BODY.map(_dumps),
        ),
        st.builds(
            Call, st.just("DELETE"), name.map(lambda toxic: f"{toxics}/{toxic}"), st.just(b"")
        ),
        st.builds(Call, st.just("POST"), st.just(f"/proxies/{PROXY}"), proxy_body.map(_dumps)),
        st.builds(
            Call,
            st.just("POST"),
            st.sampled_from([toxics, f"{toxics}/a", "/populate", "/proxies"]),
            st.one_of(st.sampled_from(_NASTY), st.binary(max_size=40)),
        ),
    )


# -- the proxy process, the API and the traffic -------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes


class Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: bytes = b"", timeout: float = WAIT_S) -> Answer:
        request = urllib.request.Request(self.url + path, data=body or None, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return Answer(answer.status, answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, error.read())

    def listen(self) -> str | None:
        answer = self.call("GET", f"/proxies/{PROXY}", timeout=API_ANSWER_S)
        proxy = json.loads(answer.body)
        return str(proxy["listen"]) if proxy.get("enabled") else None


def _connect(listen: str) -> socket.socket:
    host, port = listen.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=_SOCKET_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@dataclass
class Traffic:
    """A thread sending bytes through the proxy and reading the echo, reconnecting whenever the
    connection is closed. ``outstanding``: bytes sent on ``sock`` whose echo has not come back."""

    api: Api
    sock: socket.socket | None = None
    outstanding: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._step()
            except OSError:
                self._drop()

    def _step(self) -> None:
        if self.sock is None:
            listen = self.api.listen()
            if listen is None:
                self.stop.wait(_SOCKET_S)
                return
            self.sock, self.outstanding = _connect(listen), 0
        self.sock.sendall(b"t" * 256)
        self.outstanding += 256
        try:
            while self.outstanding:
                got = self.sock.recv(65536)
                if not got:
                    self._drop()
                    return
                self.outstanding -= len(got)
        except TimeoutError:
            pass  # held by a toxic: keep the count, go on sending

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.outstanding = None, 0

    def finish(self) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(WAIT_S * 2)
        assert not self.thread.is_alive(), "the traffic thread hung"


def _delivers_or_closes(sock: socket.socket, outstanding: int) -> None:
    """The connection gives back every byte still owed plus a marker, or is closed: within
    WAIT_S, never hung."""
    sock.settimeout(WAIT_S)
    marker = b"marker"
    try:
        sock.sendall(marker)
    except OSError:
        return  # closed
    wanted = outstanding + len(marker)
    got = b""
    try:
        while len(got) < wanted:
            data = sock.recv(65536)
            if not data:
                return  # closed
            got += data
    except ConnectionResetError:
        return
    except TimeoutError:
        raise AssertionError(f"hung: {len(got)} of {wanted} bytes after {WAIT_S} s") from None
    assert got.endswith(marker)


@pytest.fixture(scope="module")
def proxy_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, EchoServer]]:
    process, url = start_builtin(tmp_path_factory.mktemp("property-proxy"), seed=5)
    echo = EchoServer()
    try:
        yield Api(url), echo
    finally:
        echo.stop()
        stop_process(process)


def _strict_json(body: bytes) -> object:
    def refuse(word: str) -> object:
        raise ValueError(f"{word} in an answer")

    return json.loads(body, parse_constant=refuse)


def _check_after_call(api: Api, call: Call, answer: Answer) -> None:
    assert answer.status < 500, (call, answer)
    if answer.body[:1] in (b"{", b"["):
        _strict_json(answer.body)
    listed = api.call("GET", f"/proxies/{PROXY}/toxics", timeout=API_ANSWER_S)
    assert listed.status == 200, listed
    toxics = _strict_json(listed.body)
    assert isinstance(toxics, list)
    for toxic in toxics:
        problem = _valid_toxic(toxic)
        assert problem is None, (call, problem)


def _restore(api: Api, echo: EchoServer) -> None:
    assert api.call("POST", "/reset").status == 204
    body = _dumps({"upstream": echo.address, "enabled": True})
    assert api.call("POST", f"/proxies/{PROXY}", body).status == 200


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same sequences on every run: a CI failure reproduces
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_calls_while_bytes_flow_never_break_the_proxy(
    proxy_api: tuple[Api, EchoServer], data: st.DataObject
) -> None:
    api, echo = proxy_api
    if api.call("GET", f"/proxies/{PROXY}").status == 404:
        created = api.call(
            "POST",
            "/proxies",
            _dumps({"name": PROXY, "upstream": echo.address, "listen": "127.0.0.1:0"}),
        )
        assert created.status == 201
    _restore(api, echo)
    calls = data.draw(st.lists(_calls(echo.address), min_size=1, max_size=8), label="calls")
    traffic = Traffic(api)
    traffic.start()
    try:
        for call in calls:
            answer = api.call(call.method, call.path, call.body)
            _check_after_call(api, call, answer)
    finally:
        traffic.finish()
    _restore(api, echo)
    if traffic.sock is not None:
        with traffic.sock:
            _delivers_or_closes(traffic.sock, traffic.outstanding)
    listen = api.listen()
    assert listen is not None
    with contextlib.closing(_connect(listen)) as sock:
        sock.settimeout(WAIT_S)
        sock.sendall(b"after")
        got = b""
        while len(got) < 5:
            chunk = sock.recv(5 - len(got))
            assert chunk, "a new connection after the reset was closed"
            got += chunk
        assert got == b"after"
