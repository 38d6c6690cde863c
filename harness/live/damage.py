"""One live finding: an acknowledged write that a read-back begun after its acknowledgement
missed or saw damaged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["LiveDamage"]

DamageKind = Literal["lost", "corrupt", "misattributed"]


@dataclass(frozen=True, slots=True)
class LiveDamage:
    key: str
    """Idempotency key of the record."""
    kind: DamageKind
    practitioner_id: str | None
    patient_id: str | None
    fields: tuple[str, ...]
    """The fields that came back wrong (empty for a lost record)."""
    acknowledged_at_ns: int
    """History time of the acknowledgement the read-back missed."""
    detected_at_ns: int
    """History time the read-back that missed it completed."""
    read_index: int
    """History index of that read-back's completion."""

    @property
    def time_to_detect_s(self) -> float:
        return (self.detected_at_ns - self.acknowledged_at_ns) / 1e9
