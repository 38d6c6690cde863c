"""The toxics, one module each, and the explicit table the API looks types up in."""

from __future__ import annotations

from collections.abc import Mapping

from fakes.toxiproxy.toxics.bandwidth import Bandwidth
from fakes.toxiproxy.toxics.base import (
    Attribute,
    AttributeValues,
    BadAttribute,
    Chunk,
    Out,
    Stage,
    StageContext,
    ToxicType,
)
from fakes.toxiproxy.toxics.cut import Cut
from fakes.toxiproxy.toxics.latency import Latency
from fakes.toxiproxy.toxics.limit_data import LimitData
from fakes.toxiproxy.toxics.noop import Noop
from fakes.toxiproxy.toxics.pg_commit_ack_drop import PgCommitAckDrop
from fakes.toxiproxy.toxics.reset_peer import ResetPeer
from fakes.toxiproxy.toxics.slicer import Slicer
from fakes.toxiproxy.toxics.slow_close import SlowClose
from fakes.toxiproxy.toxics.timeout import Timeout

__all__ = [
    "TOXICS",
    "Attribute",
    "AttributeValues",
    "BadAttribute",
    "Chunk",
    "Out",
    "Stage",
    "StageContext",
    "ToxicType",
]

TOXICS: Mapping[str, type[ToxicType]] = {
    toxic.name: toxic
    for toxic in (
        Noop,
        Latency,
        Bandwidth,
        SlowClose,
        Timeout,
        ResetPeer,
        Slicer,
        LimitData,
        PgCommitAckDrop,
        Cut,
    )
}
"""Every toxic type by the name the API uses. A new toxic is a module and a line here."""
