"""Verification in parallel: the records split by key into parts, a process per part.

Records are independent of each other for almost every check (Jepsen's ``independent`` checker
rests on the same fact), so each part is checked on its own: a process reads the whole history
and builds the index of its part's records only (:func:`~harness.verifiers.index.
build_index_from_file` with ``part``), keeps its part of the final read, and runs each verifier's
``check_part``; the verifier's ``merge`` makes one result of the parts. Part 0 is checked in the
calling process, with the final read it has; the others each in a process of its own. What
crosses parts:

- the holder of an acknowledged id is the first record of the *whole* final read holding it:
  each part notes where every id is first held as it picks its records from the read;
- who wrote a value found in a record where it does not belong, and the grouped history of the
  records that the run's later checks look at (the anomalies' and the live reads'), merged into
  a :class:`HistoryIndex` with the counts of every part: the parts answer from the index they
  keep until the end.

One process checking all records is the same steps with one part, so the verdict is the one
:func:`~harness.verifiers.compose.compose_file` gives (a property test holds them equal).
:class:`PartCheck` is one part's work; :func:`check_in_parts` runs the parts, in processes or
(for tests) one after the other here.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ackguard.harness.final_read import (
    RECORDS_FILE,
    FinalRead,
    FinalRecord,
    load_records,
    record_blocks,
)
from ackguard.harness.history import HistoryReading
from ackguard.harness.history_read import paused_gc
from ackguard.harness.verifiers.index import (
    HistoryIndex,
    RecordState,
    build_index_from_file,
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
from ackguard.harness.verifiers.result import Result

__all__ = ["PARTED", "PartCheck", "PartOutcome", "check_in_parts", "default_jobs", "serve"]

PARTED: Mapping[str, Callable[[], RecordsVerifier | ReadYourWritesVerifier]] = {
    "records": RecordsVerifier,
    "read_your_writes": ReadYourWritesVerifier,
}
"""The verifiers that can check records in parts, by the name scenarios use."""

PARALLEL_BYTES = 64 << 20
"""A history this large (about 200,000 operations) is verified in parts, one per core."""

MAX_JOBS = 4  # each part reads the whole history: more parts cost more reading than they save


def default_jobs(history: Path) -> int:
    """How many processes verify ``history``: one per idle core (at most :data:`MAX_JOBS`) for
    a large history; one for a small one (starting processes costs more than it saves) or when
    no other core is idle (each part reads the whole history: on busy cores, parts only add
    that reading). Idle: cores less the load average of the last minute, rounded down."""
    try:
        size = history.stat().st_size
    except OSError:
        return 1
    if size < PARALLEL_BYTES:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_JOBS, cores - int(os.getloadavg()[0])))


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


@dataclass(slots=True)
class PartCheck:
    """One part of the records: built from the whole history and the final read, kept until
    the merge no longer needs it."""

    history: Path
    final_records: Path  # the final read's records, loaded from there unless given
    final_read: FinalRead  # the whole read: its facts, and its records when ``given``
    part: tuple[int, int]
    names: Sequence[str]
    strict: bool  # no HistoryReading given: a damaged line makes the index fail
    given: bool = False
    index: HistoryIndex = field(default_factory=HistoryIndex)

    def check(self) -> PartOutcome:
        with paused_gc():  # the index is millions of acyclic objects: no collection walks them
            return self._check()

    def _check(self) -> PartOutcome:
        number, count = self.part
        reading = None if self.strict else HistoryReading()
        said = reading if number == 0 else None  # every part reads the same: one tells
        try:
            if self.given:
                everyone = self.final_read.records
                own = _OwnRecords([everyone], number, count, self.final_records, everyone)
            else:  # a block at a time: a part holds its own records only
                blocks = record_blocks(self.final_records) if self.final_records.exists() else ()
                own = _OwnRecords(blocks, number, count, self.final_records)
            records = own.records
            self.index = build_index_from_file(self.history, reading, records, part=self.part)
        except Exception as exc:  # a damaged history must not crash the verdict
            error = f"reading the history failed: {_describe(exc)}"
            return PartOutcome({}, {}, {}, said, error)
        final = replace(self.final_read, records=records)
        parts: dict[str, RecordsPart | ReadsPart | str] = {}
        for name in self.names:
            verifier = PARTED[name]()
            try:
                if isinstance(verifier, RecordsVerifier):
                    parts[name] = verifier.check_part(self.index, final, own.holders, own.positions)
                else:
                    parts[name] = verifier.check_part(self.index, final)
            except Exception as exc:  # a checker bug yields unknown, never a crash
                parts[name] = _describe(exc)
        index = self.index
        counts = {
            "indeterminate": index.indeterminate,
            "failed": index.failed,
            "reads": index.reads,
            "operations": index.operations,
            "acknowledged_writes": index.acknowledged_writes,
            "pending": index.pending,
        }
        return PartOutcome(parts, counts, dict(index.op_tally), said)

    def owners(self, digests: Collection[str]) -> dict[tuple[str, str], dict[str, Owner]]:
        return note_owners(self.index, digests)

    def states(self, keys: Collection[str]) -> list[RecordState]:
        records = self.index.records
        return [records[key] for key in keys if key in records]


class _OwnRecords:
    """A part's final records (a record without key: part 0's), in the whole read's order with
    their lines in it, and the line of each id's first holder in the whole read: the holder of
    an acknowledged id is found without asking anyone (another part's record, which only an id
    handed out twice makes necessary, is read again from the file)."""

    def __init__(
        self,
        blocks: Iterable[Sequence[FinalRecord]],
        number: int,
        count: int,
        path: Path,
        everyone: Sequence[FinalRecord] | None = None,  # all of them, when they are at hand
    ) -> None:
        self.records: list[FinalRecord] = []
        self.positions: list[int] = []
        self.first_at: dict[str, int] = {}
        first_at = self.first_at
        line = 0
        for block in blocks:
            for found in block:
                if found.id not in first_at:
                    first_at[found.id] = line
                if (number == 0) if found.key is None else part_of(found.key, count) == number:
                    self.records.append(found)
                    self.positions.append(line)
                line += 1
        self.path = path
        self.everyone = everyone

    def holders(self, ids: Collection[str]) -> dict[str, FinalRecord]:
        """The first record of the whole read holding each of ``ids`` (held by none: absent)."""
        found: dict[str, FinalRecord] = {}
        elsewhere: dict[str, int] = {}
        for wanted in ids:
            line = self.first_at.get(wanted)
            if line is None:
                continue
            at = bisect_left(self.positions, line)
            if at < len(self.positions) and self.positions[at] == line:
                found[wanted] = self.records[at]
            else:
                elsewhere[wanted] = line
        if elsewhere:
            everyone = self.everyone if self.everyone is not None else _load(self.path)
            found |= {wanted: everyone[line] for wanted, line in elsewhere.items()}
        return found


def _load(path: Path) -> list[FinalRecord]:
    return load_records(path) if path.exists() else []


def check_in_parts(
    names: Sequence[str],
    history: Path,
    final_dir: Path,
    final_read: FinalRead,
    *,
    jobs: int,
    reading: HistoryReading | None = None,
    keys: Collection[str] = (),
    processes: bool = True,
    usage: list[tuple[float, int]] | None = None,
) -> tuple[dict[str, Result], HistoryIndex | None]:
    """Each verifier of ``names`` (all of them in :data:`PARTED`) over ``history`` and the final
    read stored in ``final_dir`` (``final_read``: the same read, whole), the records split into
    ``jobs`` parts, each in a process of its own (``processes``) or one after the other here.
    Returns the results by name and the grouped history of the records the anomalies name and
    of ``keys`` (``None`` when the history could not be read); what reading the history found
    goes into ``reading``, and each part's CPU seconds and peak RSS (kB) into ``usage``."""
    final_records = final_dir / RECORDS_FILE
    facts = replace(final_read, records=[])  # a process of its own loads them from the file
    checks = [
        PartCheck(history, final_records, facts, (n, jobs), names, reading is None)
        for n in range(jobs)
    ]
    checks[0].final_read, checks[0].given = final_read, True  # checked here, as the read is
    try:
        return _checked(names, checks, final_read, reading, keys, processes, usage)
    except (RuntimeError, OSError) as exc:  # a part's process died: no verdict from parts
        error = f"verifying in parts failed: {_describe(exc)}"
        return {n: Result(n, "unknown", error=error, reason=error) for n in names}, None


