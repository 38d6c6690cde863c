"""Verification in parallel: the records split by key into parts, a process per part.

Records are independent of each other for almost every check (Jepsen's ``independent`` checker
rests on the same fact), so each part is checked on its own: a process reads the whole history
and builds the index of its part's records only (:func:`~harness.verifiers.index.
build_index_from_file` with ``part``), keeps its part of the final read, and runs each verifier's
``check_part``; the verifier's ``merge`` makes one result of the parts. Each part is checked in
a process of its own, which loads its own final records; the calling process needs only the
final read's facts (:func:`~harness.final_read.load_final_read` with ``records=False``)
and holds no index. What crosses parts:

- the holder of an acknowledged id is the first record of the *whole* final read holding it:
  a part asks it only for the ids of records the read lacks, found in one pass over the read's
  ids;
- who wrote a value found in a record where it does not belong, and the grouped history of the
  records that the run's later checks look at (the anomalies' and the live reads'), merged into
  a :class:`HistoryIndex` with the counts of every part: the parts answer from the index they
  keep until the end.

With more parts than processes (``parts``), the parts are checked in waves: a process checks
its parts one after the other and holds one part's index at a time (what the merge asks of a
part is kept before its index goes, or built again: :mod:`harness.verifiers.part_processes`),
less memory for more time; by default only when the indexes would outgrow the memory available
(:func:`default_parts`).

One process checking all records is the same steps with one part, so the verdict is the one
:func:`~harness.verifiers.compose.compose_file` gives (a property test holds them equal).
:func:`check_in_parts` runs the parts and merges them; one part's work is
:class:`~harness.verifiers.part_check.PartCheck`, and :mod:`harness.verifiers.part_processes`
runs the parts, in processes or (for tests) one after the other here.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from ackguard.harness.cores import usable_cores
from ackguard.harness.final_read import RECORDS_FILE, FinalRead
from ackguard.harness.history import HistoryReading
from ackguard.harness.run_files import RunFileError
from ackguard.harness.verifiers.final_split import final_part_files
from ackguard.harness.verifiers.history_split import (
    SplitJob,
    joined_reading,
    line_ranges,
    part_files,
)
from ackguard.harness.verifiers.index import HistoryIndex, RecordState
from ackguard.harness.verifiers.part_check import PARTED, PartCheck, PartOutcome, describe_error
from ackguard.harness.verifiers.part_processes import InProcess, Processes
from ackguard.harness.verifiers.read_your_writes import ReadsPart
from ackguard.harness.verifiers.records import Notes, RecordsPart, RecordsVerifier
from ackguard.harness.verifiers.result import Result

__all__ = [
    "PARTED",
    "InParts",
    "PartCheck",
    "PartOutcome",
    "available_memory",
    "check_in_parts",
    "default_jobs",
    "default_parts",
]

PARALLEL_BYTES = 64 << 20
"""A history this large (about 200,000 operations) is verified in parts, one per idle core."""

_SPLIT = "ackguard-parts-"  # prefix of the temporary folder of a split history

INDEX_PER_BYTE = 0.75
"""Memory the parts hold per byte of history: their indexes and their records of the final read
(0.62 to 0.64 measured at 1M and 10M operations, in 2, 4 and 8 parts), with a margin."""

MAX_WAVES = 16  # each wave reads its share again: beyond this, fewer parts would not fit either

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
    if size < PARALLEL_BYTES or not sys.executable:  # no interpreter to start parts with
        return 1
    return max(1, min(MAX_JOBS, usable_cores() - int(os.getloadavg()[0])))


def default_parts(history: Path, jobs: int) -> int:
    """How many parts ``jobs`` processes check ``history`` in: one each, unless the indexes
    they would hold at once (about :data:`INDEX_PER_BYTE` of the history) outgrow half of the
    memory available (:func:`available_memory`); then more parts, checked in waves, so that
    ``jobs`` parts' indexes fit, and a multiple of ``jobs`` (each process as many)."""
    try:
        need = history.stat().st_size * INDEX_PER_BYTE
    except OSError:
        return jobs
    budget = available_memory() / 2
    if need <= budget:
        return jobs
    waves = math.ceil(need / budget) if budget > 0 else MAX_WAVES  # nothing left: the most
    return jobs * min(waves, MAX_WAVES)


