"""One pass over the history, grouped by record: what every checker needs, built once.

The history is read once, in order; each completion is matched to its invoke by process (a
process has at most one op in flight). Everything is grouped by idempotency key into a
:class:`RecordState`, so checkers never scan the history per record.

Which field values a read may return is the allowed-value rule, in
:mod:`harness.verifiers.allowed_value` (re-exported here).

From a file (:func:`build_index_from_file`), blocks of lines come typed
(:func:`harness.history_read.read_typed_batches`): values are read from their attributes, a
write's fields (into a :class:`~harness.history_values.FieldValues`, a quarter of a dict's
size) and a read's observation fields decoded only when the op needs them, and a read whose
fields equal the record's last acknowledged values (the usual case) needs no look at the writes.
Whatever does not fit the types goes through the same steps with its whole JSON value. The
loop over typed blocks also exists in C (``harness/verifiers/_typed_loop.c``, built when
ackguard is installed): it is used when built (:data:`native_loop`), and :meth:`_Builder._typed`
is its reference, which tests compare it with.

A *part* (:data:`Part`, ``(number, count)``) builds the index of only the records whose key
falls in it (:func:`part_of`), so that ``count`` processes can each build one part from the same
file: the parts' records are disjoint and together the whole index's, and their counts add up
to the whole index's (an op without a key is seen by every part, counted by part 0 only).
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import msgspec

from ackguard.harness.final_read import FinalRecord
from ackguard.harness.history import HARNESS, NEMESIS, OBSERVATION_FIELDS, HistoryReading, Op
from ackguard.harness.history_read import Line, TypedBatch, paused_gc, read_typed_batches
from ackguard.harness.history_values import (
    DIGEST_KEYS,
    UNSET,
    CreateFields,
    Digest,
    FieldValues,
    ObservedFields,
    OpValue,
    SentFields,
)
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
from ackguard.harness.verifiers.c_build import usable

__all__ = [
    "FAIL",
    "INFO",
    "OK",
    "PENDING",
    "FlaggedRead",
    "HistoryIndex",
    "Misread",
    "Part",
    "RecordState",
    "Row",
    "Write",
    "build_index",
    "build_index_from_file",
    "build_index_from_files",
    "build_index_from_rows",
    "digest_of",
    "is_allowed",
    "last_acknowledged",
    "part_of",
]

Part = tuple[int, int]
"""(number, count): one of ``count`` disjoint parts of the records, by key."""


def part_of(key: object, count: int) -> int:
    """The part of a record key: the same in every process and run (crc32 of its text; a key
    that is not a str by its repr)."""
    text = key if type(key) is str else repr(key)
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % count


_COMPLETION = {"ok": OK, "info": INFO, "fail": FAIL}
_NO_FIELDS: Mapping[str, Any] = {}
_SYSTEM = (NEMESIS, HARNESS)


_ABSENT: Any = object()  # a field never acknowledged: any value read is checked by the rule
_NEVER_WRITTEN: tuple[Any, ...] = (_ABSENT,) * len(OBSERVATION_FIELDS)


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


class RecordState(msgspec.Struct, gc=False, eq=False):
    """Everything the history says about one record (one idempotency key).

    A msgspec struct for its size and its making (a hundred thousand of them for a million ops):
    made in C, no garbage collector header (``gc=False``: it holds no cycle), compared and
    hashed by identity (``eq=False``) as a plain object is. The sequences are tuples, one
    object smaller than lists, grown by a copy (a record has a few writes)."""

    key: str
    # which keyed client invoke of the history (0-based, in file order) created it: records
    # built in parts sort by it into the order of the whole index
    first: int = 0
    practitioner_id: str | None = None
    patient_id: str | None = None
    record_id: str | None = None
    started_at: str | None = None
    attempted: bool = False
    ack_time: int | None = None  # completion of the first acknowledged create
    known_time: int | None = None  # set-full: ack, or first read that saw it
    writes: Sequence[Write] = ()
    creates: Sequence[Write] = ()  # the create attempts (also in ``writes``)
    # misreads, absent_reads, flagged: rarely any, so one shared empty tuple until the first
    misreads: Sequence[Misread] = ()
    # field -> value of the acknowledged write that completed last (a fast path for reads), in
    # OBSERVATION_FIELDS' order; _ABSENT for a field never acknowledged
    current: tuple[Any, ...] = _NEVER_WRITTEN
    # invoke times of the latest read that saw it / that missed it (after it was known)
    last_present: int | None = None
    last_absent: int | None = None
    # (invoke, completion) of the misses that began after the latest sighting
    absent_reads: Sequence[tuple[int, int]] = ()
    flagged: Sequence[FlaggedRead] = ()

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


def build_index(history: Iterable[Op], *, part: Part | None = None) -> HistoryIndex:
    """Group ``history`` by record in one pass. Unmatched completions are ignored.
    ``part``: only the records of that part (see :func:`build_index_from_file`)."""
    with paused_gc():
        return _Builder(part=part).run((history,))


def build_index_from_rows(rows: Iterable[Row], *, part: Part | None = None) -> HistoryIndex:
    """:func:`build_index` over plain rows ``(time, process, type, f, key, value)``."""
    lines = (Line(None, t, p, ty, f, k, v) for t, p, ty, f, k, v in rows)
    with paused_gc():
        return _Builder(part=part).run((lines,))


def build_index_from_file(
    path: Path,
    reading: HistoryReading | None = None,
    final_records: Iterable[FinalRecord] = (),
    *,
    part: Part | None = None,
) -> HistoryIndex:
    """:func:`build_index` over ``history.jsonl``, streamed through the shared reader
    (:func:`harness.history_read.read_batches`): damage is said in ``reading`` when one is
    given, and is a ``ValueError`` otherwise.

    ``final_records`` (the final read, when it is already in memory) only saves memory: a
    written digest equal to its record's final one keeps the final one's texts, one copy of
    each instead of two (the index is the same either way).

    ``part=(number, count)``: the index of the records whose key is in that part
    (:func:`part_of`). A client op with a key of another part is skipped as if absent, except
    that it ends what its process had in flight (the whole index would match the next
    completion to it); an op without a key (a list) is taken by every part, for its own
    records, but counted (op tally, operations, outcomes, reads, pending) by part 0 only.
    Records, counts and op tally over all parts are then exactly the whole index's, and
    :attr:`RecordState.first` sorts the records of all parts into its order."""
    with paused_gc():
        return _Builder(final_records, part=part).run_typed(read_typed_batches(path, reading))


def build_index_from_files(
    paths: Sequence[Path],
    final_records: Iterable[FinalRecord] = (),
    *,
    part: Part,
    firsts: Sequence[int],
) -> HistoryIndex:
    """:func:`build_index_from_file` of ``part`` over its files of a split history
    (:mod:`harness.verifiers.history_split`), read one after the other as one history; what
    reading them finds is not said (the split said it of the whole history). ``firsts``: the
    place in the history of each keyed invoke of the files, in order: each record's
    :attr:`~RecordState.first` is its place, which sorts the records of all parts' files into
    the history's order."""
    batches = chain.from_iterable(read_typed_batches(path, HistoryReading()) for path in paths)
    with paused_gc():
        index = _Builder(final_records, part=part).run_typed(batches)
    for record in index.records.values():
        record.first = firsts[record.first]
    return index


