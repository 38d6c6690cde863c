"""One part of the records, checked on its own: what a process of a verification in parts does
(:mod:`harness.verifiers.parallel` says how parts make one verdict).

A :class:`PartCheck` builds the index of its part's records from the whole history, picks its
part of the final read, runs each verifier's ``check_part`` and keeps its index to answer the
questions of the merge; :class:`PartOutcome` is what it sends back.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path

from ackguard.harness.final_read import (
    FinalRead,
    FinalRecord,
    owners_interned,
    record_blocks,
    record_ids,
)
from ackguard.harness.history import HistoryReading
from ackguard.harness.history_read import paused_gc
from ackguard.harness.run_files import RunFileError
from ackguard.harness.verifiers.final_split import load_places, offsets
from ackguard.harness.verifiers.history_split import load_invokes
from ackguard.harness.verifiers.index import (
    HistoryIndex,
    RecordState,
    build_index_from_file,
    build_index_from_files,
    part_of,
)
from ackguard.harness.verifiers.read_your_writes import ReadsPart, ReadYourWritesVerifier
from ackguard.harness.verifiers.records import (
    Notes,
    Owner,
    RecordsPart,
    RecordsVerifier,
    note_owners,
)

__all__ = ["PARTED", "PartCheck", "PartOutcome", "describe_error"]

PARTED: Mapping[str, Callable[[], RecordsVerifier | ReadYourWritesVerifier]] = {
    "records": RecordsVerifier,
    "read_your_writes": ReadYourWritesVerifier,
}
"""The verifiers that can check records in parts, by the name scenarios use."""


@dataclass(slots=True)
class PartOutcome:
    """What one part sends back: each verifier's part (or why it raised), the part's counts
    of the history, and (part 0 only) what reading the history found."""

    parts: dict[str, RecordsPart | ReadsPart | str]  # name -> part, or the error it raised
    counts: dict[str, int]
    op_tally: dict[tuple[str, str], int]
    reading: HistoryReading | None = None
    error: str | None = None  # the index could not be built: every verifier is unknown
    usage: tuple[float, int] = (0.0, 0)  # a part's process: its CPU seconds and peak RSS (kB)
    final_records: int = 0  # how many records the whole final read holds (every part knows)
    # the final read could not be read: (its file, what is wrong), as RunFileError says it
    final_read_error: tuple[str, str] | None = None
    # checked in waves: the records its anomalies and the keys asked for name, kept before
    # its index went (PartCheck.check_and_drop)
    states: list[RecordState] = field(default_factory=list)


@dataclass(slots=True)
class PartCheck:
    """One part of the records: built from the whole history and its own records of the final
    read (loaded from the file a block at a time: a part holds its own only), kept until the
    merge no longer needs it."""

    history: Path
    final_records: Path  # the final read's records
    final_read: FinalRead  # the read's facts (its records are not used)
    part: tuple[int, int]
    names: Sequence[str]
    strict: bool  # no HistoryReading given: a damaged line makes the index fail
    # its files of the split history (harness.verifiers.history_split), read instead of
    # ``history``, and their keyed invokes' places; the split said what reading found
    files: Sequence[Path] = ()
    places: Sequence[Path] = ()
    # its files of the split final read (harness.verifiers.final_split), read instead of
    # ``final_records`` once ``final_counts`` (each range's records) say every range was split
    final_files: Sequence[Path] = ()
    final_counts: Sequence[int] | None = None
    index: HistoryIndex = field(default_factory=HistoryIndex)

    def check(self) -> PartOutcome:
        with paused_gc():  # the index is millions of acyclic objects: no collection walks them
            return self._check()

    def _check(self) -> PartOutcome:
        number, count = self.part
        reading = None if self.strict else HistoryReading()
        said = reading if number == 0 and not self.files else None  # one tells what all read
        try:
            own = _OwnRecords(self.final_records)
            if self.final_files and self.final_counts is not None:
                own.load_split(self.final_files, self.final_counts, number, count)
            else:
                own.load(number, count)
        except RunFileError as exc:
            error = f"reading the final read failed: {exc}"
            return PartOutcome({}, {}, {}, said, error, final_read_error=(exc.file, exc.detail))
        records = own.records
        try:
            self.index = self._built(reading, records)
        except Exception as exc:  # a damaged history must not crash the verdict
            error = f"reading the history failed: {describe_error(exc)}"
            return PartOutcome({}, {}, {}, said, error, final_records=own.seen)
        final = replace(self.final_read, records=records, stored=None)
        parts: dict[str, RecordsPart | ReadsPart | str] = {}
        for name in self.names:
            verifier = PARTED[name]()
            try:
                if isinstance(verifier, RecordsVerifier):
                    parts[name] = verifier.check_part(self.index, final, own.holders, own.positions)
                else:
                    parts[name] = verifier.check_part(self.index, final)
            except Exception as exc:  # a checker bug yields unknown, never a crash
                parts[name] = describe_error(exc)
        index = self.index
        counts = {
            "indeterminate": index.indeterminate,
            "failed": index.failed,
            "reads": index.reads,
            "operations": index.operations,
            "acknowledged_writes": index.acknowledged_writes,
            "pending": index.pending,
        }
        return PartOutcome(parts, counts, dict(index.op_tally), said, final_records=own.seen)

    def check_and_drop(self, keys: Collection[str]) -> PartOutcome:
        """:meth:`check`, then the index dropped (a part of a verification in waves: one
        index at a time in memory), with the records of ``keys`` and those its anomalies
        name kept in the outcome first: all the merge may ask of them but who wrote a value
        (:meth:`owners_again`)."""
        outcome = self.check()
        if outcome.error is None:
            outcome.states = self.states({*keys, *_named(outcome)})
        self.index = HistoryIndex()
        return outcome

    def owners_again(self, digests: Collection[str]) -> tuple[Notes, list[RecordState]]:
        """:meth:`owners` once the index was dropped: the index built again for the question
        (and dropped again), with the records of the owners found."""
        with paused_gc():
            index = self._built(HistoryReading(), ())
        notes = note_owners(index, digests)
        owned = {key for whose in notes.values() for key in whose}
        return notes, [index.records[key] for key in owned if key in index.records]

    def _built(
        self, reading: HistoryReading | None, records: Sequence[FinalRecord]
    ) -> HistoryIndex:
        if self.files:
            places = load_invokes(self.places)
            return build_index_from_files(self.files, records, part=self.part, firsts=places)
        return build_index_from_file(self.history, reading, records, part=self.part)

    def owners(self, digests: Collection[str]) -> dict[tuple[str, str], dict[str, Owner]]:
        return note_owners(self.index, digests)

    def states(self, keys: Collection[str]) -> list[RecordState]:
        records = self.index.records
        return [records[key] for key in keys if key in records]


class _OwnRecords:
    """A part's final records (a record without key: part 0's), in the whole read's order with
    their lines in it (``seen``: how many records the whole read holds). The holder of an
    acknowledged id is the first record of the whole read holding it: asked only of the
    records the read lacks (rare), so they are found then, in one pass over the read's ids."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[FinalRecord] = []
        self.positions: Sequence[int] = []
        self.seen = 0

    def load(self, number: int, count: int) -> None:
        """From the whole file: every record decoded, its own kept."""
        records: list[FinalRecord] = []
        positions: list[int] = []
        line = 0
        for block in _blocks(self.path):
            for found in block:
                if (number == 0) if found.key is None else part_of(found.key, count) == number:
                    records.append(found)
                    positions.append(line)
                line += 1
        self.records = owners_interned(records, {})  # its own only: the others are dropped
        self.positions = positions
        self.seen = line

    def load_split(
        self, files: Sequence[Path], counts: Sequence[int], number: int, count: int
    ) -> None:
        """From its files of the split final read, one per range; when one of them is refused,
        from the whole file, whose reader names the line that is wrong."""
        records: list[FinalRecord] = []
        positions: array[int] = array("q")
        try:
            for path, first in zip(files, offsets(counts), strict=True):
                records += chain.from_iterable(_blocks(path))
                positions.extend(place + first for place in load_places(path))
        except RunFileError:
            self.load(number, count)
            return
        self.records = owners_interned(records, {})
        self.positions = positions
        self.seen = sum(counts)

    def holders(self, ids: Collection[str]) -> dict[str, FinalRecord]:
        """The first record of the whole read holding each of ``ids`` (held by none: absent)."""
        wanted = set(ids)
        first_at: dict[str, int] = {}
        if wanted and self.path.exists():
            for number, held_id in enumerate(record_ids(self.path)):
                if held_id in wanted and held_id not in first_at:
                    first_at[held_id] = number
        found: dict[str, FinalRecord] = {}
        elsewhere: dict[int, str] = {}  # line -> the id its record (another part's) holds
        for asked, line in first_at.items():
            at = bisect_left(self.positions, line)
            if at < len(self.positions) and self.positions[at] == line:
                found[asked] = self.records[at]
            else:
                elsewhere[line] = asked
        if elsewhere:  # read again, keeping those lines only
            for number, holder in enumerate(chain.from_iterable(_blocks(self.path))):
                if number in elsewhere:
                    found[elsewhere[number]] = holder
        return found


def _blocks(path: Path) -> Iterable[Sequence[FinalRecord]]:
    return record_blocks(path, interned=False) if path.exists() else ()


def _named(outcome: PartOutcome) -> set[str]:
    """The keys of the records an outcome's parts name: anomalies, and values not allowed."""
    keys: set[str | None] = set()
    for part in outcome.parts.values():
        if isinstance(part, RecordsPart):
            keys.update(anomaly.key for _order, anomaly in part.anomalies)
            keys.update(damaged.key for damaged in part.damaged)
        elif isinstance(part, ReadsPart):
            keys.update(anomaly.key for *_order, anomaly in part.anomalies)
    return {key for key in keys if key is not None}


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
