"""The verdict in words read at a glance, and small formatters the pages share."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from harness.verifiers.result import Valid, Verdict

__all__ = [
    "SHOWN_CLASSES",
    "duration",
    "number",
    "percent",
    "plural",
    "seconds",
    "verdict_class",
    "verdict_words",
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
DASH = "\u2013"  # what a page shows for a value it does not have


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def verdict_class(valid: Valid | None) -> str:
    if valid is True:
        return "pass"
    if valid is False:
        return "fail"
    return "none" if valid is None else "unknown"


def verdict_words(verdict: Verdict | None, missing: tuple[str, ...] = ()) -> str:
    if verdict is None:
        why = "the run was cut short before it was verified" if missing else "no verdict"
        return f"UNKNOWN: no verdict ({why})"
    counts = verdict.counts
    if verdict.valid is True:
        return "PASS: no acknowledged record was lost or damaged"
    if verdict.valid is False:
        lost, corrupt = counts.get("lost", 0), counts.get("corrupt", 0)
        parts = []
        if lost or corrupt:
            lead = plural(lost or corrupt, "acknowledged record")
            parts.append(f"{lead} {'lost' if lost else 'corrupt'}")
            if lost and corrupt:
                parts.append(f"{corrupt:,} corrupt")
        parts += [
            f"{counts.get(kind, 0):,} {word}"
            for kind, word in (("duplicate", "duplicated"), ("phantom", "phantom"))
            if counts.get(kind, 0)
        ]
        failing = [r.name for r in verdict.results if r.valid is False]
        return "FAIL: " + (", ".join(parts) or "violation found by " + ", ".join(failing))
    reasons = [
        r.error or f"{r.name} could not tell" for r in verdict.results if r.valid is not True
    ]
    return "UNKNOWN: " + ("; ".join(reasons) or "nothing could be verified")


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


def percent(count: int, out_of: int | None) -> str:
    if not out_of:
        return DASH
    return f"{100.0 * count / out_of:.1f}%"