class _Builder:
    """Builds the index from ops in order. Ops come whole (any JSON values: :meth:`run`) or as
    typed blocks (:meth:`run_typed`); both take the same steps through the same methods, the
    typed loop only reads its values without building dicts. A typed line whose fields do not
    fit their types is taken whole, through the whole-value step."""

    def __init__(
        self, final_records: Iterable[FinalRecord] = (), *, part: Part | None = None
    ) -> None:
        self.index = HistoryIndex()
        self.part = part
        # whether ops without a key are counted: by part 0 only
        self.keyless_counted = part is None or part[0] == 0
        # keyed client invokes so far, in every part: the next one's ordinal (RecordState.first)
        self.keyed = 0
        self.others: set[str] = set()  # keys of other parts seen so far (typed blocks)
        # key -> final record, whose digest texts the equal written digests share (_share)
        self.finals = {
            r.key: r
            for r in final_records
            if r.key is not None and (part is None or part_of(r.key, part[1]) == part[0])
        }
        self.records = self.index.records
        # process -> (f, record state or None, write or None, invoke time, list query or None,
        # its tally: None for an op not counted, one without a key in a part other than 0)
        self.in_flight: dict[object, _Started] = {}
        # f -> [invoked, ok, info, fail] (indexed by status, PENDING for invoked): an op in
        # flight holds its f's list, so a completion counts without a lookup
        self.tallies: dict[Any, list[int]] = {}
        # practitioner id (and patient id) -> records known so far, for list reads; by patient
        # only once a list asks for a patient (none does in today's histories)
        self.by_practitioner: dict[str, list[RecordState]] = {}
        self.by_patient: dict[tuple[str, str | None], list[RecordState]] | None = None

    def run(self, batches: Iterable[Iterable[Any]]) -> HistoryIndex:
        """``batches``: ops in order, in groups (anything with the attributes of an Op)."""
        for batch in batches:
            self._whole(batch)
        return self._finish()

    def run_typed(self, batches: Iterable[TypedBatch]) -> HistoryIndex:
        """``batches`` from :func:`harness.history_read.read_typed_batches`: typed blocks
        through the C loop when it is built and on (:data:`native_loop`), else :meth:`_typed`."""
        typed = self._typed
        if native_loop.on and _typed_loop is not None:
            typed = partial(_typed_loop.typed_block, self)
        for batch in batches:
            if batch.typed:
                typed(batch)
            else:
                self._whole(batch.lines)
        return self._finish()

    def _finish(self) -> HistoryIndex:
        self.finals = {}
        index = self.index
        index.pending = sum(1 for started in self.in_flight.values() if started[5] is not None)
        for f, counts in self.tallies.items():
            for status, outcome in enumerate(_OUTCOMES):
                if counts[status]:
                    index.op_tally[f, outcome] = counts[status]
            index.operations += counts[OK] + counts[INFO] + counts[FAIL]
            index.indeterminate += counts[INFO]
            index.failed += counts[FAIL]
        return index

    def _tally(self, f: Any) -> list[int]:
        """The counts of ``f``'s ops, the invoke of one more counted."""
        counts = self.tallies.get(f)
        if counts is None:
            counts = self.tallies[f] = [0, 0, 0, 0]
        counts[PENDING] += 1
        return counts

    def _skipped(self, key: Any) -> bool:
        """Whether a client op with ``key`` (not None) belongs to another part."""
        part = self.part
        return part is not None and part_of(key, part[1]) != part[0]

    def _whole(self, batch: Iterable[Any]) -> None:
        step = self._step
        for op in batch:
            process = op.process
            if process in _SYSTEM:
                continue
            step(process, op.type, op.f, op.key, op.time, op.value)

    def _step(self, process: Any, type_: Any, f: Any, key: Any, time: int, value: Any) -> None:
        """One client op with its whole value."""
        if type_ != "invoke":
            self._completion(process, type_, time, value)
            return
        ordinal = self.keyed
        if key is not None:
            self.keyed = ordinal + 1
            if self._skipped(key):
                self.in_flight.pop(process, None)
                return
        counted = key is not None or self.keyless_counted
        self.in_flight[process] = self._invoke(time, f, key, value, ordinal, counted)

    def _completion(self, process: Any, type_: Any, time: int, value: Any) -> None:
        """A client op's completion with its whole value."""
        started = self.in_flight.pop(process, None)
        if started is None:
            return
        status = self._complete(started, type_, time)
        f, record, write, inv, query, counts = started
        if status != OK:
            return
        if write is not None and record is not None:
            self._check_identity(record, f, time, _identity(value))
            if f == "create":
                self._acknowledge_create(record, time, _record_id(value))
        elif f == "read" and record is not None:
            self.index.reads += 1
            self._read(record, inv, time, value)
        elif f == "list":
            self.index.reads += counts is not None
            if _is_mapping(value):
                seen = set(value.get("keys") or ())
                self._list(inv, time, query, seen, partial=value.get("complete") is False)

    def _complete(self, started: _Started, type_: Any, time: int) -> int:
        """Counts a completion; a write takes its outcome. Returns the status."""
        status = _COMPLETION.get(type_, INFO)
        _f, record, write, _inv, _query, counts = started
        if counts is not None:
            counts[status] += 1
        if write is not None and record is not None:
            write.status = status
            write.cmp = time
            if status == OK:
                self.index.acknowledged_writes += 1
                record.current = _updated(record.current, write.fields)
        return status

    def _typed(self, batch: TypedBatch) -> None:
        """A typed block: :meth:`_step`'s work, values read from their typed attributes, the
        common steps inlined (this runs per line: a million times for a million lines)."""
        in_flight = self.in_flight
        finals = self.finals
        records = self.records
        index = self.index
        status_of = _COMPLETION.get
        part = self.part
        others = self.others
        keyless_counted = self.keyless_counted
        keyed = self.keyed
        tallies = self.tallies
        reads = acknowledged = 0
        for offset, op in enumerate(batch.lines):
            process = op.process
            if process.__class__ is str and process in _SYSTEM:
                continue
            type_ = op.type
            f = op.f
            if type_ == "invoke":
                key = op.key
                if key is None:
                    query = _typed_query(op.value) if f == "list" else None
                    counts = None
                    if keyless_counted:
                        counts = tallies.get(f)
                        if counts is None:
                            counts = self._tally(f)
                        else:
                            counts[PENDING] += 1
                    in_flight[process] = (f, None, None, op.time, query, counts)
                    continue
                ordinal = keyed
                keyed += 1
                # another part's key: known after its first op by a lookup, not a checksum
                if (
                    part is not None
                    and key not in records
                    and (key in others or part_of(key, part[1]) != part[0])
                ):
                    others.add(key)
                    in_flight.pop(process, None)
                    continue
                if f == "read":
                    record = records.get(key)
                    if record is None:
                        record = self._record(key, ordinal)
                    counts = tallies.get(f)
                    if counts is None:
                        counts = self._tally(f)
                    else:
                        counts[PENDING] += 1
                    in_flight[process] = (f, record, None, op.time, None, counts)
                elif f == "create" or f == "update":
                    try:
                        sent = _written(op.value, f)
                    except _NOT_TYPED:
                        whole = batch.line_value(offset)
                        in_flight[process] = self._invoke(op.time, f, key, whole, ordinal, True)
                    else:
                        in_flight[process] = self._invoke_write(
                            op.time, f, key, op.value, sent, ordinal
                        )
                else:
                    query = _typed_query(op.value) if f == "list" else None
                    in_flight[process] = (f, None, None, op.time, query, self._tally(f))
                continue
            started = in_flight.pop(process, None)
            if started is None:
                continue
            f, record, write, inv, query, counts = started
            status = status_of(type_, INFO)
            value = op.value
            observed: tuple[Any, ...] | None = None
            if f == "read" and status == OK and value is not None and value.found:
                raw = value.fields
                try:
                    observed = (
                        _NOTHING_OBSERVED if raw is UNSET else _ASTUPLE(_OBSERVED_DECODE(raw))
                    )
                except _NOT_TYPED:
                    in_flight[process] = started  # completed with its whole value instead
                    self._completion(process, type_, op.time, batch.line_value(offset))
                    continue
            if counts is not None:
                counts[status] += 1
            time = op.time
            if write is not None and record is not None:
                write.status = status
                write.cmp = time
                if status != OK:
                    continue
                acknowledged += 1
                written = write.fields
                if written.__class__ is CreateFields:  # all four observation fields, in order
                    record.current = _ASTUPLE(written)
                elif written.__class__ is SentFields:  # _updated, unrolled
                    vr, er, co, pr = record.current
                    svr, ser, sco, spr = _ASTUPLE(written)
                    record.current = (
                        vr if svr is UNSET else svr, er if ser is UNSET else ser,
                        co if sco is UNSET else sco, pr if spr is UNSET else spr,
                    )  # fmt: skip
                else:  # a write invoked with its whole value
                    record.current = _updated(record.current, written)
                if value is not None and value.seen_key is not UNSET:
                    self._check_identity(record, f, time, _typed_identity(value))
                if f == "create":  # _acknowledge_create, inlined
                    if value is not None and value.id is not None and value.id is not UNSET:
                        record_id = str(value.id)
                        found = finals.get(record.key) if finals else None
                        if found is not None and found.id == record_id:
                            record_id = found.id  # one text, the final read's
                        record.record_id = record_id
                    if record.ack_time is None:
                        record.ack_time = time
                    known = record.known_time
                    if known is None:
                        self._know(record, time)
                    elif time < known:
                        record.known_time = time
            elif status != OK:
                continue
            elif f == "read" and record is not None:
                reads += 1
                if observed is None or value is None:
                    self._absent(record, inv, time)
                    continue
                known = record.known_time  # _present, inlined
                if known is None:
                    self._know(record, time)
                elif time < known:
                    record.known_time = time
                last = record.last_present
                if last is None or inv > last:
                    record.last_present = inv
                    if record.absent_reads:
                        record.absent_reads = [r for r in record.absent_reads if r[0] > inv] or ()
                if value.seen_key is not UNSET:
                    self._check_identity(record, "read", time, _typed_identity(value))
                if observed != record.current:
                    self._check_fields(record, inv, time, observed)
            elif f == "list":
                reads += counts is not None
                if value is not None:
                    seen = set(value.keys or ())
                    self._list(inv, time, query, seen, partial=value.complete is False)
        self.keyed = keyed
        index.reads += reads
        index.acknowledged_writes += acknowledged

    def _record(self, key: str, first: int) -> RecordState:
        """The state of ``key``, made by the keyed invoke numbered ``first`` if it is new."""
        record = self.records.get(key)
        if record is None:
            found = self.finals.get(key)
            if found is not None and found.key is not None:
                key = found.key  # one copy of the text, the final read's
            record = self.records[key] = RecordState(key, first)
        return record

    def _invoke(
        self, time: int, f: Any, key: Any, value: Any, ordinal: int, counted: bool
    ) -> _Started:
        """A client op invoked, with its whole value; ``ordinal``: the keyed invoke's number."""
        if (f == "create" or f == "update") and key is not None:
            sent = {name: _compact(given) for name, given in _fields(value).items()}
            mapping = value if _is_mapping(value) else None
            return self._invoke_write(time, f, key, mapping, sent, ordinal)
        counts = self._tally(f) if counted else None
        if f == "read" and key is not None:
            return (f, self._record(key, ordinal), None, time, None, counts)
        return (f, None, None, time, _query(value) if f == "list" else None, counts)

    def _invoke_write(
        self,
        time: int,
        f: str,
        key: str,
        value: Any,
        sent: dict[str, Any] | FieldValues,
        ordinal: int,
    ) -> _Started:
        """A create or update invoked. ``value``: a mapping or typed value, or ``None``;
        ``sent``: the fields it sends (a dict of its own, kept). A create writes all four
        observation fields (null where it sends none, and no other); an update the ones it
        sends."""
        record = self.records.get(key)
        if record is None:
            record = self._record(key, ordinal)
        if self.finals:
            self._share(key, sent)
        counts = self._tally(f)
        if f != "create":
            write = Write(time, sent)
            record.writes = (*record.writes, write)
            return (f, record, write, time, None, counts)
        record.attempted = True
        if record.practitioner_id is None and value is not None:
            if value.__class__ is OpValue:
                owner = (value.practitioner_id, value.patient_id, value.started_at)
            else:
                owner = (value.get("practitioner_id"), value.get("patient_id"),
                         value.get("started_at"))  # fmt: skip
            practitioner, patient, started = owner
            # _interned and _text, their usual case (texts) inlined
            record.practitioner_id = (
                _intern(practitioner) if practitioner.__class__ is str else _interned(practitioner)
            )
            record.patient_id = _intern(patient) if patient.__class__ is str else _interned(patient)
            record.started_at = started if started.__class__ is str else _text(started)
            found = self.finals.get(key)
            if found is not None and found.started_at == record.started_at:
                record.started_at = found.started_at  # one text, the final read's
        if sent.__class__ is dict and tuple(sent) != OBSERVATION_FIELDS:
            sent = {name: sent.get(name) for name in OBSERVATION_FIELDS}  # else itself, as sent
        write = Write(time, sent)
        writes = record.writes = (*record.writes, write)
        # its first write: the two are equal, one tuple
        record.creates = writes if len(writes) == 1 else (*record.creates, write)
        return (f, record, write, time, None, counts)

    def _share(self, key: str, sent: dict[str, Any] | FieldValues) -> None:
        """Each digest of ``sent`` (decoded for this write alone) equal to the final read's of
        its field is replaced, in place, by the final one (the same value: one object instead
        of two, before the next block's decoding would build on top of them)."""
        found = self.finals.get(key)
        if found is None:
            return
        finals = found.fields
        if isinstance(sent, dict):  # a write taken whole
            for name, value in list(sent.items()):
                if value.__class__ is Digest and value == finals.get(name):
                    sent[name] = finals[name]
            return
        # a FieldValues and the FinalFields: the four in order, both
        for name, value, final in zip(OBSERVATION_FIELDS, _ASTUPLE(sent), _ASTUPLE(finals)):  # noqa: B905
            if value.__class__ is Digest and value == final:
                _set(sent, name, final)

    def _acknowledge_create(self, record: RecordState, time: int, record_id: str | None) -> None:
        if record_id is not None:
            found = self.finals.get(record.key)
            if found is not None and found.id == record_id:
                record_id = found.id  # one text, the final read's
            record.record_id = record_id
        if record.ack_time is None:
            record.ack_time = time
        self._know(record, time)

    def _know(self, record: RecordState, time: int) -> None:
        if record.known_time is None:
            record.known_time = time
            practitioner = record.practitioner_id
            if practitioner is not None:
                self.by_practitioner.setdefault(practitioner, []).append(record)
                if self.by_patient is not None:
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
        self._check_identity(record, "read", cmp, _identity(value))
        fields = _fields(value)
        self._check_fields(record, inv, cmp, tuple(fields.get(n) for n in OBSERVATION_FIELDS))

    def _check_fields(
        self, record: RecordState, inv: int, cmp: int, observed: tuple[Any, ...]
    ) -> None:
        """Flags each observed field value not allowed at ``inv``. The last acknowledged value
        is always allowed (the rule's proof: nothing acknowledged later can supersede it), so a
        value equal to it needs no look at the writes."""
        current = record.current
        for name, seen, kept in zip(OBSERVATION_FIELDS, observed, current, strict=True):
            if kept is not _ABSENT and _same(kept, seen):
                continue
            if not is_allowed(record.writes, name, digest_of(seen), inv):
                shown = dict(seen) if seen.__class__ is Digest else seen
                record.flagged = _added(record.flagged, FlaggedRead(inv, cmp, name, shown))

    def _check_identity(
        self, record: RecordState, f: str, cmp: int, seen: tuple[str | None, ...] | None
    ) -> None:
        """An acknowledged answer records whom its record belongs to (``seen_*``: ``seen``,
        ``None`` when it names nobody); another owner than the record's is a misread."""
        if seen is None:
            return
        key, practitioner, patient = seen
        if (
            _differs(key, record.key)
            or _differs(practitioner, record.practitioner_id)
            or _differs(patient, record.patient_id)
        ):
            record.misreads = _added(record.misreads, Misread(f, cmp, key, practitioner, patient))

    def _list(
        self,
        inv: int,
        cmp: int,
        query: tuple[str | None, str | None] | None,
        seen_keys: set[Any],
        *,
        partial: bool,
    ) -> None:
        records = self.records
        for key in seen_keys:
            record = records.get(key)
            if record is None:
                continue
            known = record.known_time  # _present, inlined: a list names many records
            if known is None:
                self._know(record, cmp)
            elif cmp < known:
                record.known_time = cmp
            last = record.last_present
            if last is None or inv > last:
                record.last_present = inv
                if record.absent_reads:
                    record.absent_reads = [r for r in record.absent_reads if r[0] > inv] or ()
        if partial or query is None:
            return  # a partial listing proves no absence
        practitioner, patient = query
        if practitioner is None:
            return
        if patient is None:
            listed = self.by_practitioner.get(practitioner, ())
        else:
            if self.by_patient is None:
                self.by_patient = _by_patient(self.by_practitioner)
            listed = self.by_patient.get((practitioner, patient), ())
        for record in listed:
            if record.key not in seen_keys:
                self._absent(record, inv, cmp)


