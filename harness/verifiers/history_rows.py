"""The fast way to read ``history.jsonl`` for the verifiers: plain rows, no :class:`Op` objects.

The same reader as :func:`harness.history.read_history` (:func:`harness.history.read_lines`:
a torn last line is skipped and said, a damaged line elsewhere is named by its number), but each
line becomes a :data:`~harness.verifiers.index.Row` tuple.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ackguard.harness.history import HistoryReading, read_lines
from ackguard.harness.verifiers.index import Row

__all__ = ["history_rows"]


def history_rows(path: Path, reading: HistoryReading | None = None) -> Iterator[Row]:
    """Every line of ``path`` as ``(time, process, type, f, key, value)``. Damage is said in
    ``reading`` when one is given, and is a ``ValueError`` otherwise."""
    return read_lines(path, _row, reading)


def _row(data: Any) -> Row:
    return (
        int(data["time"]),
        data["process"],
        data["type"],
        data["f"],
        data.get("key"),
        data.get("value"),
    )