def _checked(
    names: Sequence[str],
    checks: Sequence[PartCheck],
    final_read: FinalRead,
    reading: HistoryReading | None,
    keys: Collection[str],
    processes: bool,
    usage: list[tuple[float, int]] | None,
) -> tuple[dict[str, Result], HistoryIndex | None]:
    runner = _Processes(checks) if processes else _InProcess(checks)
    try:
        outcomes = runner.outcomes()
        if usage is not None:
            usage.extend(outcome.usage for outcome in outcomes[1:] if processes)
        found = outcomes[0].reading
        if reading is not None and found is not None:
            for name in ("lines", "damaged_lines", "torn_last_line", "last_time", "system_ops"):
                setattr(reading, name, getattr(found, name))
        failed = next((o.error for o in outcomes if o.error is not None), None)
        if failed is not None:
            results = {n: Result(n, "unknown", error=failed, reason=failed) for n in names}
            return results, None
        results = {name: _merged(name, outcomes, final_read, runner.owners) for name in names}
        wanted = {a.key for r in results.values() for a in r.anomalies if a.key is not None}
        return results, _merged_index(outcomes, runner.states(wanted | set(keys)))
    finally:
        runner.close()


def _merged(
    name: str,
    outcomes: Sequence[PartOutcome],
    final_read: FinalRead,
    owners_of: Callable[[Collection[str]], Notes],
) -> Result:
    parts = [o.parts[name] for o in outcomes]
    raised = next((p for p in parts if isinstance(p, str)), None)
    try:
        if raised is not None:
            raise RuntimeError(raised)
        verifier = PARTED[name]()
        if isinstance(verifier, RecordsVerifier):
            return verifier.merge(
                [p for p in parts if isinstance(p, RecordsPart)], final_read, owners_of
            )
        return verifier.merge([p for p in parts if isinstance(p, ReadsPart)])
    except Exception as exc:  # as compose does: a checker bug yields unknown, never a crash
        error = raised if raised is not None else _describe(exc)
        return Result(name, "unknown", error=error, reason=f"it raised {error}")