_Started = tuple[
    Any,
    RecordState | None,
    Write | None,
    int,
    tuple[str | None, str | None] | None,
    list[int] | None,
]
_OUTCOMES = ("invoked", "ok", "info", "fail")  # a tally's names, by status (PENDING: invoked)


def _by_patient(
    by_practitioner: Mapping[str, list[RecordState]],
) -> dict[tuple[str, str | None], list[RecordState]]:
    """The records known so far by (practitioner, patient), each list in the order known."""
    pairs: dict[tuple[str, str | None], list[RecordState]] = {}
    for practitioner, known in by_practitioner.items():
        for record in known:
            pairs.setdefault((practitioner, record.patient_id), []).append(record)
    return pairs


_NOT_TYPED = (msgspec.DecodeError, msgspec.ValidationError)
_SENT = msgspec.json.Decoder(SentFields)
_CREATED = msgspec.json.Decoder(CreateFields)
_OBSERVED_DECODE = msgspec.json.Decoder(ObservedFields).decode  # a read's observation fields
_NOTHING_OBSERVED: tuple[Any, ...] = (None,) * len(OBSERVATION_FIELDS)
_ASTUPLE = msgspec.structs.astuple
_intern = sys.intern
_set = msgspec.structs.force_setattr  # a decoded digest swapped for the final read's equal one


