"""The verifier protocol: one method, plus an optional ability to share the history index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ackguard.harness.final_read import FinalRead
from ackguard.harness.history import Op
from ackguard.harness.verifiers.index import HistoryIndex
from ackguard.harness.verifiers.result import Result

__all__ = ["IndexedVerifier", "Verifier"]


@runtime_checkable
class Verifier(Protocol):
    """Checks a run: its history and its final read (``None`` when the run never got one)."""

    name: str

    def check(self, history: Iterable[Op], final_read: FinalRead | None) -> Result: ...


@runtime_checkable
class IndexedVerifier(Verifier, Protocol):
    """A verifier that can work from the history grouped by record, so that :func:`compose`
    reads the history once for all of them."""

    def check_index(self, index: HistoryIndex, final_read: FinalRead | None) -> Result: ...
