"""Time to detect, offline: what the live read-backs of a stored run caught, recomputed from its
history, so it is reproducible by ``ackguard verify``.

For every record the final verdict names lost, corrupt or misattributed, the *time to detect* is
from its acknowledgement (the anomaly's ``ack_time``) to the completion of the first live
read-back begun after it that caught it:

- lost: a read-back that found nothing (the first of the misses since the record was last seen
  by a read-back; the live verifier calls it lost once a second miss, begun ``confirm_after``
  later, confirms it);
- corrupt: a read-back that showed a damaged field a value not allowed (the history index's
  flagged reads, restricted to read-backs); its time to detect runs from the acknowledgement of
  that field the read contradicted (the latest completed before it began);
- misattributed: a read-back that caught anything wrong about the record (nothing found,
  another owner, a field not allowed).

*After the service came back* is the detection time minus the end of the latest fault window
that healed between the acknowledgement and the detection (``None`` when none did): the live
verifier's target is stated that way.

The summary also counts *unconfirmed alarms*: records a read-back caught that neither the
records verifier nor read_your_writes name as damaged in the end. It must be 0: a live alarm
the final verdict does not confirm is a bug.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ackguard.harness.history import NEMESIS, Op
from ackguard.harness.live.options import DEFAULT_CONFIRM_S
from ackguard.harness.verifiers.index import OK, HistoryIndex, RecordState
from ackguard.harness.verifiers.result import Anomaly, Result

__all__ = ["DAMAGE", "LiveReads", "scan_live_reads", "time_to_detect"]

DAMAGE = ("lost", "corrupt", "misattributed")
_MARK = b'"live":true'
_SHOWN_KEYS = 20


@dataclass(slots=True)
class LiveReads:
    """The read-backs of a history: answered ones per key as (invoke, completion, found)."""

    invoked: int = 0
    answered: dict[str, list[tuple[int, int, bool]]] = field(default_factory=dict)


def scan_live_reads(path: Path, *, block_bytes: int = 1 << 20) -> LiveReads:
    """Every read-back line of ``path`` (marked ``"live": true``), matched by process. The
    mark is searched for in blocks of ``block_bytes``, and only the lines that hold it are
    taken out and decoded: this pass costs little more than reading the file (testing each
    line in Python cost 0.7 s per million lines)."""
    found = LiveReads()
    pending: dict[object, int] = {}
    with path.open("rb") as source:
        for line in _marked_lines(source, block_bytes):
            try:
                data = orjson.loads(line)
                process, kind, key, at = data["process"], data["type"], data["key"], data["time"]
            except (ValueError, KeyError, TypeError):
                continue  # a torn or damaged line: the evidence check says so
            if kind == "invoke":
                found.invoked += 1
                pending[process] = int(at)
                continue
            began = pending.pop(process, None)
            if began is None or kind != "ok" or not isinstance(key, str):
                continue
            value = data.get("value")
            seen = isinstance(value, dict) and bool(value.get("found"))
            found.answered.setdefault(key, []).append((began, int(at), seen))
    return found


def _marked_lines(source: BinaryIO, block_bytes: int) -> Iterator[bytes]:
    """The lines of ``source`` (split at newlines, as iterating it splits them) that hold the
    mark, in order."""
    carry = b""
    while chunk := source.read(block_bytes):
        block = carry + chunk
        end = block.rfind(b"\n") + 1  # whole lines only: the rest waits for the next block
        at = block.find(_MARK, 0, end)
        while at >= 0:
            start = block.rfind(b"\n", 0, at) + 1
            stop = block.find(b"\n", at) + 1
            yield block[start:stop]
            at = block.find(_MARK, stop, end)
        carry = block[end:]
    if _MARK in carry:
        yield carry


def time_to_detect(
    results: Sequence[Result],
    index: HistoryIndex | None,
    reads: LiveReads,
    system_ops: Iterable[tuple[int, Op]],
    confirm_after_s: float = DEFAULT_CONFIRM_S,
) -> tuple[tuple[Result, ...], dict[str, Any]]:
    """``results`` with ``time_to_detect_s`` (and ``after_service_back_s``) on the records
    verifier's damage anomalies, and the ``live`` summary of the verdict."""
    heals = sorted(
        op.time
        for _, op in system_ops
        if op.process == NEMESIS and op.f == "stop" and op.type == "ok"
    )
    alarms = _alarms(index, reads, round(confirm_after_s * 1e9))
    damaged = {a.key for r in results for a in r.anomalies if a.kind in DAMAGE}
    unconfirmed = sorted(k for k in alarms if k not in damaged)
    timed: list[Anomaly] = []
    out: list[Result] = []
    for result in results:
        if result.name != "records":
            out.append(result)
            continue
        anomalies = []
        for anomaly in result.anomalies:
            if anomaly.kind in DAMAGE:
                anomaly = _timed(anomaly, index, reads, heals)
                timed.append(anomaly)
            anomalies.append(anomaly)
        out.append(replace(result, anomalies=tuple(anomalies)))
    detect = [a.time_to_detect_s for a in timed if a.time_to_detect_s is not None]
    back = [a.after_service_back_s for a in timed if a.after_service_back_s is not None]
    summary: dict[str, Any] = {
        "reads": reads.invoked,
        "answered": sum(len(v) for v in reads.answered.values()),
        "damaged": len(timed),
        "detected": len(detect),
        "alarms": len(alarms),
        "unconfirmed": len(unconfirmed),
        "unconfirmed_keys": unconfirmed[:_SHOWN_KEYS],
        "confirm_after_s": confirm_after_s,
        "median_time_to_detect_s": _round(statistics.median(detect)) if detect else None,
        "max_time_to_detect_s": _round(max(detect)) if detect else None,
        "median_after_service_back_s": _round(statistics.median(back)) if back else None,
        "max_after_service_back_s": _round(max(back)) if back else None,
    }
    return tuple(out), summary