def _written(value: OpValue | None, f: str) -> FieldValues:
    """The fields a typed create or update sends (raises when they do not fit the observation
    fields, each a :class:`Digest` or null)."""
    if f == "create":
        if value is None or value.fields is UNSET:
            return CreateFields()
        return _CREATED.decode(value.fields)
    if value is None or value.fields is UNSET:
        return SentFields()
    return _SENT.decode(value.fields)


def _updated(current: tuple[Any, ...], fields: Mapping[str, Any] | FieldValues) -> tuple[Any, ...]:
    """``current`` (the last acknowledged value per observation field) after a write of
    ``fields`` is acknowledged."""
    return tuple(fields.get(n, kept) for n, kept in zip(OBSERVATION_FIELDS, current, strict=True))


def _identity(value: Any) -> tuple[str | None, ...] | None:
    """Whom an answer says its record belongs to, or ``None`` when it names nobody."""
    if not _is_mapping(value) or "seen_key" not in value:
        return None
    return (
        _text(value.get("seen_key")),
        _text(value.get("seen_practitioner_id")),
        _text(value.get("seen_patient_id")),
    )


def _typed_identity(value: OpValue) -> tuple[str | None, ...]:
    return (
        _text(value.seen_key),
        _text(value.seen_practitioner_id),
        _text(value.seen_patient_id),
    )


