"""One pass over the history, grouped by record: what every checker needs, built once.

The history is read once, in order; each completion is matched to its invoke by process (a
process has at most one op in flight). Everything is grouped by idempotency key into a
:class:`RecordState`, so checkers never scan the history per record.

Which field values a read may return is the allowed-value rule, in
:mod:`harness.verifiers.allowed_value` (re-exported here).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import msgspec

from ackguard.harness.history import HARNESS, NEMESIS, OBSERVATION_FIELDS, HistoryReading, Op
from ackguard.harness.history_read import Line, paused_gc, read_batches
from ackguard.harness.verifiers.allowed_value import (
    FAIL,
    INFO,
    OK,
    PENDING,
    DigestJSON,
    Write,
    digest_of,
    is_allowed,
    last_acknowledged,
)

__all__ = [
    "FAIL",
    "INFO",
    "OK",
    "PENDING",
    "FlaggedRead",
    "HistoryIndex",
    "Misread",
    "RecordState",
    "Row",
    "Write",
    "build_index",
    "build_index_from_file",
    "build_index_from_rows",
    "digest_of",
    "is_allowed",
    "last_acknowledged",
]

_COMPLETION = {"ok": OK, "info": INFO, "fail": FAIL}
_OUTCOME_NAMES = {OK: "ok", INFO: "info", FAIL: "fail"}
_NO_FIELDS: Mapping[str, Any] = {}
_SYSTEM = (NEMESIS, HARNESS)


@dataclass(frozen=True, slots=True)
class FlaggedRead:
    """An in-run read that returned a field value not allowed at that moment."""

    invoke_time: int
    time: int  # completion: when the harness saw it
    field: str
    observed: DigestJSON | None


@dataclass(frozen=True, slots=True)
class Misread:
    """An acknowledged answer (``f``: create, update or read) about this record that carried
    another record (another practitioner, patient or idempotency key): it was about someone
    else."""

    f: str
    time: int  # completion
    key: str | None
    practitioner_id: str | None
    patient_id: str | None


class RecordState:
    """Everything the history says about one record (one idempotency key)."""

    __slots__ = (
        "absent_reads",
        "ack_time",
        "attempted",
        "creates",
        "current",
        "flagged",
        "key",
        "known_time",
        "last_absent",
        "last_present",
        "misreads",
        "patient_id",
        "practitioner_id",
        "record_id",
        "started_at",
        "writes",
    )

    def __init__(self, key: str) -> None:
        self.key = key
        self.practitioner_id: str | None = None
        self.patient_id: str | None = None
        self.record_id: str | None = None
        self.started_at: str | None = None
        self.attempted = False
        self.ack_time: int | None = None  # completion of the first acknowledged create
        self.known_time: int | None = None  # set-full: ack, or first read that saw it
        self.writes: list[Write] = []
        self.creates: list[Write] = []  # the create attempts (also in ``writes``)
        # misreads, absent_reads, flagged: rarely any, so one shared empty tuple until the first
        # (a hundred thousand records would otherwise hold three empty lists each)
        self.misreads: Sequence[Misread] = ()
        # field -> value of the acknowledged write that completed last (a fast path for reads)
        self.current: dict[str, DigestJSON | None] = {}
        # invoke times of the latest read that saw it / that missed it (after it was known)
        self.last_present: int | None = None
        self.last_absent: int | None = None
        # (invoke, completion) of the misses that began after the latest sighting
        self.absent_reads: Sequence[tuple[int, int]] = ()
        self.flagged: Sequence[FlaggedRead] = ()

    @property
    def acknowledged(self) -> bool:
        return self.ack_time is not None

    @property
    def refused(self) -> bool:
        """Every create of it was refused (``fail``): it certainly was not made."""
        return bool(self.creates) and all(w.status == FAIL for w in self.creates)


@dataclass(slots=True)
class HistoryIndex:
    """The history grouped by record, plus the counts of completions."""

    records: dict[str, RecordState] = field(default_factory=dict)
    indeterminate: int = 0
    failed: int = 0
    reads: int = 0  # read and list ops that completed ok
    operations: int = 0
    acknowledged_writes: int = 0  # creates and updates that completed ok
    pending: int = 0  # ops invoked and never completed (cut off by the end of the history)
    # (f, "invoked" | "ok" | "fail" | "info") -> client ops: one unit on both sides of a tally
    op_tally: dict[tuple[str, str], int] = field(default_factory=dict)

    def operation_counts(self) -> dict[str, dict[str, int]]:
        """Per kind of op (``f``): invoked, ok, fail, info, and pending (invoked, never
        completed), so that invoked = ok + fail + info + pending for every kind."""
        tally = self.op_tally
        counts: dict[str, dict[str, int]] = {}
        for f in sorted({f for f, _ in tally}):
            row = {o: tally.get((f, o), 0) for o in ("invoked", "ok", "fail", "info")}
            row["pending"] = row["invoked"] - row["ok"] - row["fail"] - row["info"]
            counts[f] = row
        return counts


Row = tuple[int, Any, str, str, Any, Any]
"""One history line as the builder reads it: (time, process, type, f, key, value)."""


def build_index(history: Iterable[Op]) -> HistoryIndex:
    """Group ``history`` by record in one pass. Unmatched completions are ignored."""
    with paused_gc():
        return _Builder().run((history,))


def build_index_from_rows(rows: Iterable[Row]) -> HistoryIndex:
    """:func:`build_index` over plain rows ``(time, process, type, f, key, value)``."""
    lines = (Line(None, t, p, ty, f, k, v) for t, p, ty, f, k, v in rows)
    with paused_gc():
        return _Builder().run((lines,))


def build_index_from_file(path: Path, reading: HistoryReading | None = None) -> HistoryIndex:
    """:func:`build_index` over ``history.jsonl``, streamed through the shared reader
    (:func:`harness.history_read.read_batches`): damage is said in ``reading`` when one is
    given, and is a ``ValueError`` otherwise."""
    with paused_gc():
        return _Builder().run(read_batches(path, reading))


class _Builder:
    def __init__(self) -> None:
        self.index = HistoryIndex()
        self.records = self.index.records
        # process -> (f, record state or None, write or None, invoke time, invoke value)
        self.in_flight: dict[object, tuple[str, RecordState | None, Write | None, int, Any]] = {}
        # practitioner id (and patient id) -> records known so far, for list reads
        self.by_practitioner: dict[str, list[RecordState]] = {}
        self.by_patient: dict[tuple[str, str | None], list[RecordState]] = {}

    def run(self, batches: Iterable[Iterable[Any]]) -> HistoryIndex:
        """``batches``: ops in order, in groups (anything with the attributes of an Op)."""
        in_flight = self.in_flight
        index = self.index
        operations = indeterminate = failed = reads = acknowledged = 0
        tally = index.op_tally
        for batch in batches:
            for op in batch:
                process = op.process
                if process in _SYSTEM:
                    continue
                type_ = op.type
                if type_ == "invoke":
                    f = op.f
                    in_flight[process] = self._invoke(op.time, f, op.key, op.value)
                    tally[f, "invoked"] = tally.get((f, "invoked"), 0) + 1
                    continue
                started = in_flight.pop(process, None)
                if started is None:
                    continue
                operations += 1
                status = _COMPLETION.get(type_, INFO)
                if status == INFO:
                    indeterminate += 1
                elif status == FAIL:
                    failed += 1
                f, record, write, inv, inv_value = started
                outcome = (f, _OUTCOME_NAMES[status])
                tally[outcome] = tally.get(outcome, 0) + 1
                time = op.time
                if write is not None and record is not None:
                    write.status = status
                    write.cmp = time
                    if status == OK:
                        acknowledged += 1
                        record.current.update(write.fields)
                        value = op.value
                        self._check_identity(record, f, time, value)
                        if f == "create":
                            self._acknowledge_create(record, time, value)
                elif status == OK and f == "read" and record is not None:
                    reads += 1
                    self._read(record, inv, time, op.value)
                elif status == OK and f == "list":
                    reads += 1
                    self._list(inv, time, inv_value, op.value)
        index.operations += operations
        index.indeterminate += indeterminate
        index.failed += failed
        index.reads += reads
        index.acknowledged_writes += acknowledged
        index.pending = len(in_flight)
        return index

    def _record(self, key: str) -> RecordState:
        record = self.records.get(key)
        if record is None:
            record = self.records[key] = RecordState(key)
        return record

    def _invoke(
        self, time: int, f: str, key: Any, value: Any
    ) -> tuple[str, RecordState | None, Write | None, int, Any]:
        if f == "create" and key is not None:
            record = self._record(key)
            record.attempted = True
            if record.practitioner_id is None and _is_mapping(value):
                record.practitioner_id = _interned(value.get("practitioner_id"))
                record.patient_id = _interned(value.get("patient_id"))
                record.started_at = _str_or_none(value.get("started_at"))
            sent = _fields(value)
            written = {name: _compact(sent.get(name)) for name in OBSERVATION_FIELDS}
            write = Write(time, written)
            record.writes.append(write)
            record.creates.append(write)
            return (f, record, write, time, None)
        if f == "update" and key is not None:
            record = self._record(key)
            write = Write(time, {name: _compact(sent) for name, sent in _fields(value).items()})
            record.writes.append(write)
            return (f, record, write, time, None)
        if f == "read" and key is not None:
            return (f, self._record(key), None, time, None)
        return (f, None, None, time, value)

    def _acknowledge_create(self, record: RecordState, time: int, value: Any) -> None:
        if _is_mapping(value) and value.get("id") is not None:
            record.record_id = str(value["id"])
        if record.ack_time is None:
            record.ack_time = time
        self._know(record, time)

    def _know(self, record: RecordState, time: int) -> None:
        if record.known_time is None:
            record.known_time = time
            practitioner = record.practitioner_id
            if practitioner is not None:
                self.by_practitioner.setdefault(practitioner, []).append(record)
                pair = (practitioner, record.patient_id)
                self.by_patient.setdefault(pair, []).append(record)
        elif time < record.known_time:
            record.known_time = time

    def _present(self, record: RecordState, inv: int, cmp: int) -> None:
        self._know(record, cmp)
        if record.last_present is None or inv > record.last_present:
            record.last_present = inv
            if record.absent_reads:
                record.absent_reads = [r for r in record.absent_reads if r[0] > inv] or ()

    def _absent(self, record: RecordState, inv: int, cmp: int) -> None:
        known = record.known_time
        if known is None or inv <= known:
            return  # a read that began before the record was known proves nothing
        if record.last_absent is None or inv > record.last_absent:
            record.last_absent = inv
        if record.last_present is None or inv > record.last_present:
            record.absent_reads = _added(record.absent_reads, (inv, cmp))

    def _read(self, record: RecordState, inv: int, cmp: int, value: Any) -> None:
        if not _is_mapping(value) or not value.get("found"):
            self._absent(record, inv, cmp)
            return
        self._present(record, inv, cmp)
        self._check_identity(record, "read", cmp, value)
        observed_fields = _fields(value)
        current = record.current  # the last acknowledged values: always allowed
        for name in OBSERVATION_FIELDS:
            observed = observed_fields.get(name)
            kept = current.get(name, _ABSENT)
            if kept is not _ABSENT:
                if kept.__class__ is Digest:  # _same, inlined: this runs per field per read
                    if (
                        observed.__class__ is dict
                        and len(observed) == 3
                        and observed.get("digest", _ABSENT) == kept.digest
                        and observed.get("prefix", _ABSENT) == kept.prefix
                        and observed.get("length", _ABSENT) == kept.length
                    ):
                        continue
                elif _same(kept, observed):
                    continue
            if not is_allowed(record.writes, name, digest_of(observed), inv):
                record.flagged = _added(record.flagged, FlaggedRead(inv, cmp, name, observed))

    def _check_identity(self, record: RecordState, f: str, cmp: int, value: Any) -> None:
        """An acknowledged answer records whom its record belongs to (``seen_*``); another
        owner than the record's is a misread."""
        if not _is_mapping(value) or "seen_key" not in value:
            return
        key = _str_or_none(value.get("seen_key"))
        practitioner = _str_or_none(value.get("seen_practitioner_id"))
        patient = _str_or_none(value.get("seen_patient_id"))
        if (
            _differs(key, record.key)
            or _differs(practitioner, record.practitioner_id)
            or _differs(patient, record.patient_id)
        ):
            record.misreads = _added(record.misreads, Misread(f, cmp, key, practitioner, patient))

    def _list(self, inv: int, cmp: int, query: Any, value: Any) -> None:
        if not _is_mapping(value):
            return
        seen_keys = set(value.get("keys") or ())
        records = self.records
        for key in seen_keys:
            record = records.get(key)
            if record is not None:
                self._present(record, inv, cmp)
        if value.get("complete") is False or not _is_mapping(query):
            return  # a partial listing proves no absence
        practitioner = _str_or_none(query.get("practitioner_id"))
        patient = _str_or_none(query.get("patient_id"))
        if practitioner is None:
            return
        if patient is None:
            listed = self.by_practitioner.get(practitioner, ())
        else:
            listed = self.by_patient.get((practitioner, patient), ())
        for record in listed:
            if record.key not in seen_keys:
                self._absent(record, inv, cmp)


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    # JSON objects are dicts: skip the slow ABC check for them
    return type(value) is dict or isinstance(value, Mapping)