def available_memory() -> int:
    """Bytes this process may still take: what the kernel says is available (free and
    reclaimable), within a cgroup v2 memory limit if one is set."""
    available = _meminfo_available()
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return available
    if limit == "max":
        return available
    return max(0, min(available, int(limit) - used))


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


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
    parts: int | None = None,
) -> InParts:
    """Each verifier of ``names`` (all of them in :data:`PARTED`) over ``history`` and the final
    read stored in ``final_dir`` (``final_read``: the same read, its records loaded or not),
    the records split into ``jobs`` parts, each in a process of its own (``processes``) or one
    after the other here. Returns the results by name, the grouped history of the records the
    anomalies name and of ``keys`` (``None`` when the history could not be read) and the final
    read's facts with its records counted; what reading the history found goes into
    ``reading``, and each part's process's CPU seconds and peak RSS (kB) into ``usage``. A
    final read that cannot be read raises :class:`RunFileError`, as loading it would.

    ``parts``: more parts than processes (default: one per process) are checked in waves, a
    process checking its parts one after the other and keeping no part's index once checked:
    a process holds one part's index at a time (each a ``parts``-th of the records)."""
    count = max(jobs, parts or jobs)
    final_records = final_dir / RECORDS_FILE
    facts = replace(final_read, records=[], stored=final_read.size)  # each part loads its own
    checks = [
        PartCheck(history, final_records, facts, (n, count), names, reading is None)
        for n in range(count)
    ]
    # in waves, the history is split first: each part then reads about its share, not all
    folder = Path(tempfile.mkdtemp(prefix=_SPLIT)) if count > jobs else None
    try:
        splits: list[SplitJob] = []
        if folder is not None:
            ranges = line_ranges(history, jobs)
            finals = line_ranges(final_records, len(ranges)) if final_records.exists() else []
            splits = [
                SplitJob(history, count, folder, r, *span, _final(final_records, finals, r))
                for r, span in enumerate(ranges)
            ]
            for n, check in enumerate(checks):
                check.files, check.places = part_files(folder, n, len(ranges))
                check.final_files = final_part_files(folder, n, len(finals))
        return _checked(names, checks, facts, reading, keys, processes, usage, jobs, splits)
    except (RuntimeError, OSError) as exc:  # a part's process died: no verdict from parts
        error = f"verifying in parts failed: {describe_error(exc)}"
        return InParts(_unknown(names, error), None, facts)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


class InParts(NamedTuple):
    """What :func:`check_in_parts` found."""

    results: dict[str, Result]  # by verifier name
    grouped: HistoryIndex | None  # the counts, and the records asked for
    final_read: FinalRead  # its facts, records left to the parts, counted by them


def _unknown(names: Sequence[str], error: str) -> dict[str, Result]:
    return {n: Result(n, "unknown", error=error, reason=error) for n in names}


def _checked(
    names: Sequence[str],
    checks: Sequence[PartCheck],
    final_read: FinalRead,
    reading: HistoryReading | None,
    keys: Collection[str],
    processes: bool,
    usage: list[tuple[float, int]] | None,
    jobs: int,
    splits: Sequence[SplitJob],
) -> InParts:
    # one process (waves, for memory) checks its parts here: a process of its own would only
    # add its start; an embedded interpreter starts none
    here = not processes or jobs == 1 or not sys.executable
    waves = len(checks) > jobs
    runner: InProcess | Processes = (
        InProcess(checks, waves=waves, keys=keys, splits=splits)
        if here
        else Processes(checks, jobs, waves=waves, keys=keys, splits=splits)
    )
    try:
        if splits:
            ranges = runner.splits()
            try:
                whole = joined_reading(checks[0].history, ranges, strict=reading is None)
            except ValueError as exc:  # a damaged line: said as a part reading it says it
                runner.go(False)
                error = f"reading the history failed: {describe_error(exc)}"
                return InParts(_unknown(names, error), None, final_read)
            counted = [split.final_records for split in ranges[: len(checks[0].final_files)]]
            runner.go(True, _all_counted(counted))
            if reading is not None:
                _said(reading, whole)
        outcomes = runner.outcomes()
        if usage is not None and not here:
            usage.extend(o.usage for o in outcomes if o.usage != (0.0, 0))  # one per process
        unreadable = outcomes[0].final_read_error  # every part reads the whole final read
        if unreadable is not None:
            raise RunFileError(*unreadable)
        final_read = replace(final_read, stored=outcomes[0].final_records)
        found = outcomes[0].reading
        if reading is not None and found is not None:
            _said(reading, found)
        failed = next((o.error for o in outcomes if o.error is not None), None)
        if failed is not None:
            return InParts(_unknown(names, failed), None, final_read)
        results = {name: _merged(name, outcomes, final_read, runner.owners) for name in names}
        wanted = {a.key for r in results.values() for a in r.anomalies if a.key is not None}
        index = _merged_index(outcomes, runner.states(wanted | set(keys)))
        return InParts(results, index, final_read)
    finally:
        runner.close()


def _final(
    path: Path, ranges: Sequence[tuple[int, int | None]], r: int
) -> tuple[Path, int, int | None] | None:
    """Range ``r`` of the final read, split with range ``r`` of the history (if it has one)."""
    return (path, *ranges[r]) if r < len(ranges) else None


def _all_counted(counts: Sequence[int | None]) -> list[int] | None:
    """The records of each range of the final read, or ``None`` if one was not split."""
    return [count for count in counts if count is not None] if None not in counts else None


def _said(reading: HistoryReading, found: HistoryReading) -> None:
    for name in ("lines", "damaged_lines", "torn_last_line", "last_time", "system_ops"):
        setattr(reading, name, getattr(found, name))


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
        error = raised if raised is not None else describe_error(exc)
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