def _record_id(value: Any) -> str | None:
    if _is_mapping(value) and value.get("id") is not None:
        return str(value["id"])
    return None


def _query(value: Any) -> tuple[str | None, str | None] | None:
    """A list's query: (practitioner, patient), ``None`` when it is not a mapping."""
    if not _is_mapping(value):
        return None
    return (_text(value.get("practitioner_id")), _text(value.get("patient_id")))


def _typed_query(value: OpValue | None) -> tuple[str | None, str | None] | None:
    if value is None:
        return None
    return (_text(value.practitioner_id), _text(value.patient_id))


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    # JSON objects are dicts: skip the slow ABC check for them
    return type(value) is dict or isinstance(value, Mapping)


def _fields(value: Any) -> Mapping[str, DigestJSON | None]:
    if _is_mapping(value):
        fields = value.get("fields")
        if _is_mapping(fields):
            return fields
    return _NO_FIELDS


def _compact(value: Any) -> Any:
    """A written field value, as a :class:`Digest` when it is a digest dict in the writer's
    layout; anything else as it came (compared as before)."""
    if type(value) is dict and len(value) == 3 and tuple(value) == DIGEST_KEYS:
        return Digest(value["digest"], value["length"], value["prefix"])
    return value


def _same(kept: Any, observed: Any) -> bool:
    """``kept`` (a written value, maybe compacted) == ``observed`` (as read), as the two JSON
    values compare. Only a shortcut: whatever it says, the allowed-value rule agrees."""
    if kept.__class__ is Digest and observed.__class__ is dict:
        return (
            len(observed) == 3
            and observed.get("digest", _ABSENT) == kept.digest
            and observed.get("length", _ABSENT) == kept.length
            and observed.get("prefix", _ABSENT) == kept.prefix
        )
    return bool(kept == observed)


