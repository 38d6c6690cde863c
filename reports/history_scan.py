"""``history.jsonl`` as columns (numpy arrays), for the report, the timeline and the runs index.

The history is read by the verifiers' reader (:func:`harness.history_read.read_range_batches`,
read_batches over a byte range: whole blocks decoded in one call, the reference decoder line by
line where a block is damaged), so
the report skips the same lines, names the same damaged line numbers and says the same torn
last line as the verdict does, whatever the key order or spacing of the file. Values are
decoded only as far as who wrote and when, in simulated time, a create's consultation is
(:class:`_Who`), in the same single pass.

A large history is scanned in parts, one per core (byte ranges cut at line starts, each read
in a worker process of its own, the first in this one) and the parts joined in file order:
every line is read on its own, and what crosses lines (the writers, the practice window, the
damaged line numbers) merges exactly, so the columns are those of one pass. A history below
twice :data:`PART_BYTES` is read here in one part: a worker costs 0.2-0.3 s of CPU to start.

Simulated practice time: a run of a minute covers days of practice (``time_scale``), but the
simulated clock is not a linear function of wall time (each load user jumps across nights and
idle gaps on its own), so the only honest simulated times are the ones the history recorded:
every create carries its consultation's simulated start in ``value.started_at``. The run's
practice window is the first and last of them (:attr:`Columns.practice_window`); a damaged
record's practice time is its own create's (:attr:`Columns.consultation_times`).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from collections.abc import Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from ackguard.harness.cores import usable_cores
from ackguard.harness.history import NEMESIS, HistoryReading, Op
from ackguard.harness.history_read import Line, paused_gc, read_range_batches

__all__ = ["PART_BYTES", "TYPE_CODES", "Columns", "scan_history"]

TYPE_CODES = {"invoke": 0, "ok": 1, "fail": 2, "info": 3}
NOT_A_CLIENT = -1  # process column value of nemesis (and any other non-integer) processes
MAX_NAMED_LINES = 10  # damaged lines named by number; the rest only counted
PART_BYTES = 64 << 20
"""History bytes per process at least: below twice this, one process reads it all."""
_MOST_PARTS = 8  # each a worker process holding its part's columns
_HEAD_START_BYTES = 16 << 20  # a worker takes 0.25 s to start, then reads faster than here
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

    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def by_process(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int8]]:
        """The client ops' indices grouped by process, in file order within each, and their
        process and type in that order: a process runs one op at a time, so an invoke's
        completion is the next line of its group. Computed once (the timeline and the index
        figures both pair ops)."""
        found = self._memo.get("by_process")
        if found is None:
            client = np.flatnonzero(self.process >= 0)
            processes = self.process[client]
            if processes.size and processes.max() <= np.iinfo(np.int16).max:
                processes = processes.astype(np.int16)  # a stable sort of 16 bits: a radix sort
            order = client[np.argsort(processes, kind="stable")]
            found = self._memo["by_process"] = (order, self.process[order], self.type[order])
        return found


def scan_history(path: Path, keys: Collection[str] = (), *, parts: int | None = None) -> Columns:
    """The history's columns, in one pass. ``keys``: the consultations whose simulated start
    (:attr:`Columns.consultation_times`) the caller wants, such as the damaged ones.
    ``parts``: how many processes read it (default: one per :data:`PART_BYTES`, at most one per
    core)."""
    wanted = frozenset(keys)
    size = path.stat().st_size
    count = max(1, parts if parts is not None else min(_cores(), size // PART_BYTES))
    if not sys.executable:  # an embedded interpreter: no Python to start workers with
        count = 1
    ranges = _ranges(path, size, count)
    if len(ranges) == 1:
        return _join([_scan_part(path, 0, None, wanted)])
    with ThreadPoolExecutor(len(ranges) - 1) as waiting:  # threads that wait on the processes
        later = [waiting.submit(_scan_elsewhere, path, a, b, wanted) for a, b in ranges[1:]]
        scanned = [_scan_part(path, *ranges[0], wanted)]  # meanwhile, here
        for (start, stop), future in zip(ranges[1:], later, strict=True):
            part = future.result()
            scanned.append(part if part is not None else _scan_part(path, start, stop, wanted))
    return _join(scanned)


# A worker is a fresh interpreter that imports only this module's needs: not multiprocessing,
# whose "spawn" runs the caller's main script again in each worker and "fork" copies threads'
# locks mid-use. It reads (sys.path, arguments) pickled on stdin and writes its _Part pickled on
# what was its stdout (anything else printed there goes to stderr).
_WORKER = (
    "import os, pickle, sys; out = os.fdopen(os.dup(1), 'wb'); os.dup2(2, 1); "
    "where, args = pickle.load(sys.stdin.buffer); sys.path[:0] = where; "
    "from ackguard.reports.history_scan import _scan_part; "
    "out.write(pickle.dumps(_scan_part(*args), pickle.HIGHEST_PROTOCOL)); out.flush(); os._exit(0)"
)


def _scan_elsewhere(
    path: Path, start: int, stop: int | None, wanted: frozenset[str]
) -> _Part | None:
    """The part scanned by a worker process; ``None`` (with a warning) if the worker failed,
    and the caller reads the part itself (where a real error, say an unreadable file, shows)."""
    request = pickle.dumps((sys.path, (path, start, stop, wanted)), pickle.HIGHEST_PROTOCOL)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _WORKER], input=request, capture_output=True, check=False
        )
        if done.returncode == 0:
            part = pickle.loads(done.stdout)
            if isinstance(part, _Part):
                return part
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [
            f"exit status {done.returncode}"
        ]
    except Exception as exc:  # whatever failed (starting it, its answer), the part is read here
        why = [f"{type(exc).__name__}: {exc}"]
    warnings.warn(
        f"history scan worker failed ({why[0]}): part read in this process", RuntimeWarning, 2
    )
    return None


def _cores() -> int:
    """The CPUs this process may use (:func:`harness.cores.usable_cores`), at most
    :data:`_MOST_PARTS`."""
    return min(usable_cores(), _MOST_PARTS)


def _ranges(path: Path, size: int, count: int) -> list[tuple[int, int | None]]:
    """``count`` byte ranges of about equal size, cut just after a newline; the last one runs
    to the end of the file (``None``), as it may have grown since its size was taken. The
    first, read in this process, is longer by what it reads while the workers start."""
    head = min(_HEAD_START_BYTES, size // count)
    cuts = [0]
    with path.open("rb") as source:
        for part in range(1, count):
            at = max(head + (size - head) * part // count, cuts[-1])
            source.seek(at)
            while at < size:  # to the next line start
                chunk = source.read(1 << 16)
                newline = chunk.find(b"\n")
                if newline >= 0 or not chunk:
                    at += newline + 1 if newline >= 0 else len(chunk)
                    break
                at += len(chunk)
            if cuts[-1] < at < size:
                cuts.append(at)
    ranges: list[tuple[int, int | None]] = [*pairwise(cuts)]
    return [*ranges, (cuts[-1], None)]


@dataclass(slots=True)
class _Part:
    """What one byte range holds: its columns (``f`` as codes into its own ``f_names``), and
    what :class:`HistoryReading` found in it, line numbers counted from the range's start."""

    time: npt.NDArray[np.int64]
    process: npt.NDArray[np.int64]
    type: npt.NDArray[np.int8]
    f: npt.NDArray[np.int16]
    f_names: list[str]
    lines: int
    reading: HistoryReading
    writers: set[Any]
    patients: set[Any]
    practice: _Practice
    started: dict[str, str]  # wanted key -> its first create's simulated start (ISO text)


