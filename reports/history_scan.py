"""``history.jsonl`` as columns (numpy arrays), for the report, the timeline and the runs index.

The history is read by the verifiers' reader, :func:`harness.history_read.read_batches` (whole
blocks decoded in one call, the reference decoder line by line where a block is damaged), so
the report skips the same lines, names the same damaged line numbers and says the same torn
last line as the verdict does, whatever the key order or spacing of the file. Values are
decoded only as far as who wrote and when, in simulated time, a create's consultation is
(:class:`_Who`), in the same single pass.

Simulated practice time: a run of a minute covers days of practice (``time_scale``), but the
simulated clock is not a linear function of wall time (each load user jumps across nights and
idle gaps on its own), so the only honest simulated times are the ones the history recorded:
every create carries its consultation's simulated start in ``value.started_at``. The run's
practice window is the first and last of them (:attr:`Columns.practice_window`); a damaged
record's practice time is its own create's (:attr:`Columns.consultation_times`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
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
_INVOKE, _OK = TYPE_CODES["invoke"], TYPE_CODES["ok"]
_TIME, _PROCESS, _TYPE, _F = (attrgetter(name) for name in ("time", "process", "type", "f"))
_VALUE_STARTED, _VALUE_WRITER, _VALUE_PATIENT = (
    attrgetter(f"value.{name}") for name in ("started_at", "practitioner_id", "patient_id")
)


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
    practice_window: tuple[datetime, datetime] | None = None  # first and last create's start
    consultation_times: Mapping[str, datetime] = field(default_factory=dict)  # keys asked for


def scan_history(path: Path, keys: Collection[str] = ()) -> Columns:
    """The history's columns, in one pass. ``keys``: the consultations whose simulated start
    (:attr:`Columns.consultation_times`) the caller wants, such as the damaged ones."""
    with paused_gc():  # millions of short-lived lines: no cycles to find among them
        return _scan(path, frozenset(keys))


def _scan(path: Path, wanted: frozenset[str]) -> Columns:
    reading = HistoryReading()
    f_table: dict[Any, int] = {}
    times: list[npt.NDArray[np.int64]] = []
    processes: list[npt.NDArray[np.int64]] = []
    types: list[npt.NDArray[np.int8]] = []
    fs: list[npt.NDArray[np.int16]] = []
    who: set[tuple[Any, Any]] = set()  # (practitioner, patient) of acknowledged writes
    practice = _Practice()
    started: dict[str, str] = {}  # wanted key -> its create's simulated start (ISO text)
    for batch in read_batches(path, reading, value_type=_Who | None):
        size = len(batch)
        times.append(np.fromiter(map(_TIME, batch), np.int64, size))
        process = np.array(
            [p if p.__class__ is int else NOT_A_CLIENT for p in map(_PROCESS, batch)], np.int64
        )
        kinds = np.fromiter(map(TYPE_CODES.get, map(_TYPE, batch), repeat(-1)), np.int8, size)
        names = [f if f.__class__ is str else str(f) for f in map(_F, batch)]
        for name in set(names):
            f_table.setdefault(name, len(f_table))
        f = np.fromiter(map(f_table.__getitem__, names), np.int16, size)
        client = process >= 0
        writes = [f_table[name] for name in _WRITES if name in f_table]
        acknowledged = np.flatnonzero((kinds == _OK) & client & np.isin(f, writes))
        _add_writers(who, list(map(batch.__getitem__, acknowledged.tolist())))
        if "create" in f_table:
            invoked = (kinds == _INVOKE) & client & (f == f_table["create"])
            creates = list(map(batch.__getitem__, np.flatnonzero(invoked).tolist()))
            texts = _started_texts(creates)
            practice.add([t for t in texts if t.__class__ is str])
            if wanted:
                for op, text in zip(creates, texts, strict=True):
                    if op.key in wanted and text.__class__ is str:
                        started.setdefault(op.key, text)
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
        practice_window=practice.window(),
        consultation_times={
            key: moment for key, text in started.items() if (moment := _moment(text))
        },
    )


def _add_writers(who: set[tuple[Any, Any]], writes: list[Any]) -> None:
    """(practitioner, patient) of each acknowledged write into ``who``."""
    try:  # values decoded as _Who: C-level passes
        who.update(zip(map(_VALUE_WRITER, writes), map(_VALUE_PATIENT, writes), strict=True))
    except AttributeError:
        for op in writes:
            value = op.value
            if value.__class__ is _Who:
                who.add((value.practitioner_id, value.patient_id))
            elif value.__class__ is dict:  # a block the reference decoder read: values in full
                who.add((value.get("practitioner_id"), value.get("patient_id")))


def _started_texts(creates: list[Any]) -> list[Any]:
    """Each create's ``value.started_at``: its consultation's simulated start, as written."""
    try:
        return list(map(_VALUE_STARTED, creates))  # values decoded as _Who: one C-level pass
    except AttributeError:  # values read in full (a block the reference decoder read)
        return [_started_at(op.value) for op in creates]


def _started_at(value: Any) -> Any:
    if value.__class__ is _Who:
        return value.started_at
    return value.get("started_at") if value.__class__ is dict else None


class _Practice:
    """The first and last simulated start seen. ISO texts with one UTC offset sort like their
    moments, so each offset keeps its own least and greatest text (offsets differ across a
    daylight-saving change) and only those few are parsed."""

    def __init__(self) -> None:
        self._bounds: dict[str, tuple[str, str]] = {}

    def add(self, texts: list[str]) -> None:
        if not texts:
            return
        first = texts[0][-6:]
        same = all(map(str.endswith, texts, repeat(first)))  # the common case, at C speed
        offsets = {first} if same else {text[-6:] for text in texts}
        for offset in offsets:
            mine = texts if len(offsets) == 1 else [t for t in texts if t[-6:] == offset]
            low, high = min(mine), max(mine)
            known = self._bounds.get(offset)
            if known is not None:
                low, high = min(low, known[0]), max(high, known[1])
            self._bounds[offset] = (low, high)

    def window(self) -> tuple[datetime, datetime] | None:
        moments = [m for pair in self._bounds.values() for t in pair if (m := _moment(t))]
        return (min(moments), max(moments)) if moments else None


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class _Who(msgspec.Struct, gc=False):
    """The keys of a client op's value that say who wrote and, for a create, the simulated
    start of its consultation (the rest is skipped, not decoded: there are millions of values)."""

    practitioner_id: Any = None
    patient_id: Any = None
    started_at: Any = None