def _merged_index(outcomes: Sequence[PartOutcome], states: Sequence[RecordState]) -> HistoryIndex:
    """The parts' counts summed, with the records asked for (in history order; from other
    processes, their ``current`` no longer holds the index's marker of a field never written:
    only the checks that follow the verdict read these states)."""
    index = HistoryIndex()
    for outcome in outcomes:
        for name, count in outcome.counts.items():
            setattr(index, name, getattr(index, name) + count)
        for outcome_key, count in outcome.op_tally.items():
            index.op_tally[outcome_key] = index.op_tally.get(outcome_key, 0) + count
    for state in sorted(states, key=lambda s: s.first):
        index.records[state.key] = state
    return index


def _own_records(path: Path, number: int, count: int) -> tuple[list[FinalRecord], list[int]]:
    """The final records of part ``number`` (a record without key: part 0), with their lines."""
    records: list[FinalRecord] = []
    positions: list[int] = []
    if not path.exists():
        return records, positions
    for line, found in enumerate(load_records(path)):
        mine = number == 0 if found.key is None else part_of(found.key, count) == number
        if mine:
            records.append(found)
            positions.append(line)
    return records, positions


class _InProcess:
    """The parts one after the other, in this process (tests; one core)."""

    def __init__(self, checks: Sequence[PartCheck]) -> None:
        self.checks = checks

    def outcomes(self) -> list[PartOutcome]:
        return [check.check() for check in self.checks]

    def owners(self, digests: Collection[str]) -> Notes:
        return _union([check.owners(digests) for check in self.checks])

    def states(self, keys: Collection[str]) -> list[RecordState]:
        return [state for check in self.checks for state in check.states(keys)]

    def close(self) -> None:
        pass