def _scan_part(path: Path, start: int, stop: int | None, wanted: frozenset[str]) -> _Part:
    with paused_gc():  # millions of short-lived lines: no cycles to find among them
        return _read_part(path, start, stop, wanted)


def _read_part(path: Path, start: int, stop: int | None, wanted: frozenset[str]) -> _Part:
    reading = HistoryReading()
    f_table: dict[Any, int] = {}
    times: list[npt.NDArray[np.int64]] = []
    processes: list[npt.NDArray[np.int64]] = []
    types: list[npt.NDArray[np.int8]] = []
    fs: list[npt.NDArray[np.int16]] = []
    writers, patients = _Ids(), _Ids()
    practice = _Practice()
    started: dict[str, str] = {}
    batches = read_range_batches(path, reading, start, stop, value_type=_Who | None)
    system = 0  # system ops seen so far: a typed batch with none new has integer processes
    is_write = np.zeros(0, np.bool_)  # by f code: a create or an update
    for batch in batches:
        size = len(batch)
        typed = batch[0].__class__ is not Line  # decoded in one call: fields of known types
        times.append(np.fromiter(map(_TIME, batch), np.int64, size))
        if typed and len(reading.system_ops) == system:
            process = np.fromiter(map(_PROCESS, batch), np.int64, size)
        else:
            process = np.array(
                [p if p.__class__ is int else NOT_A_CLIENT for p in map(_PROCESS, batch)],
                np.int64,
            )
        system = len(reading.system_ops)
        kinds = np.fromiter(map(TYPE_CODES.get, map(_TYPE, batch), repeat(-1)), np.int8, size)
        f = _f_codes(batch, typed, f_table)
        if len(is_write) < len(f_table):
            is_write = np.array([name in _WRITES for name in f_table], np.bool_)
        client = process >= 0
        acknowledged = np.flatnonzero((kinds == _OK) & client & is_write[f])
        _add_writers(writers, patients, list(map(batch.__getitem__, acknowledged.tolist())))
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
    return _Part(
        time=_joined(times, np.int64),
        process=_joined(processes, np.int64),
        type=_joined(types, np.int8),
        f=_joined(fs, np.int16),
        f_names=list(f_table),
        lines=reading.lines,
        reading=reading,
        writers=writers.found(),
        patients=patients.found(),
        practice=practice,
        started=started,
    )