def _fields(value: Any) -> Mapping[str, DigestJSON | None]:
    if _is_mapping(value):
        fields = value.get("fields")
        if _is_mapping(fields):
            return fields
    return _NO_FIELDS


class Digest(msgspec.Struct, frozen=True, gc=False):
    """A FieldDigest JSON value (``{"digest", "length", "prefix"}``, in that order) as a write
    keeps it: a fifth of the dict's size, which is most of the index's memory. It reads like
    that dict (``value["digest"]``, ``dict(value)`` gives it back, keys in order), and equals
    another Digest exactly when the two dicts would be equal."""

    digest: Any
    length: Any
    prefix: Any

    def __getitem__(self, name: str) -> Any:
        if name == "digest":
            return self.digest
        if name == "length":
            return self.length
        if name == "prefix":
            return self.prefix
        raise KeyError(name)

    def keys(self) -> tuple[str, ...]:
        return _DIGEST_KEYS


_DIGEST_KEYS = ("digest", "length", "prefix")
_ABSENT: Any = object()


def _compact(value: Any) -> Any:
    """A written field value, as a :class:`Digest` when it is a digest dict in the writer's
    layout; anything else as it came (compared as before)."""
    if type(value) is dict and len(value) == 3 and tuple(value) == _DIGEST_KEYS:
        return Digest(value["digest"], value["length"], value["prefix"])
    return value


def _same(kept: Any, observed: Any) -> bool:
    """``kept`` (a written value, maybe compacted) == ``observed`` (as read from the history),
    as the two JSON values compare."""
    if type(kept) is Digest:
        return (
            type(observed) is dict
            and len(observed) == 3
            and observed.get("digest", _ABSENT) == kept.digest
            and observed.get("length", _ABSENT) == kept.length
            and observed.get("prefix", _ABSENT) == kept.prefix
        )
    return bool(kept == observed)


def _interned(value: object) -> str | None:
    """``str(value)``, one object per distinct text: ids repeat over thousands of records."""
    return None if value is None else sys.intern(str(value))


_T = TypeVar("_T")


def _added(items: Sequence[_T], item: _T) -> list[_T]:
    """``items`` (the shared empty tuple, or a list of this record's) with ``item`` appended."""
    if type(items) is list:
        items.append(item)
        return items
    return [*items, item]


def _differs(seen: str | None, expected: str | None) -> bool:
    """Both known and not equal: an unknown side is no evidence."""
    return seen is not None and expected is not None and seen != expected


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
