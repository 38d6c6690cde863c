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

Times are at most an hour (3,600,000 ms), sizes at most 2**40 bytes, rates at most 10,000,000
KB/s: Toxiproxy takes int64, these are what a proxy can honour within a run.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from toxiproxy.exceptions import NotFound

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams
from ackguard.harness.faults.partition import ProxyPath
from ackguard.harness.scenario_fields import number, problem

__all__ = ["BUILT_IN_ONLY", "KIND", "TOXIC_ATTRIBUTES", "ToxicFault", "ToxicParams"]

_HOUR_MS = 3_600_000
_TERABYTE = 2**40


@dataclass(frozen=True, slots=True)
class _Attr:
    unit: str
    minimum: int = 0
    maximum: int = _HOUR_MS
    """Toxiproxy takes int64; the bounds are what a proxy can honour within a run (an hour, a
    terabyte), so a typo of a few extra digits is refused instead of overflowing."""


ToxicType = Literal[
    "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "noop",
    "pg_commit_ack_drop", "cut",
]  # fmt: skip

TOXIC_ATTRIBUTES: Mapping[str, Mapping[str, _Attr]] = {
    "latency": {"latency": _Attr("ms"), "jitter": _Attr("ms")},
    "bandwidth": {"rate": _Attr("KB/s", 1, 10_000_000)},
    "slow_close": {"delay": _Attr("ms")},
    "timeout": {"timeout": _Attr("ms")},
    "reset_peer": {"timeout": _Attr("ms")},
    "slicer": {
        "average_size": _Attr("bytes", 1, _TERABYTE),
        "size_variation": _Attr("bytes", 0, _TERABYTE),
        "delay": _Attr("us", 0, _HOUR_MS * 1000),
    },
    "limit_data": {"bytes": _Attr("bytes", 0, _TERABYTE)},
    "noop": {},
    "pg_commit_ack_drop": {"every": _Attr("count", 0, 1_000_000)},
    "cut": {"after_ms": _Attr("ms"), "after_messages": _Attr("messages", 0, 1_000_000_000)},
}
"""Every toxic type a scenario may use, with its attributes' units and bounds."""

BUILT_IN_ONLY = ("pg_commit_ack_drop", "cut")
"""Toxic types only ackguard's built-in proxy has (a real Toxiproxy refuses them)."""

_names = itertools.count(1)


def _attributes(kind: str, given: object) -> dict[str, int]:
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise ValueError("must be a mapping of attribute -> integer")
    table = TOXIC_ATTRIBUTES[kind]
    values: dict[str, int] = {}
    for name, value in given.items():
        if name not in table:
            known = ", ".join(table) or "none"
            raise problem((str(name),), f"not an attribute of {kind} (known: {known})", value)
        attr = table[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise problem((name,), f"must be an integer ({attr.unit}), got {value!r}", value)
        if value > attr.maximum:
            raise problem(
                (name,), f"must be at most {attr.maximum:,} ({attr.unit}), got {value:,}", value
            )
        values[str(name)] = value
    for name, attr in table.items():
        value = values.get(name, 0)
        if value < attr.minimum:
            bound = "> 0" if attr.minimum == 1 else f">= {attr.minimum}"
            raise problem((name,), f"must be {bound} ({attr.unit})", value)
    if kind == "slicer" and values.get("size_variation", 0) >= values["average_size"]:
        raise problem(("size_variation",), "must be < average_size (bytes)")
    if kind == "cut" and not (values.get("after_ms", 0) or values.get("after_messages", 0)):
        raise problem(("after_ms",), "set after_ms or after_messages (> 0)")
    return values


class ToxicParams(FaultParams):
    proxy: ProxyPath = Field(
        description="the path: service (practitioners -> service) or database (service -> "
        "database); it must be listed in system.proxy"
    )
    type: ToxicType = Field(description=", ".join(get_args(ToxicType)))
    stream: Literal["upstream", "downstream"] = Field(
        "downstream", description="upstream (requests) or downstream (answers)"
    )
    toxicity: Annotated[float, BeforeValidator(number(0.0, 1.0))] = Field(
        1.0, description="share of connections affected, 0..1"
    )
    attributes: dict[str, int] = Field(
        default_factory=dict,
        validate_default=True,
        description="the toxic's integer attributes, e.g. {latency: 200} (ms)",
    )

    @field_validator("attributes", mode="before")
    @classmethod
    def _known_attributes(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        return value if kind is None else _attributes(kind, value)  # a bad type is said first


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


def build(context: FaultContext, params: ToxicParams) -> ToxicFault:
    return ToxicFault(
        context, params.proxy, params.type, params.stream, params.toxicity, params.attributes
    )


KIND = FaultKind(
    name="toxic",
    summary="a Toxiproxy toxic on a proxy path for the window (params: proxy, type, attributes)",
    params=ToxicParams,
    build=build,
)
