"""Fault kind ``partition``: a proxy path goes down for the window. Its listener closes and every
open connection through it is dropped (new ones are refused); healing enables it again."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams

__all__ = ["KIND", "PartitionFault", "PartitionParams", "ProxyPath"]

ProxyPath = Literal["service", "database"]


class PartitionFault:
    """Disables a proxy (``start``) and enables it again (``stop``, idempotent)."""

    def __init__(self, context: FaultContext, path: str) -> None:
        self._context = context
        self.path = path
        self.name = f"partition:{path}"
        self.description = (
            f"partition of the {path} path: its connections dropped, new ones refused"
        )
        self._down = False

    def _proxy(self) -> Any:
        proxy = self._context.component("proxy").client.get_proxy(self.path)
        if proxy is None:
            raise RuntimeError(
                f"the proxy server has no {self.path!r} proxy (list it in system.proxy)"
            )
        return proxy

    def start(self) -> None:
        self._down = True  # before the call: a half-done start is healed too
        self._proxy().disable()

    def stop(self) -> None:
        if self._down:
            self._proxy().enable()
            self._down = False


class PartitionParams(FaultParams):
    proxy: ProxyPath = Field(
        description="the path: service (practitioners -> service) or database (service -> "
        "database); it must be listed in system.proxy"
    )


def build(context: FaultContext, params: PartitionParams) -> PartitionFault:
    return PartitionFault(context, params.proxy)


KIND = FaultKind(
    name="partition",
    summary="a proxy path is down for the window: connections dropped, new ones refused",
    params=PartitionParams,
    build=build,
)
