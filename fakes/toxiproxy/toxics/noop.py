"""``noop``: passes every byte through unchanged (no attributes)."""

from __future__ import annotations

from ackguard.fakes.toxiproxy.toxics.base import ToxicType

__all__ = ["Noop"]


class Noop(ToxicType):
    name = "noop"
    summary = "passes data through unchanged"
