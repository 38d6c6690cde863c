"""Simulated practice time: when, in the practitioners' simulated days, the consultations were.

A run of a minute covers days of practice (``time_scale``), but the simulated clock is not a
linear function of wall time: each load user jumps across nights and idle gaps on its own. So
the only honest simulated times are the ones the history recorded: every create carries its
consultation's simulated start in ``value.started_at``. The run's practice window is the first
and last of them; a damaged record's practice time is its own create's.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path

__all__ = ["consultation_times", "practice_window"]

_CHUNK_BYTES = 32 << 20
_STARTED = re.compile(rb'"started_at":"(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)?)"')
_CHARS = rb'[^"\\]*(?:\\.[^"\\]*)*'
_CREATE_INVOKE = re.compile(
    rb'"type":"invoke","f":"create","key":"('
    + _CHARS
    + rb')","value":\{"practitioner_id":(?:"'
    + _CHARS
    + rb'"|null),"patient_id":(?:"'
    + _CHARS
    + rb'"|null),"started_at":"([^"\\]*)"'
)


def practice_window(history: Path) -> tuple[datetime, datetime] | None:
    """The simulated start of the first and of the last consultation created, or ``None`` when
    the history records no simulated time."""
    # Same offset: the ISO text sorts like the moment; offsets can differ across a DST change.
    per_offset: dict[bytes, tuple[bytes, bytes]] = {}
    for data, start, end in _chunks(history):
        found = _STARTED.findall(data, start, end)
        by_offset: dict[bytes, list[bytes]] = {}
        for text in found:
            by_offset.setdefault(text[-6:], []).append(text)
        for offset, texts in by_offset.items():
            low, high = min(texts), max(texts)
            if offset in per_offset:
                known = per_offset[offset]
                low, high = min(low, known[0]), max(high, known[1])
            per_offset[offset] = (low, high)
    moments = [m for pair in per_offset.values() for text in pair if (m := _moment(text))]
    return (min(moments), max(moments)) if moments else None


def consultation_times(history: Path, keys: Collection[str]) -> dict[str, datetime]:
    """The simulated start of the consultation each of ``keys`` was created for."""
    wanted = set(keys)
    found: dict[str, datetime] = {}
    if not wanted:
        return found
    for data, start, end in _chunks(history):
        for match in _CREATE_INVOKE.finditer(data, start, end):
            key = _key(match.group(1))
            if key in wanted and key not in found and (moment := _moment(match.group(2))):
                found[key] = moment
        if len(found) == len(wanted):
            break
    return found


def _chunks(history: Path) -> Iterator[tuple[mmap.mmap | bytes, int, int]]:
    """(data, start, end) of runs of whole lines: a match never spans two chunks."""
    if not history.is_file():
        return
    with history.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        if not size:
            return
        data = mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        start = 0
        while start < size:
            newline = data.find(b"\n", min(start + _CHUNK_BYTES, size - 1))
            end = size if newline < 0 else newline + 1
            yield data, start, end
            start = end
    finally:
        with contextlib.suppress(BufferError):
            data.close()


def _moment(text: bytes) -> datetime | None:
    try:
        return datetime.fromisoformat(text.decode("ascii"))
    except ValueError:
        return None


def _key(raw: bytes) -> str:
    if b"\\" in raw:
        decoded: str = json.loads(b'"' + raw + b'"')
        return decoded
    return raw.decode("utf-8", "replace")