def _interned(value: object) -> str | None:
    """``str(value)``, one object per distinct text: ids repeat over thousands of records."""
    return None if value is None or value is UNSET else sys.intern(str(value))


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


def _text(value: object) -> str | None:
    """``str(value)``; ``None`` for null or a key the value does not hold."""
    return None if value is None or value is UNSET else str(value)


@dataclass(slots=True)
class _NativeLoop:
    on: bool


try:  # the C loop over typed blocks (harness/verifiers/_typed_loop.c), built when installed
    from ackguard.harness.verifiers import _typed_loop  # type: ignore[attr-defined]
except ImportError:  # installed without a C compiler: the Python loop does the same
    _typed_loop = None

if not usable(_typed_loop):  # not built, or older than its sources (c_build says which)
    _typed_loop = None

native_loop = _NativeLoop(_typed_loop is not None and os.environ.get("ACKGUARD_PURE_PYTHON") != "1")
"""Whether typed blocks go through the C loop: on when it is built (and not older than its
sources), unless the environment says ``ACKGUARD_PURE_PYTHON=1`` (tests and benchmarks compare
the two loops)."""

if _typed_loop is not None:
    from ackguard.harness.final_read import FinalFields as _FinalFields
    from ackguard.harness.final_read import FinalRecord as _FinalRecord
    from ackguard.harness.history_values import ObservedFields, TypedLine

    _typed_loop.setup(
        {
            "TypedLine": TypedLine,
            "OpValue": OpValue,
            "RecordState": RecordState,
            "Write": Write,
            "CreateFields": CreateFields,
            "SentFields": SentFields,
            "ObservedFields": ObservedFields,
            "FinalRecord": _FinalRecord,
            "observed_decode": _OBSERVED_DECODE,
            "created_decode": _CREATED.decode,
            "sent_decode": _SENT.decode,
            "UNSET": UNSET,
            "nothing_observed": _NOTHING_OBSERVED,
            "not_typed": _NOT_TYPED,
            "part_of": part_of,
            "updated": _updated,
            "Digest": Digest,
            "interned": _interned,
            "FinalFields": _FinalFields,
            "by_patient": _by_patient,
        }
    )