def _f_codes(batch: list[Any], typed: bool, table: dict[Any, int]) -> npt.NDArray[np.int16]:
    """The batch's ``f`` as codes into ``table``, which gains new names in order of first sight."""

    def names() -> Iterator[Any]:
        if typed:  # decoded as text
            return map(_F, batch)
        return (f if f.__class__ is str else str(f) for f in map(_F, batch))

    codes = np.fromiter(map(table.get, names(), repeat(-1)), np.int16, len(batch))
    if codes.size and codes.min() < 0:  # a name not seen before (a few times per history)
        for name in dict.fromkeys(names()):
            table.setdefault(name, len(table))
        codes = np.fromiter(map(table.__getitem__, names()), np.int16, len(batch))
    return codes


def _join(parts: list[_Part]) -> Columns:
    """The parts' columns end to end, their line numbers shifted by the lines before them."""
    f_table: dict[str, int] = {}
    fs: list[npt.NDArray[np.int16]] = []
    damaged: list[int] = []
    writers: set[Any] = set()
    patients: set[Any] = set()
    practice = _Practice()
    started: dict[str, str] = {}
    before = 0
    for part in parts:
        for name in part.f_names:
            f_table.setdefault(name, len(f_table))
        codes = np.array([f_table[name] for name in part.f_names], np.int16)
        fs.append(codes[part.f] if part.f.size else part.f)
        damaged.extend(before + number for number in part.reading.damaged_lines)
        writers |= part.writers
        patients |= part.patients
        practice.merge(part.practice)
        for key, text in part.started.items():
            started.setdefault(key, text)
        before += part.lines
    nemesis = [op for part in parts for _, op in part.reading.system_ops if op.process == NEMESIS]
    return Columns(
        time=_joined([part.time for part in parts], np.int64),
        process=_joined([part.process for part in parts], np.int64),
        type=_joined([part.type for part in parts], np.int8),
        f=_joined(fs, np.int16),
        f_names=tuple(f_table),
        nemesis=tuple(sorted(nemesis, key=lambda op: op.index)),
        writers=frozenset(str(w) for w in writers if w is not None and w != ""),
        patients=frozenset(str(p) for p in patients if p is not None and p != ""),
        skipped_lines=len(damaged),
        damaged_lines=tuple(damaged[:MAX_NAMED_LINES]),
        torn_last_line=parts[-1].reading.torn_last_line,
        practice_window=practice.window(),
        consultation_times={
            key: moment for key, text in started.items() if (moment := _moment(text))
        },
    )


def _joined(arrays: list[npt.NDArray[Any]], dtype: type[Any]) -> npt.NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype)


def _add_writers(writers: _Ids, patients: _Ids, writes: list[Any]) -> None:
    """The practitioner and the patient of each acknowledged write into ``writers``/``patients``."""
    try:  # values decoded as _Who: C-level passes
        writers.add(list(map(_VALUE_WRITER, writes)))
        patients.add(list(map(_VALUE_PATIENT, writes)))
    except AttributeError:
        for op in writes:
            value = op.value
            if value.__class__ is _Who:
                writers.add([value.practitioner_id])
                patients.add([value.patient_id])
            elif value.__class__ is dict:  # a block the reference decoder read: values in full
                writers.add([value.get("practitioner_id")])
                patients.add([value.get("patient_id")])


class _Ids:
    """A set of ids (texts; any other JSON value but null as its text), gathered a block at a
    time. Ids written as decimal integers (digits, no leading zero, as the service numbers its
    rows) are kept as numbers in arrays and made texts once at the end: a set of 36,000 texts
    probed a million times misses the CPU's caches on nearly every probe (a third of the scan's
    CPU time at 1M ops), appending to an array does not."""

    _LONGEST = 18  # digits: any such number fits 64 bits

    def __init__(self) -> None:
        self._others: set[Any] = set()
        self._numbers: list[npt.NDArray[np.int64]] = []

    def add(self, ids: list[Any]) -> None:
        try:
            text = ",".join(ids)  # TypeError: one is not a text
        except TypeError:  # kept as its text, as the report shows it: 5 and 5.0 are two ids
            self._others.update(i if i is None or i.__class__ is str else str(i) for i in ids)
            return
        digits, framed = text.replace(",", ""), f",{text},"
        decimal = (
            digits.isascii()
            and digits.isdigit()
            and len(digits) + len(ids) - 1 == len(text)  # no comma inside an id
            and ",0" not in framed  # no leading zero
            and ",," not in framed  # no empty id
            and max(map(len, ids)) <= self._LONGEST
        )
        if decimal:
            self._numbers.append(np.fromiter(map(int, ids), np.int64, len(ids)))
        else:
            self._others.update(ids)

    def found(self) -> set[Any]:
        texts = set(self._others)
        if self._numbers:
            texts.update(map(str, np.unique(np.concatenate(self._numbers)).tolist()))
        return texts


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

    def merge(self, other: _Practice) -> None:
        for offset, (low, high) in other._bounds.items():
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
