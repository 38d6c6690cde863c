"""``history.jsonl`` as columns (numpy arrays), for the report, the timeline and the runs index.

The history is read by the verifiers' reader, :func:`harness.history_read.read_batches` (whole
blocks decoded in one call, the reference decoder line by line where a block is damaged), so
the report skips the same lines, names the same damaged line numbers and says the same torn
last line as the verdict does, whatever the key order or spacing of the file. Values are
decoded only as far as who wrote (:class:`_Who`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from ackguard.harness.history import NEMESIS, HistoryReading, Op
from ackguard.harness.history_read import paused_gc, read_batches

__all__ = ["TYPE_CODES", "Columns", "scan_history"]

TYPE_CODES = {"invoke": 0, "ok": 1, "fail": 2, "info": 3}
NOT_A_CLIENT = -1  # process column value of nemesis (and any other non-integer) processes
MAX_NAMED_LINES = 10  # damaged lines named by number; the rest only counted
_WRITES = ("create", "update")
_OK = TYPE_CODES["ok"]
_TIME, _PROCESS, _TYPE, _F = (attrgetter(name) for name in ("time", "process", "type", "f"))


@dataclass(frozen=True, slots=True)
class Columns:
    """The history as parallel arrays, in file order, plus the fault ops parsed in full.

    ``process`` is the client process id or ``NOT_A_CLIENT``; ``type`` a :data:`TYPE_CODES`
    value; ``f`` an index into ``f_names``. ``writers``/``patients`` hold who had an
    acknowledged create or update."""

    time: npt.NDArray[np.int64]
    process: npt.NDArray[np.int64]
    type: npt.NDArray[np.int8]
    f: npt.NDArray[np.int16]
    f_names: tuple[str, ...]
    nemesis: tuple[Op, ...]
    writers: frozenset[str]
    patients: frozenset[str]
    skipped_lines: int  # damaged lines (not the torn last one), skipped
    damaged_lines: tuple[int, ...] = ()  # their 1-based line numbers, the first few
    torn_last_line: bool = False  # the last line was cut (harness killed mid-write): ignored


def scan_history(path: Path) -> Columns:
    with paused_gc():  # millions of short-lived lines: no cycles to find among them
        return _scan(path)


def _scan(path: Path) -> Columns:
    reading = HistoryReading()
    f_table: dict[Any, int] = {}
    times: list[npt.NDArray[np.int64]] = []
    processes: list[npt.NDArray[np.int64]] = []
    types: list[npt.NDArray[np.int8]] = []
    fs: list[npt.NDArray[np.int16]] = []
    who: set[tuple[Any, Any]] = set()  # (practitioner, patient) of acknowledged writes
    for batch in read_batches(path, reading, value_type=_Who | None):
        size = len(batch)
        times.append(np.fromiter(map(_TIME, batch), np.int64, size))
        process = np.fromiter(map(_client, map(_PROCESS, batch)), np.int64, size)
        kinds = np.fromiter(map(TYPE_CODES.get, map(_TYPE, batch), repeat(-1)), np.int8, size)
        names = [f if f.__class__ is str else str(f) for f in map(_F, batch)]
        for name in set(names):
            f_table.setdefault(name, len(f_table))
        f = np.fromiter(map(f_table.__getitem__, names), np.int16, size)
        writes = [f_table[name] for name in _WRITES if name in f_table]
        acknowledged = np.flatnonzero((kinds == _OK) & (process >= 0) & np.isin(f, writes))
        for at in acknowledged.tolist():
            value = batch[at].value
            if value.__class__ is _Who:
                who.add((value.practitioner_id, value.patient_id))
            elif value.__class__ is dict:  # a block the reference decoder read: values in full
                who.add((value.get("practitioner_id"), value.get("patient_id")))
        processes.append(process)
        types.append(kinds)
        fs.append(f)
    damaged = reading.damaged_lines
    nemesis = [op for _, op in reading.system_ops if op.process == NEMESIS]
    return Columns(
        time=np.concatenate(times) if times else np.zeros(0, np.int64),
        process=np.concatenate(processes) if processes else np.zeros(0, np.int64),
        type=np.concatenate(types) if types else np.zeros(0, np.int8),
        f=np.concatenate(fs) if fs else np.zeros(0, np.int16),
        f_names=tuple(sorted(f_table, key=f_table.__getitem__)),
        nemesis=tuple(sorted(nemesis, key=lambda op: op.index)),
        writers=frozenset(str(w) for w, _ in who if w is not None and w != ""),
        patients=frozenset(str(p) for _, p in who if p is not None and p != ""),
        skipped_lines=len(damaged),
        damaged_lines=tuple(damaged[:MAX_NAMED_LINES]),
        torn_last_line=reading.torn_last_line,
    )


def _client(process: Any) -> int:
    """A client process id, or ``NOT_A_CLIENT`` for ``nemesis``, ``harness`` and the like."""
    return int(process) if process.__class__ is int else NOT_A_CLIENT


class _Who(msgspec.Struct, gc=False):
    """The two keys of a client op's value that say who wrote (the rest is skipped, not
    decoded: there are millions of values)."""

    practitioner_id: Any = None
    patient_id: Any = None