def _alarms(index: HistoryIndex | None, reads: LiveReads, confirm_ns: int) -> set[str]:
    """Keys the live verifier called damaged, by its rule: two misses after the acknowledgement
    ``confirm_ns`` apart with no sighting between, a field not allowed, a record about someone
    else."""
    if index is None:
        return set()
    found: set[str] = set()
    for key, answered in reads.answered.items():
        state = index.records.get(key)
        if state is None or state.ack_time is None:
            continue
        ack = state.ack_time
        completions = {cmp for _, cmp, _ in answered}
        missed = _confirmed_miss(answered, ack, confirm_ns)
        wrong = any(r.time in completions for r in state.flagged)
        other = any(m.f == "read" and m.time in completions for m in state.misreads)
        if missed or wrong or other:
            found.add(key)
    return found


def _confirmed_miss(answered: list[tuple[int, int, bool]], ack: int, confirm_ns: int) -> bool:
    first: int | None = None
    for inv, cmp, seen in answered:
        if seen:
            first = None
        elif inv > ack:
            if first is None:
                first = cmp
            if not confirm_ns or inv >= first + confirm_ns:
                return True
    return False


def _first_miss(answered: list[tuple[int, int, bool]], ack: int) -> list[int]:
    """The completion of the first miss begun after ``ack`` since the last sighting."""
    first: int | None = None
    for inv, cmp, seen in answered:
        if seen:
            first = None
        elif inv > ack and first is None:
            first = cmp
    return [] if first is None else [first]


def _timed(
    anomaly: Anomaly, index: HistoryIndex | None, reads: LiveReads, heals: Sequence[int]
) -> Anomaly:
    key, ack = anomaly.key, anomaly.ack_time
    answered = reads.answered.get(key or "", [])
    state = index.records.get(key or "") if index is not None else None
    if state is None or ack is None or not answered:
        return anomaly
    completions = {cmp for _, cmp, _ in answered}
    # (detection, the acknowledgement it contradicts)
    caught = [(cmp, ack) for cmp in _first_miss(answered, ack)]
    if anomaly.kind == "corrupt":
        damaged = {d.field for d in anomaly.fields}
        caught = []
        for read in state.flagged:
            if read.time in completions and read.field in damaged:
                field_ack = _last_ack_before(state, read.field, read.invoke_time)
                if field_ack is not None:
                    caught.append((read.time, field_ack))
    elif anomaly.kind == "misattributed":
        caught += [
            (r.time, ack) for r in state.flagged if r.time in completions and r.invoke_time > ack
        ]
        caught += [
            (m.time, ack)
            for m in state.misreads
            if m.f == "read" and m.time in completions and m.time > ack
        ]
    if not caught:
        return anomaly
    detected, since = min(caught)
    healed = [t for t in heals if since < t <= detected]
    return replace(
        anomaly,
        time_to_detect_s=_round((detected - since) / 1e9),
        after_service_back_s=_round((detected - healed[-1]) / 1e9) if healed else None,
    )


def _last_ack_before(state: RecordState, field: str, before: int) -> int | None:
    """The latest acknowledgement of ``field`` completed before a read began at ``before``:
    the value the read should have shown (a corrupt record's time to detect runs from it)."""
    acks = [
        w.cmp
        for w in state.writes
        if w.status == OK and w.cmp is not None and w.cmp < before and field in w.fields
    ]
    return max(acks) if acks else None


def _round(value: float) -> float:
    return round(value, 3)
