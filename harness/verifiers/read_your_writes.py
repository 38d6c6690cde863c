"""The ``read_your_writes`` verifier: Jepsen's ``set-full`` over the reads practitioners make.

Practitioners reopen their own notes (``read`` of one record, ``list`` of their records). For
every record that became *known* (its create acknowledged, or a read saw it: whichever came
first), each read that began after that moment either saw it or missed it:

- **stable**: the last read that saw it began after the last read that missed it;
- **lost**: a read missed it and no read that began later saw it again. Whether the record is
  in the final state is the ``records`` verifier's call: a record that reads lost but a
  complete final read holds is counted **stale** here, not lost;
- **stale**: stable (or held by the final read), but some read after its known time missed it;
- **never-read**: neither (no read began after it was known).

Latencies are in ms, as quantiles 0, 0.5, 0.95, 0.99 and 1: stable latency (stable time minus
known time) and lost latency (lost time minus known time); 0 everywhere means reads were
linearizable with respect to writes. Field level: a read that returned a field value not
allowed at the moment it began (the rule in :mod:`harness.verifiers.index`, using only the
writes invoked before the read completed) is a ``corrupt`` anomaly detected at that read.

valid: false when a record is lost or a read returned a value never allowed; unknown, with its
reason, when nothing was ever read (Jepsen's set-full: nothing to judge); true otherwise.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from ackguard.harness.final_read import FinalRead
from ackguard.harness.history import Op
from ackguard.harness.verifiers.index import (
    OK,
    FlaggedRead,
    HistoryIndex,
    RecordState,
    build_index,
)
from ackguard.harness.verifiers.result import Anomaly, FieldDamage, Result, Valid

__all__ = ["QUANTILES", "ReadYourWritesVerifier", "ReadsPart", "quantiles"]

QUANTILES: tuple[float, ...] = (0.0, 0.5, 0.95, 0.99, 1.0)
_NS_PER_MS = 1_000_000


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """Jepsen's quantiles: the element at rank ``min(n - 1, floor(q * n))`` of the sorted values,
    keyed ``"0"``, ``"0.5"``, ``"0.95"``, ``"0.99"``, ``"1"``; empty when there are no values."""
    return _quantiles_of_sorted([sorted(values)])


def _quantiles_of_sorted(runs: Sequence[Sequence[float]]) -> dict[str, float]:
    """:func:`quantiles` of the values of ``runs``, each sorted (the parts' latencies), picked
    as they merge, without one sorted list of them all."""
    n = sum(len(run) for run in runs)
    if not n:
        return {}
    ranks = {q: min(n - 1, int(q * n)) for q in QUANTILES}
    if len(runs) == 1:
        return {f"{q:g}": runs[0][rank] for q, rank in ranks.items()}
    at: dict[int, float] = {}
    wanted = set(ranks.values())
    for rank, value in enumerate(islice(heapq.merge(*runs), max(wanted) + 1)):
        if rank in wanted:
            at[rank] = value
    return {f"{q:g}": at[rank] for q, rank in ranks.items()}


class ReadYourWritesVerifier:
    """In-run reads against acknowledged writes (set-full). See the module docstring."""

    name = "read_your_writes"

    def check(self, history: Iterable[Op], final_read: FinalRead | None) -> Result:
        return self.check_index(build_index(history), final_read)

    def check_index(self, index: HistoryIndex, final_read: FinalRead | None) -> Result:
        return self.merge([self.check_part(index, final_read)])

    def check_part(self, index: HistoryIndex, final_read: FinalRead | None) -> ReadsPart:
        """The check of one part of the records (:mod:`harness.verifiers.records` says how
        parts work); ``final_read`` needs to hold only this part's records."""
        present: set[str] = set()
        if final_read is not None and final_read.complete:
            present = {r.key for r in final_read.records if r.key is not None}
        tally = {"stable": 0, "lost": 0, "never_read": 0, "stale": 0}
        part = ReadsPart({}, [], array("d"), array("d"), index.reads)
        corrupt_reads = 0
        for state in index.records.values():
            known = state.known_time
            if state.flagged:
                corrupt_reads += len(state.flagged)
                part.anomalies.append((state.first, 0, _corrupt(state)))
            if known is None:
                continue
            last_present, last_absent = state.last_present, state.last_absent
            if last_absent is not None and (last_present is None or last_absent > last_present):
                if state.key in present:
                    tally["stale"] += 1
                    continue
                tally["lost"] += 1
                lost_time = 0 if last_present is None else last_present + 1
                part.lost_ms.append(max(0, lost_time - known) / _NS_PER_MS)
                part.anomalies.append((state.first, 1, _lost(state)))
            elif last_present is not None:
                tally["stable"] += 1
                if last_absent is not None:
                    tally["stale"] += 1
                stable_time = 0 if last_absent is None else last_absent + 1
                part.stable_ms.append(max(0, stable_time - known) / _NS_PER_MS)
            else:
                tally["never_read"] += 1
        part.stable_ms = array("d", sorted(part.stable_ms))
        part.lost_ms = array("d", sorted(part.lost_ms))
        part.counts = {
            "attempted": sum(1 for r in index.records.values() if r.attempted),
            "acknowledged": sum(1 for r in index.records.values() if r.acknowledged),
            "indeterminate": index.indeterminate,
            "failed": index.failed,
            "stable": tally["stable"],
            "read_lost": tally["lost"],
            "never_read": tally["never_read"],
            "stale": tally["stale"],
            "corrupt_reads": corrupt_reads,
        }
        return part

    def merge(self, parts: Sequence[ReadsPart]) -> Result:
        """One result from the parts of the records."""
        counts: dict[str, int] = {}
        for part in parts:
            for name, count in part.counts.items():
                counts[name] = counts.get(name, 0) + count
        ordered = sorted((item for p in parts for item in p.anomalies), key=lambda i: i[:2])
        anomalies = tuple(anomaly for _, _, anomaly in ordered)
        detections = [a.detection_time for a in anomalies if a.detection_time is not None]
        reads = sum(p.reads for p in parts)
        extra: dict[str, object] = {
            "stable_latencies": _quantiles_of_sorted([p.stable_ms for p in parts]),
            "lost_latencies": _quantiles_of_sorted([p.lost_ms for p in parts]),
            "first_detection_time": min(detections) if detections else None,
            "stable": counts["stable"],
            "lost": counts["read_lost"],
            "never_read": counts["never_read"],
            "stale": counts["stale"],
            "corrupt_reads": counts["corrupt_reads"],
            "reads": reads,
        }
        valid: Valid = not anomalies
        reason = None
        if reads == 0:
            valid = "unknown"
            reason = "no read ever completed: nothing to judge"
            extra["reason"] = reason
        return Result(self.name, valid, counts, anomalies, extra, reason=reason)


@dataclass(slots=True)
class ReadsPart:
    """The check of one part of the records, to be merged: counts, anomalies with their
    record's place in the history (:attr:`RecordState.first`), the latencies in full, sorted,
    in arrays of doubles (a quarter of a list of floats, sent as one block of bytes)."""

    counts: dict[str, int]
    anomalies: list[tuple[int, int, Anomaly]]
    stable_ms: array[float]
    lost_ms: array[float]
    reads: int


def _lost(state: RecordState) -> Anomaly:
    detected = min(completed for _invoked, completed in state.absent_reads)
    return Anomaly(
        "lost",
        state.key,
        state.record_id,
        state.practitioner_id,
        state.patient_id,
        ack_time=state.ack_time,
        detection_time=detected,
    )


def _corrupt(state: RecordState) -> Anomaly:
    """One anomaly per record: the first read that returned a damaged value, with each field
    it got wrong (and the other fields' first damaged reads)."""
    first_per_field: dict[str, FlaggedRead] = {}
    for read in state.flagged:
        first_per_field.setdefault(read.field, read)
    damage = tuple(_damage(state, read) for read in first_per_field.values())
    ack_times = [d.ack_time for d in damage if d.ack_time is not None]
    return Anomaly(
        "corrupt",
        state.key,
        state.record_id,
        state.practitioner_id,
        state.patient_id,
        fields=damage,
        ack_time=max(ack_times) if ack_times else state.ack_time,
        detection_time=min(read.time for read in state.flagged),
    )


def _damage(state: RecordState, read: FlaggedRead) -> FieldDamage:
    """What the practitioner should have read: the field's last acknowledged value before it."""
    expected = None
    for w in state.writes:
        done = w.cmp is not None and w.cmp < read.invoke_time
        later = expected is None or (w.cmp or 0) > (expected.cmp or 0)
        if w.status == OK and done and read.field in w.fields and later:
            expected = w
    value = None if expected is None else expected.fields[read.field]
    return FieldDamage(
        read.field,
        None if value is None else dict(value),
        None if read.observed is None else dict(read.observed),
        None if expected is None else expected.cmp,
    )
