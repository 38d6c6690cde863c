"""Fault kind ``toxic``: a Toxiproxy toxic on one of the run's proxy paths for the window.

Paths: ``service`` (practitioners -> service) and ``database`` (service -> database), as the
scenario's ``system.proxy`` lists them. Types and their attributes (integers, with units):

- ``latency``: latency (ms), jitter (ms)
- ``bandwidth``: rate (KB/s, 1 KB = 1000 bytes, > 0)
- ``slow_close``: delay (ms)
- ``timeout``: timeout (ms; 0 = black hole forever)
- ``reset_peer``: timeout (ms before the TCP RST)
- ``slicer``: average_size (bytes, > 0), size_variation (bytes, < average_size), delay (us)
- ``limit_data``: bytes (bytes)
- ``noop``: none
- ``pg_commit_ack_drop`` (built-in proxy only): every (count; drop the answer of every N-th COMMIT)
- ``cut`` (built-in proxy only): after_ms (ms), after_messages (client messages); one > 0
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toxiproxy.exceptions import NotFound

from harness.faults.base import FaultConfigError, FaultContext, FaultKind

__all__ = ["KIND", "TOXIC_ATTRIBUTES", "ToxicFault"]

PATHS = ("service", "database")
STREAMS = ("upstream", "downstream")


@dataclass(frozen=True, slots=True)
class _Attr:
    unit: str
    minimum: int = 0


TOXIC_ATTRIBUTES: Mapping[str, Mapping[str, _Attr]] = {
    "latency": {"latency": _Attr("ms"), "jitter": _Attr("ms")},
    "bandwidth": {"rate": _Attr("KB/s", 1)},
    "slow_close": {"delay": _Attr("ms")},
    "timeout": {"timeout": _Attr("ms")},
    "reset_peer": {"timeout": _Attr("ms")},
    "slicer": {
        "average_size": _Attr("bytes", 1),
        "size_variation": _Attr("bytes"),
        "delay": _Attr("us"),
    },
    "limit_data": {"bytes": _Attr("bytes")},
    "noop": {},
    "pg_commit_ack_drop": {"every": _Attr("count")},
    "cut": {"after_ms": _Attr("ms"), "after_messages": _Attr("messages")},
}
"""Every toxic type a scenario may use, with its attributes' units and smallest values."""

_PARAMS = ("proxy", "type", "stream", "toxicity", "attributes")
_names = itertools.count(1)


def _attributes(kind: str, given: object) -> dict[str, int]:
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise FaultConfigError("attributes", "must be a mapping of attribute -> integer")
    table = TOXIC_ATTRIBUTES[kind]
    values: dict[str, int] = {}
    for name, value in given.items():
        field = f"attributes.{name}"
        if name not in table:
            known = ", ".join(table) or "none"
            raise FaultConfigError(field, f"not an attribute of {kind} (known: {known})")
        if isinstance(value, bool) or not isinstance(value, int):
            raise FaultConfigError(field, f"must be an integer ({table[name].unit})")
        values[str(name)] = value
    for name, attr in table.items():
        value = values.get(name, 0)
        if value < attr.minimum:
            bound = "> 0" if attr.minimum == 1 else f">= {attr.minimum}"
            raise FaultConfigError(f"attributes.{name}", f"must be {bound} ({attr.unit})")
    if kind == "slicer" and values.get("size_variation", 0) >= values["average_size"]:
        raise FaultConfigError("attributes.size_variation", "must be < average_size (bytes)")
    if kind == "cut" and not (values.get("after_ms", 0) or values.get("after_messages", 0)):
        raise FaultConfigError("attributes.after_ms", "set after_ms or after_messages (> 0)")
    return values


class ToxicFault:
    """Adds one toxic to a proxy path (``start``) and removes it (``stop``, idempotent)."""

    def __init__(
        self,
        context: FaultContext,
        path: str,
        kind: str,
        stream: str,
        toxicity: float,
        attributes: Mapping[str, int],
    ) -> None:
        self._context = context
        self.path = path
        self.kind = kind
        self.stream = stream
        self.toxicity = toxicity
        self.attributes = dict(attributes)
        self.toxic_name = f"ackguard_{kind}_{stream}_{next(_names)}"
        self._added = False
        self.name = f"toxic:{kind}@{path}"
        table = TOXIC_ATTRIBUTES[kind]
        shown = ", ".join(f"{k}={v} {table[k].unit}" for k, v in self.attributes.items())
        self.description = f"{kind} toxic on the {path} path ({stream}, toxicity {toxicity:g})" + (
            f": {shown}" if shown else ""
        )

    def _proxy(self) -> Any:
        server = self._context.component("proxy")
        proxy = server.client.get_proxy(self.path)
        if proxy is None:
            raise RuntimeError(
                f"the proxy server has no {self.path!r} proxy (list it in system.proxy)"
            )
        return proxy

    def start(self) -> None:
        self._proxy().add_toxic(
            type=self.kind,
            stream=self.stream,
            name=self.toxic_name,
            toxicity=self.toxicity,
            attributes=self.attributes,
        )
        self._added = True

    def stop(self) -> None:
        if not self._added:
            return
        with contextlib.suppress(NotFound):
            self._proxy().destroy_toxic(self.toxic_name)
        self._added = False


def build(context: FaultContext, params: Mapping[str, Any]) -> ToxicFault:
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise FaultConfigError(unknown[0], f"unknown parameter (allowed: {', '.join(_PARAMS)})")
    path = params.get("proxy")
    if not isinstance(path, str) or path not in PATHS:
        raise FaultConfigError("proxy", f"must be one of {', '.join(PATHS)}, got {path!r}")
    kind = params.get("type")
    if not isinstance(kind, str) or kind not in TOXIC_ATTRIBUTES:
        known = ", ".join(TOXIC_ATTRIBUTES)
        raise FaultConfigError("type", f"must be one of {known}, got {kind!r}")
    stream = params.get("stream", "downstream")
    if stream not in STREAMS:
        raise FaultConfigError("stream", f"must be upstream or downstream, got {stream!r}")
    toxicity = params.get("toxicity", 1.0)
    if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
        raise FaultConfigError("toxicity", "must be a number between 0 and 1")
    if not 0 <= toxicity <= 1:
        raise FaultConfigError("toxicity", "must be between 0 and 1")
    attributes = _attributes(kind, params.get("attributes"))
    return ToxicFault(context, path, kind, stream, float(toxicity), attributes)


KIND = FaultKind(
    name="toxic",
    summary="a Toxiproxy toxic on a proxy path for the window (params: proxy, type, attributes)",
    params={
        "proxy": "the path: service (practitioners -> service) or database (service -> database)",
        "type": "latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, "
        "pg_commit_ack_drop, cut",
        "stream": "upstream (requests) or downstream (answers); default downstream",
        "toxicity": "share of connections affected, 0..1; default 1",
        "attributes": "the toxic's integer attributes, e.g. {latency: 200} (ms)",
    },
    build=build,
)
