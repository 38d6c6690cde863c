"""The verdict in words read at a glance, and small formatters the pages share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from ackguard.harness.verifiers.result import Valid

__all__ = [
    "DAMAGE_CLASSES",
    "MISATTRIBUTED_WORDS",
    "SHOWN_CLASSES",
    "damage_counts",
    "duration",
    "number",
    "percent",
    "plural",
    "practice",
    "seconds",
    "verdict_class",
    "wall",
]

SHOWN_CLASSES = (
    "acknowledged",
    "intact",
    "lost",
    "corrupt",
    "recovered",
    "phantom",
    "duplicate",
    "indeterminate",
)
"""The record classes the verdict banner shows, in order."""
DAMAGE_CLASSES = ("lost", "corrupt", "duplicate", "phantom", "misattributed", "unexpected")
"""Classes of records in violation, in the order pages show them."""
MISATTRIBUTED_WORDS = {
    "record": "the stored record belongs to",
    "id": "its acknowledged id now holds the record of",
    "create": "its create was acknowledged with the record of",
    "update": "an update of it was acknowledged with the record of",
    "read": "a read of it returned the record of",
    "note": "a note written to it was filed in the record of",
}
"""How a misattributed record reached the other patient, by the anomaly's ``via``."""
_NOT_DAMAGE = ("attempted", "acknowledged", "intact", "recovered", "indeterminate", "failed")
DASH = "\u2013"  # what a page shows for a value it does not have


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def verdict_class(valid: Valid | None) -> str:
    if valid is True:
        return "pass"
    if valid is False:
        return "fail"
    return "none" if valid is None else "unknown"


def damage_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The damage classes a verdict counts, non-zero ones only: the known ones in order, then
    any class a newer verifier adds (every count that is not a plain tally of records)."""
    extra = sorted(
        name for name in counts if name not in _NOT_DAMAGE and name not in DAMAGE_CLASSES
    )
    return {
        name: int(counts[name])
        for name in (*DAMAGE_CLASSES, *extra)
        if isinstance(counts.get(name), int) and counts[name] > 0
    }


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{value:,.{digits}f}"


def seconds(value: float | None) -> str:
    return DASH if value is None else f"{value:,.3f} s"


def duration(value: float | None) -> str:
    """A span for humans: 850 ms, 12.4 s, 3 min 20 s, 2 h 05 min."""
    if value is None:
        return DASH
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def wall(moment: datetime | None) -> str:
    if moment is None:
        return DASH
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def practice(moment: datetime | None) -> str:
    """A simulated practice moment, in the practice's own time zone: Mon 2026-11-30 09:15."""
    if moment is None:
        return DASH
    offset = moment.strftime("%z")  # "" for a naive moment, else +HHMM
    if not offset:
        return moment.strftime("%a %Y-%m-%d %H:%M")
    zone = "UTC" if offset == "+0000" else f"{offset[:3]}:{offset[3:5]}"
    return moment.strftime("%a %Y-%m-%d %H:%M ") + zone


def percent(count: int, out_of: int | None) -> str:
    if not out_of:
        return DASH
    return f"{100.0 * count / out_of:.1f}%"
