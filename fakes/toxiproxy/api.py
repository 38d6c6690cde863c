"""The Toxiproxy v2 HTTP API over the proxy collection: routing, request shapes, answers."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from ackguard.fakes.toxiproxy import body, errors
from ackguard.fakes.toxiproxy.errors import ApiError
from ackguard.fakes.toxiproxy.link import ToxicConfig
from ackguard.fakes.toxiproxy.proxy import Proxy, listen_address, resolve_address
from ackguard.fakes.toxiproxy.toxics import TOXICS, BadAttribute, ToxicType

__all__ = ["TOXIC_TYPES_PATH", "VERSION", "Response", "ToxiproxyApi"]

VERSION = "2.12.0-ackguard"
TOXIC_TYPES_PATH = "/ackguard/toxic-types"
"""GET: the toxic types this server supports (a real Toxiproxy answers 404 here)."""
_STREAMS = ("upstream", "downstream")


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def _json(status: int, value: object) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")).encode())


def _error(exc: ApiError) -> Response:
    text = json.dumps({"error": exc.message, "status": exc.status}, separators=(",", ":"))
    return Response(exc.status, f"{text}\n".encode(), "text/plain; charset=utf-8",
                    {"X-Content-Type-Options": "nosniff"})  # fmt: skip


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def toxic_json(toxic: ToxicConfig) -> dict[str, object]:
    return {
        "attributes": dict(toxic.values),
        "name": toxic.name,
        "type": toxic.kind.name,
        "stream": toxic.stream,
        "toxicity": _number(toxic.toxicity),
    }


def proxy_json(proxy: Proxy) -> dict[str, object]:
    return {
        "name": proxy.name,
        "listen": proxy.listen,
        "upstream": proxy.upstream,
        "enabled": proxy.enabled,
        "toxics": [toxic_json(toxic) for toxic in proxy.all_toxics()],
    }


@dataclass(frozen=True, slots=True)
class _ProxyInput:
    name: str
    listen: str
    upstream: str
    enabled: bool


def _proxy_input(value: object, where: str) -> tuple[str | None, str | None, str | None, bool]:
    fields = body.fold_keys(value, "toxiproxy.Proxy")
    name = body.optional_str(fields, "name", "Proxy.name")
    listen = body.optional_str(fields, "listen", "Proxy.listen")
    upstream = body.optional_str(fields, "upstream", "Proxy.upstream")
    enabled = body.optional_bool(fields, "enabled", "Proxy.enabled")
    return name, listen, upstream, True if enabled is None else enabled


def _attributes(kind: type[ToxicType], given: object, base: Mapping[str, int]) -> dict[str, int]:
    """The one validation of a toxic's attributes (create and update): ``given`` omitted, null
    or partial takes the rest from ``base`` (on create: Toxiproxy's default, 0), then the toxic's
    rules apply to the whole, so no value a toxic cannot work with ever reaches a link."""
    values = dict(base)
    fields = {} if given is None else body.fold_keys(given, f"{kind.__name__}Toxic")
    for attribute in kind.attributes:
        if attribute.name in fields:
            where = f"{kind.__name__}Toxic.attributes.{attribute.name}"
            values[attribute.name] = body.integer_attribute(fields[attribute.name], where)
    try:
        kind.check(values)
    except BadAttribute as exc:
        raise errors.invalid_attribute(exc.attribute, exc.message) from exc
    return values


def _toxicity(fields: Mapping[str, object]) -> float | None:
    toxicity = body.optional_number(fields, "toxicity", "ToxicWrapper.toxicity")
    if toxicity is not None and not 0.0 <= toxicity <= 1.0:
        raise errors.invalid_attribute("toxicity", "must be between 0 and 1")
    return toxicity


Handler = Callable[..., Awaitable[Response]]


class ToxiproxyApi:
    """The collection of proxies and the API over it. ``seed`` drives every random draw."""

    def __init__(self, seed: int, *, allow_non_loopback: bool = False) -> None:
        self.seed = seed
        self.allow_non_loopback = allow_non_loopback
        self.proxies: dict[str, Proxy] = {}
        p, t = r"(?P<proxy>[^/]+)", r"(?P<toxic>[^/]+)"
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
            (re.compile(r"/proxies"), {"GET": self.list_proxies, "POST": self.create_proxy}),
            (re.compile(r"/populate"), {"POST": self.populate}),
            (re.compile(rf"/proxies/{p}"), {"GET": self.get_proxy, "POST": self.update_proxy,
                                            "PATCH": self.update_proxy,
                                            "DELETE": self.delete_proxy}),
            (re.compile(rf"/proxies/{p}/toxics"), {"GET": self.list_toxics,
                                                   "POST": self.create_toxic}),
            (re.compile(rf"/proxies/{p}/toxics/{t}"), {"GET": self.get_toxic,
                                                       "POST": self.update_toxic,
                                                       "PATCH": self.update_toxic,
                                                       "DELETE": self.delete_toxic}),
            (re.compile(r"/reset"), {"POST": self.reset}),
            (re.compile(r"/version"), {"GET": self.version}),
            (re.compile(TOXIC_TYPES_PATH), {"GET": self.toxic_types}),
        ]  # fmt: skip

    async def handle(self, method: str, path: str, payload: bytes) -> Response:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                return Response(405, b"", "text/plain; charset=utf-8")
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            try:
                return await handler(payload, **params)
            except ApiError as exc:
                return _error(exc)
            except Exception as exc:  # an internal error is a 500, as upstream, not a hang
                return _error(ApiError(500, f"{type(exc).__name__}: {exc}"))
        return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.stop()

    def _proxy(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise errors.proxy_not_found()
        return proxy

    # -- proxies -----------------------------------------------------------------------------

    async def list_proxies(self, payload: bytes) -> Response:
        return _json(200, {name: proxy_json(proxy) for name, proxy in self.proxies.items()})

    async def create_proxy(self, payload: bytes) -> Response:
        name, listen, upstream, enabled = _proxy_input(body.decode(payload), "Proxy")
        if not name:
            raise errors.missing_field("name")
        if not upstream:
            raise errors.missing_field("upstream")
        if name in self.proxies:
            raise errors.proxy_already_exists()
        proxy = self._new_proxy(name, listen or "127.0.0.1:0", upstream)
        if enabled:
            await proxy.start()
        self.proxies[name] = proxy
        return _json(201, proxy_json(proxy))

    def _new_proxy(self, name: str, listen: str, upstream: str) -> Proxy:
        self._check_listen(listen)
        return Proxy(name, listen, upstream, self.seed, allow_non_loopback=self.allow_non_loopback)

    def _check_listen(self, listen: str) -> None:
        listen_address(listen, allow_non_loopback=self.allow_non_loopback)

    def _address(self, listen: str) -> object:
        return resolve_address(listen, allow_non_loopback=self.allow_non_loopback)

    async def get_proxy(self, payload: bytes, proxy: str) -> Response:
        return _json(200, proxy_json(self._proxy(proxy)))

    async def update_proxy(self, payload: bytes, proxy: str) -> Response:
        target = self._proxy(proxy)
        fields = body.fold_keys(body.decode(payload), "toxiproxy.Proxy")
        listen = body.optional_str(fields, "listen", "Proxy.listen")
        upstream = body.optional_str(fields, "upstream", "Proxy.upstream")
        enabled = body.optional_bool(fields, "enabled", "Proxy.enabled")
        new_listen = target.listen if listen is None else listen
        new_upstream = target.upstream if upstream is None else upstream
        if listen is not None:
            self._check_listen(listen)
        moved = listen is not None and self._address(new_listen) != self._address(target.listen)
        if moved or new_upstream != target.upstream:
            was_enabled = target.enabled
            await target.stop()
            target.listen, target.upstream = new_listen, new_upstream
            if enabled is None:
                enabled = was_enabled
        if enabled is not None and enabled != target.enabled:
            if enabled:
                await target.start()
            else:
                await target.stop()
        return _json(200, proxy_json(target))

    async def delete_proxy(self, payload: bytes, proxy: str) -> Response:
        target = self._proxy(proxy)
        await target.stop()
        del self.proxies[proxy]
        return Response(204, b"", "")

    async def populate(self, payload: bytes) -> Response:
        value = body.decode(payload)
        if not isinstance(value, list):
            raise body.type_error(value, "populate", "[]toxiproxy.Proxy")
        wanted: list[_ProxyInput] = []
        for number, element in enumerate(value, start=1):
            name, listen, upstream, enabled = _proxy_input(element, "Proxy")
            if not name:
                raise errors.missing_field(f"name at proxy {number}")
            if not upstream:
                raise errors.missing_field(f"upstream at proxy {number}")
            self._check_listen(listen or "127.0.0.1:0")
            wanted.append(_ProxyInput(name, listen or "127.0.0.1:0", upstream, enabled))
        done: list[dict[str, object]] = []
        try:
            for entry in wanted:
                done.append(proxy_json(await self._add_or_replace(entry)))
        except ApiError as exc:
            failure = {"error": exc.message, "status": exc.status, "proxies": done or None}
            return _json(exc.status, failure)
        return _json(201, {"proxies": done or None})

    async def _add_or_replace(self, entry: _ProxyInput) -> Proxy:
        existing = self.proxies.get(entry.name)
        if existing is not None:
            wanted_at = resolve_address(entry.listen, allow_non_loopback=self.allow_non_loopback)
            same = (
                wanted_at.port != 0
                and wanted_at == self._address(existing.listen)
                and entry.upstream == existing.upstream
            )
            if same:
                return existing  # untouched: toxics, connections and enabled state stay
            await existing.stop()
            del self.proxies[entry.name]
        proxy = self._new_proxy(entry.name, entry.listen, entry.upstream)
        if entry.enabled:
            await proxy.start()
        self.proxies[entry.name] = proxy
        return proxy

    async def reset(self, payload: bytes) -> Response:
        for proxy in list(self.proxies.values()):
            await proxy.start()
            proxy.remove_all_toxics()
        return Response(204, b"", "")

    async def version(self, payload: bytes) -> Response:
        text = json.dumps({"version": VERSION}) + "\n"
        return Response(200, text.encode(), "application/json;charset=utf-8")

    async def toxic_types(self, payload: bytes) -> Response:
        types = [
            {
                "type": name,
                "summary": kind.summary,
                "attributes": [
                    {"name": a.name, "unit": a.unit, "minimum": a.minimum, "doc": a.doc}
                    for a in kind.attributes
                ],
            }
            for name, kind in TOXICS.items()
        ]
        return _json(200, {"server": "ackguard", "version": VERSION, "types": types})

    # -- toxics --------------------------------------------------------------------------------

    async def list_toxics(self, payload: bytes, proxy: str) -> Response:
        return _json(200, [toxic_json(toxic) for toxic in self._proxy(proxy).all_toxics()])

    async def create_toxic(self, payload: bytes, proxy: str) -> Response:
        target = self._proxy(proxy)
        fields = body.fold_keys(body.decode(payload), "toxics.ToxicWrapper")
        stream = body.optional_str(fields, "stream", "ToxicWrapper.stream") or "downstream"
        name = body.optional_str(fields, "name", "ToxicWrapper.name")
        kind_name = body.optional_str(fields, "type", "ToxicWrapper.type")
        toxicity = _toxicity(fields)
        if stream.lower() not in _STREAMS:
            raise errors.invalid_stream()
        name = name or f"{kind_name or ''}_{stream}"
        kind = TOXICS.get(kind_name or "")
        if kind is None:
            raise errors.invalid_toxic_type()
        if target.find_toxic(name) is not None:
            raise errors.toxic_already_exists()
        values = _attributes(kind, fields.get("attributes"), {a.name: 0 for a in kind.attributes})
        toxic = ToxicConfig(
            name=name,
            kind=kind,
            stream=stream,
            direction=stream.lower(),
            toxicity=1.0 if toxicity is None else toxicity,
            values=values,
        )
        target.add_toxic(toxic)
        return _json(200, toxic_json(toxic))

    def _toxic(self, proxy: str, toxic: str) -> tuple[Proxy, ToxicConfig]:
        target = self._proxy(proxy)
        found = target.find_toxic(toxic)
        if found is None:
            raise errors.toxic_not_found()
        return target, found

    async def get_toxic(self, payload: bytes, proxy: str, toxic: str) -> Response:
        return _json(200, toxic_json(self._toxic(proxy, toxic)[1]))

    async def update_toxic(self, payload: bytes, proxy: str, toxic: str) -> Response:
        target, found = self._toxic(proxy, toxic)
        fields = body.fold_keys(body.decode(payload), "toxics.ToxicWrapper")
        toxicity = _toxicity(fields)
        found.values = _attributes(found.kind, fields.get("attributes"), found.values)
        if toxicity is not None:
            found.toxicity = toxicity
        target.toxic_updated(found)
        return _json(200, toxic_json(found))

    async def delete_toxic(self, payload: bytes, proxy: str, toxic: str) -> Response:
        target, found = self._toxic(proxy, toxic)
        target.remove_toxic(found)
        return Response(204, b"", "")
