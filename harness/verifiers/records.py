"""The ``records`` verifier: every acknowledged record, field by field, against the final read.

Jepsen's ``set`` checker extended to records with fields. Per idempotency key:

- **lost**: acknowledged (a create answered ``ok``), absent from a complete final read;
- **corrupt**: present, but a field's final value is not allowed (the rule is in
  :mod:`harness.verifiers.index`: the last acknowledged value, any indeterminate write's value,
  null for a field never acknowledged; never a failed write's value by itself);
- **recovered**: present, never acknowledged (its creates ended ``info``/``fail``/pending);
- **phantom**: a final record whose key is null or was never attempted;
- **duplicate**: more than one final record for one key (the one the acknowledgement named is
  the one whose fields are checked);
- **intact**: acknowledged and present with every field allowed.

An anomaly's ``ack_time`` is the completion that acknowledged the create (lost) or the damaged
writes (corrupt: the latest); its ``detection_time`` is the completion of the earliest in-run
read that saw the damage (a miss after the last sighting; a field value not allowed at that
read), else the final read's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from harness.final_read import FinalRead, FinalRecord
from harness.history import OBSERVATION_FIELDS, Op
from harness.verifiers.index import (
    HistoryIndex,
    RecordState,
    build_index,
    is_allowed,
    last_acknowledged,
)
from harness.verifiers.result import Anomaly, FieldDamage, Result, Valid

__all__ = ["RecordsVerifier"]


class RecordsVerifier:
    """Final-read verifier, field level. See the module docstring for the classes."""

    name = "records"

    def check(self, history: Iterable[Op], final_read: FinalRead | None) -> Result:
        return self.check_index(build_index(history), final_read)

    def check_index(self, index: HistoryIndex, final_read: FinalRead | None) -> Result:
        records = index.records
        counts = {
            "attempted": sum(1 for r in records.values() if r.attempted),
            "acknowledged": sum(1 for r in records.values() if r.acknowledged),
            "indeterminate": index.indeterminate,
            "failed": index.failed,
        }
        operations = index.operation_counts()  # per op kind, for the console and the report
        if final_read is None:
            reason = "no final read: the system was never read back at the end"
            extra = {"reason": reason, "operations": operations}
            return Result(self.name, "unknown", counts, extra=extra, reason=reason)
        result = _Check(index, final_read, counts).run(self.name)
        return replace(result, extra={**result.extra, "operations": operations})


class _Check:
    def __init__(self, index: HistoryIndex, final_read: FinalRead, counts: dict[str, int]) -> None:
        self.records = index.records
        self.final_read = final_read
        self.counts = counts | {c: 0 for c in ("intact", "lost", "corrupt", "recovered")}
        self.counts |= {"phantom": 0, "duplicate": 0}
        self.anomalies: list[Anomaly] = []

    def run(self, name: str) -> Result:
        final = self.final_read
        by_key: dict[str, list[FinalRecord]] = {}
        for found in final.records:
            state = self.records.get(found.key) if found.key is not None else None
            if state is None or not state.attempted:
                self._phantom(found)
                continue
            by_key.setdefault(found.key, []).append(found)  # type: ignore[arg-type]
        for key, copies in by_key.items():
            if len(copies) > 1:
                self._duplicate(self.records[key], copies)
        for state in self.records.values():
            if not state.attempted:
                continue
            held = by_key.get(state.key)
            if held:
                self._present(state, _primary(state, held))
            elif state.acknowledged and final.complete:
                self._lost(state)
        extra: dict[str, object] = {"final_read_source": final.source}
        extra["final_records"] = len(final.records)
        valid: Valid = True
        reason = None
        if self.anomalies:
            valid = False
        elif not final.complete:
            valid = "unknown"
            reason = f"incomplete final read: {final.error or 'no reason given'}"
            extra["reason"] = reason
        return Result(name, valid, self.counts, tuple(self.anomalies), extra, reason=reason)

    def _present(self, state: RecordState, found: FinalRecord) -> None:
        damage = _damaged_fields(state, found)
        if damage:
            self.counts["corrupt"] += 1
            ack_times = [d.ack_time for d in damage if d.ack_time is not None]
            self.anomalies.append(
                _anomaly(
                    "corrupt",
                    state,
                    found.id,
                    fields=tuple(damage),
                    ack_time=max(ack_times) if ack_times else None,
                    detection_time=self._field_detection(state, damage),
                )
            )
        elif state.acknowledged:
            self.counts["intact"] += 1
        else:
            self.counts["recovered"] += 1

    def _field_detection(self, state: RecordState, damage: Sequence[FieldDamage]) -> int | None:
        after = {d.field: (d.ack_time if d.ack_time is not None else -1) for d in damage}
        seen = [
            read.time
            for read in state.flagged
            if read.field in after and read.invoke_time > after[read.field]
        ]
        return min(seen) if seen else self.final_read.time

    def _lost(self, state: RecordState) -> None:
        self.counts["lost"] += 1
        misses = [completed for _invoked, completed in state.absent_reads]
        detection = min(misses) if misses else self.final_read.time
        self.anomalies.append(
            _anomaly(
                "lost", state, state.record_id, ack_time=state.ack_time, detection_time=detection
            )
        )

    def _phantom(self, found: FinalRecord) -> None:
        self.counts["phantom"] += 1
        self.anomalies.append(
            Anomaly(
                "phantom",
                found.key,
                found.id,
                found.practitioner_id,
                found.patient_id,
                detection_time=self.final_read.time,
            )
        )

    def _duplicate(self, state: RecordState, copies: Sequence[FinalRecord]) -> None:
        self.counts["duplicate"] += 1
        self.anomalies.append(
            _anomaly(
                "duplicate",
                state,
                state.record_id or copies[0].id,
                ack_time=state.ack_time,
                detection_time=self.final_read.time,
                ids=tuple(c.id for c in copies),
            )
        )


def _primary(state: RecordState, copies: Sequence[FinalRecord]) -> FinalRecord:
    """The copy the acknowledgement named (updates went to it), else the first one."""
    if state.record_id is not None:
        for found in copies:
            if found.id == state.record_id:
                return found
    return copies[0]


def _damaged_fields(state: RecordState, found: FinalRecord) -> list[FieldDamage]:
    damage: list[FieldDamage] = []
    writes = state.writes
    for name in OBSERVATION_FIELDS:
        final = found.fields.get(name)
        if is_allowed(writes, name, None if final is None else final.digest, None):
            continue
        acked = last_acknowledged(writes, name)
        acked_value = None if acked is None else acked.fields[name]
        damage.append(
            FieldDamage(
                name,
                None if acked_value is None else dict(acked_value),
                None if final is None else final.to_json(),
                None if acked is None else acked.cmp,
            )
        )
    return damage


def _anomaly(
    kind: str,
    state: RecordState,
    record_id: str | None,
    *,
    fields: tuple[FieldDamage, ...] = (),
    ack_time: int | None,
    detection_time: int | None,
    ids: tuple[str, ...] = (),
) -> Anomaly:
    return Anomaly(
        kind,
        state.key,
        record_id,
        state.practitioner_id,
        state.patient_id,
        fields=fields,
        ack_time=ack_time,
        detection_time=detection_time,
        ids=ids,
    )
