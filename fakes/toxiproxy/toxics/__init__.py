"""The toxics, one module each, and the explicit table the API looks types up in."""

from __future__ import annotations

from collections.abc import Mapping

from ackguard.fakes.toxiproxy.toxics.bandwidth import Bandwidth
from ackguard.fakes.toxiproxy.toxics.base import (
    Attribute,
    AttributeValues,
    BadAttribute,
    Chunk,
    Out,
    Stage,
    StageContext,
    ToxicType,
)
from ackguard.fakes.toxiproxy.toxics.cut import Cut
from ackguard.fakes.toxiproxy.toxics.latency import Latency
from ackguard.fakes.toxiproxy.toxics.limit_data import LimitData
from ackguard.fakes.toxiproxy.toxics.noop import Noop
from ackguard.fakes.toxiproxy.toxics.pg_commit_ack_drop import PgCommitAckDrop
from ackguard.fakes.toxiproxy.toxics.reset_peer import ResetPeer
from ackguard.fakes.toxiproxy.toxics.slicer import Slicer
from ackguard.fakes.toxiproxy.toxics.slow_close import SlowClose
from ackguard.fakes.toxiproxy.toxics.timeout import Timeout

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
