"""``history.jsonl`` as plain rows, for callers that want tuples.

The same reader as the verifiers' (:func:`harness.history_read.read_batches`: a torn last line
is skipped and said, a damaged line elsewhere is named by its number), each line as a
:data:`~harness.verifiers.index.Row` tuple.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ackguard.harness.history import HistoryReading
from ackguard.harness.history_read import read_batches
from ackguard.harness.verifiers.index import Row

__all__ = ["history_rows"]


def history_rows(path: Path, reading: HistoryReading | None = None) -> Iterator[Row]:
    """Every line of ``path`` as ``(time, process, type, f, key, value)``. Damage is said in
    ``reading`` when one is given, and is a ``ValueError`` otherwise."""
    for batch in read_batches(path, reading):
        for op in batch:
            yield (op.time, op.process, op.type, op.f, op.key, op.value)
