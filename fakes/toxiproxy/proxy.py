"""A proxy: a named loopback TCP listener that forwards each connection to its upstream, with
an ordered chain of toxics per stream that applies to new and existing connections alike."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from ackguard.fakes.toxiproxy.connection import Connection
from ackguard.fakes.toxiproxy.errors import ApiError
from ackguard.fakes.toxiproxy.link import Link, ToxicConfig, stream_seed

__all__ = ["Proxy", "listen_address", "resolve_address"]

_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


@dataclass(frozen=True, slots=True)
class _Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def resolve_address(text: str, *, allow_non_loopback: bool = False) -> _Address:
    """``host:port`` as a listener binds it. Wildcard and empty hosts become 127.0.0.1 (or stay
    a wildcard with ``allow_non_loopback``). Malformed addresses and failed lookups are 400s
    naming the address (the reference server answers 500)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ApiError(400, f"address {text}: missing port in address")
    if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
        raise ApiError(400, f"address {text}: invalid port")
    if host in _WILDCARDS:
        host = ("::" if ":" in host else "0.0.0.0") if allow_non_loopback else "127.0.0.1"
    host = host.removeprefix("[").removesuffix("]")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ApiError(400, f"address {text}: lookup {host}: {exc}") from exc
    resolved = str(infos[0][4][0])
    return _Address(resolved, int(port_text))


def listen_address(text: str, *, allow_non_loopback: bool) -> _Address:
    """The address a proxy listens on: a 400 naming it unless it is loopback or the server was
    started with ``--allow-non-loopback`` (the API has no authentication: a listener reachable
    from the network would expose whatever loopback service it forwards to)."""
    address = resolve_address(text, allow_non_loopback=allow_non_loopback)
    if not allow_non_loopback and not ipaddress.ip_address(address.host.split("%")[0]).is_loopback:
        raise ApiError(
            400,
            f"listen {text}: {address.host} is not a loopback address; this proxy listens on "
            "loopback only unless started with --allow-non-loopback",
        )
    return address


class Proxy:
    """One proxy of the collection. All methods run on the event loop."""

    def __init__(
        self, name: str, listen: str, upstream: str, seed: int, *, allow_non_loopback: bool = False
    ) -> None:
        self.name = name
        self.allow_non_loopback = allow_non_loopback
        self.listen = listen  # as given while disabled; the bound address while enabled
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, list[ToxicConfig]] = {"upstream": [], "downstream": []}
        self._seed = seed
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._accepted = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        address = listen_address(self.listen, allow_non_loopback=self.allow_non_loopback)
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                self._accept, address.host, address.port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise ApiError(500, f"listen tcp {address}: bind: {reason}") from exc
        self._server = server
        host, port = server.sockets[0].getsockname()[:2]
        self.listen = str(_Address(host, port))
        self.enabled = True

    async def stop(self) -> None:
        """Close the listener and every connection (clients see EOF; new ones are refused)."""
        server, self._server = self._server, None
        self.enabled = False
        if server is not None:
            server.close()
        for connection in list(self._connections):
            connection.close(reset=False)

    def bound_address(self) -> _Address | None:
        if self._server is None:
            return None
        return resolve_address(self.listen, allow_non_loopback=self.allow_non_loopback)

    def _accept(self) -> asyncio.Protocol:
        self._accepted += 1
        connection = Connection(self._accepted, self._connections.discard)
        self._connections.add(connection)
        for toxics in self.toxics.values():
            for toxic in toxics:
                self._attach(connection, toxic)
        protocol = connection.client_protocol()
        task = asyncio.ensure_future(self._dial(connection))
        connection.tasks.add(task)
        task.add_done_callback(connection.tasks.discard)
        return protocol

    async def _dial(self, connection: Connection) -> None:
        """Dial the upstream; the name is resolved by the event loop (off the loop's thread), and
        an address that cannot be used closes the client at once."""
        host, sep, port_text = self.upstream.rpartition(":")
        if not sep or not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
            connection.close(reset=False)
            return
        host = "127.0.0.1" if host in _WILDCARDS else host.removeprefix("[").removesuffix("]")
        await connection.dial(host, int(port_text))

    # -- toxics --------------------------------------------------------------------------------

    def _links(self, connection: Connection, toxic: ToxicConfig) -> list[Link]:
        if toxic.kind.both_streams:
            return list(connection.links)
        if toxic.direction == "upstream":
            return [connection.upstream_link]
        return [connection.downstream_link]

    def _attach(self, connection: Connection, toxic: ToxicConfig, *, replace: bool = False) -> None:
        for link in self._links(connection, toxic):
            direction = "both" if toxic.kind.both_streams else link.direction
            seed = stream_seed(
                self._seed, self.name, connection.number, direction, toxic.name, toxic.revision
            )
            link.attach(toxic, seed, replace=replace)

    def find_toxic(self, name: str) -> ToxicConfig | None:
        for toxics in self.toxics.values():
            for toxic in toxics:
                if toxic.name == name:
                    return toxic
        return None

    def all_toxics(self) -> list[ToxicConfig]:
        return [*self.toxics["upstream"], *self.toxics["downstream"]]

    def add_toxic(self, toxic: ToxicConfig) -> None:
        self.toxics[toxic.direction].append(toxic)
        for connection in list(self._connections):
            self._attach(connection, toxic)

    def toxic_updated(self, toxic: ToxicConfig) -> None:
        """Restart the toxic's stage on every connection with its new settings."""
        toxic.revision += 1
        for connection in list(self._connections):
            self._attach(connection, toxic, replace=True)

    def remove_toxic(self, toxic: ToxicConfig) -> None:
        self.toxics[toxic.direction].remove(toxic)
        for connection in list(self._connections):
            for link in self._links(connection, toxic):
                link.detach(toxic.name)

    def remove_all_toxics(self) -> None:
        for toxic in self.all_toxics():
            self.remove_toxic(toxic)
