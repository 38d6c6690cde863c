"""Recording practitioners' operations in the history, and their process ids.

A practitioner acts as one client *process* (an integer) until one of its operations ends
``info``: nobody knows whether that operation took effect, so, as in Jepsen, the practitioner
continues under a fresh process id drawn from one counter shared by the whole workload.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from ackguard.harness.history import HistoryWriter, OpType
from ackguard.harness.history_values import ClientValue, Digest, digest_values

__all__ = ["OpRecorder"]


class OpRecorder:
    """Writes invokes and completions, each value typed by its kind of op
    (:mod:`harness.history_values`); does nothing (and digests nothing) without a history."""

    def __init__(self, history: HistoryWriter | None, first_free_process: int) -> None:
        self.history = history
        self._processes = itertools.count(first_free_process)

    @property
    def enabled(self) -> bool:
        return self.history is not None

    def new_process(self) -> int:
        return next(self._processes)

    def digests(self, fields: Mapping[str, str | None]) -> dict[str, Digest | None]:
        return digest_values(fields) if self.history is not None else {}

    def record(
        self,
        process: int,
        type_: OpType,
        f: str,
        key: str | None,
        value: ClientValue,
        error: str | None = None,
    ) -> None:
        if self.history is not None:
            self.history.record_typed(process, type_, f, key, value, error)