class _Processes:
    """Part 0 in this process, each other part in a fresh interpreter of its own (not
    multiprocessing, whose spawn runs the caller's main script again in each child and whose
    fork copies other threads' locks mid-use), answering over two pipes until told to stop. A
    part that dies makes the verdict unknown, never partial."""

    def __init__(self, checks: Sequence[PartCheck]) -> None:
        self.here = checks[0]
        self.pipes: list[_Channel] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        for check in checks[1:]:
            down_read, down_write = os.pipe()  # plain blocking descriptors, even under gevent
            up_read, up_write = os.pipe()
            worker = subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(down_read), str(up_write)],
                pass_fds=(down_read, up_write),
                stdin=subprocess.DEVNULL,
            )
            os.close(down_read)
            os.close(up_write)
            pipe = _Channel(
                Connection(up_read, writable=False), Connection(down_write, readable=False)
            )
            self.pipes.append(pipe)
            self.workers.append(worker)
            pipe.send(sys.path)  # so that it imports what this process imports
            pipe.send(check)

    def outcomes(self) -> list[PartOutcome]:
        mine = self.here.check()  # while the others check theirs
        return [mine, *(self._answer(pipe) for pipe in self.pipes)]

    def owners(self, digests: Collection[str]) -> Notes:
        return _union([self.here.owners(digests), *self._ask("owners", set(digests))])

    def states(self, keys: Collection[str]) -> list[RecordState]:
        found = self._ask("states", set(keys))
        return [*self.here.states(keys), *(state for states in found for state in states)]

    def _ask(self, kind: str, payload: object) -> list[Any]:
        for pipe in self.pipes:
            pipe.send((kind, payload))
        return [self._answer(pipe) for pipe in self.pipes]

    def _answer(self, pipe: _Channel) -> Any:
        try:
            return pipe.recv()
        except EOFError:
            raise RuntimeError("a verifying process ended without an answer") from None

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):  # it is gone already
                pipe.send(("done", None))
            pipe.close()
        for worker in self.workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


class _Channel:
    """Two one-way pipes, the parent's end or the part's."""

    def __init__(self, inbox: Connection, outbox: Connection) -> None:
        self.inbox = inbox
        self.outbox = outbox

    def send(self, message: object) -> None:
        self.outbox.send(message)

    def recv(self) -> Any:
        return self.inbox.recv()

    def close(self) -> None:
        self.inbox.close()
        self.outbox.close()


# A part's interpreter: its pipes' descriptors in argv; first the parent's sys.path, then the
# PartCheck, then questions until "done".
_WORKER = (
    "import sys; from multiprocessing.connection import Connection; "
    "inbox = Connection(int(sys.argv[1]), writable=False); "
    "outbox = Connection(int(sys.argv[2]), readable=False); "
    "sys.path[:0] = inbox.recv(); "
    "from ackguard.harness.verifiers.parallel import serve; serve(inbox, outbox)"
)


def serve(inbox: Connection, outbox: Connection) -> None:
    """A part's process: check the part it is sent, then answer until told to stop."""
    pipe = _Channel(inbox, outbox)
    check: PartCheck = pipe.recv()
    outcome = check.check()
    outcome.usage = _usage()
    pipe.send(outcome)
    while True:
        kind, payload = pipe.recv()
        if kind == "owners":
            pipe.send(check.owners(payload))
        elif kind == "states":
            pipe.send(check.states(payload))
        else:
            return


def _union(found: Sequence[Notes]) -> dict[tuple[str, str], dict[str, Owner]]:
    """Who wrote each value, over every part (the parts hold disjoint records)."""
    owners: dict[tuple[str, str], dict[str, Owner]] = {}
    for part in found:
        for value, whose in part.items():
            owners.setdefault(value, {}).update(whose)
    return owners


def _usage() -> tuple[float, int]:
    spent = resource.getrusage(resource.RUSAGE_SELF)
    return spent.ru_utime + spent.ru_stime, spent.ru_maxrss


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
