"""The ``records`` verifier: every acknowledged record, field by field, against the final read.

Jepsen's ``set-full`` checker extended to records with fields. Per idempotency key:

- **lost**: acknowledged (a create answered ``ok``) or seen by an in-run read or list, absent
  from a complete final read; also an acknowledged id that is gone while a copy with the key
  survives under another id;
- **corrupt**: present, but a field's final value is not allowed (the rule is in
  :mod:`harness.verifiers.allowed_value`: the last acknowledged value, any indeterminate
  write's value, null for a field never acknowledged; never a failed write's value by itself;
  a write completed after the final read began supersedes nothing);
- **misattributed**: an answer or a record about someone else's record: the stored record holds
  another practitioner, patient or start time than its create (``via`` record), the
  acknowledged id now holds another key's record (``id``), an acknowledged answer carried
  another record (``create``, ``update``, ``read``), or a value written to this record is
  found in another one and was written by no other record (``note``); both patients named;
- **unexpected**: present although every create of it was refused (``fail``, a 4xx);
- **recovered**: present, never acknowledged (its creates ended ``info``/pending);
- **phantom**: a final record whose key is null or was never attempted;
- **duplicate**: more than one final record for one key (the one the acknowledgement named is
  the one whose fields are checked);
- **intact**: acknowledged and present with every field allowed, about the right people.

An anomaly's ``ack_time`` is the completion that acknowledged the create (lost) or the damaged
writes (corrupt: the latest); its ``detection_time`` is the completion of the earliest in-run
read that saw the damage (a miss after the last sighting; a field value not allowed at that
read), else the final read's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from ackguard.harness.final_read import FinalRead, FinalRecord
from ackguard.harness.history import OBSERVATION_FIELDS, Op
from ackguard.harness.verifiers.allowed_value import FAIL, is_allowed, last_acknowledged
from ackguard.harness.verifiers.index import HistoryIndex, RecordState, build_index
from ackguard.harness.verifiers.result import Anomaly, FieldDamage, Result, Valid

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
        self.counts |= {"phantom": 0, "duplicate": 0, "misattributed": 0, "unexpected": 0}
        self.anomalies: list[Anomaly] = []
        self.by_id: dict[str, FinalRecord] = {}
        # (record, its copy in the final read, the final digests not allowed per field)
        self.damaged: list[tuple[RecordState, FinalRecord, dict[str, str]]] = []

    def run(self, name: str) -> Result:
        final = self.final_read
        by_key: dict[str, list[FinalRecord]] = {}
        for found in final.records:
            self.by_id.setdefault(found.id, found)
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
                self._present(state, held)
            elif (state.acknowledged or state.known_time is not None) and final.complete:
                self._lost(state)  # set-full: seen during the run counts like acknowledged
                self._id_taken(state)
            self._misreads(state)
        self._misfiled_notes()
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

    def _present(self, state: RecordState, held: Sequence[FinalRecord]) -> None:
        if state.refused:
            self._unexpected(state, held[0])
            return
        found = _primary(state, held)
        if state.acknowledged and state.record_id is not None and found.id != state.record_id:
            # the acknowledged id is gone while a copy with the key survives: not intact
            if not self._id_taken(state):
                self.counts["lost"] += 1
                self.anomalies.append(
                    _anomaly(
                        "lost",
                        state,
                        state.record_id,
                        ack_time=state.ack_time,
                        detection_time=self.final_read.time,
                        ids=tuple(c.id for c in held),
                    )
                )
            return
        wrong_owner = self._wrong_owner(state, found)
        damage, foreign = _damaged_fields(state, found, self.final_read.time)
        if foreign:
            self.damaged.append((state, found, foreign))
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
        elif wrong_owner:
            pass
        elif state.acknowledged:
            self.counts["intact"] += 1
        else:
            self.counts["recovered"] += 1

    def _wrong_owner(self, state: RecordState, found: FinalRecord) -> bool:
        """The stored record holds another practitioner, patient or start time than its
        create sent."""
        if state.practitioner_id is None:
            return False
        same = (
            found.practitioner_id == state.practitioner_id
            and found.patient_id == state.patient_id
            and _same_moment(state.started_at, found.started_at)
        )
        if not same:
            self._misattributed(state, "record", found.id, found, self.final_read.time)
        return not same

    def _id_taken(self, state: RecordState) -> bool:
        """The id acknowledged to this record now holds another record (an id handed out
        twice): whoever follows the acknowledgement reads or writes someone else's notes."""
        if not state.acknowledged or state.record_id is None:
            return False
        holder = self.by_id.get(state.record_id)
        if holder is None or holder.key == state.key:
            return False
        self._misattributed(state, "id", holder.id, holder, self.final_read.time)
        return True

    def _misreads(self, state: RecordState) -> None:
        reported: set[tuple[str | None, str | None, str | None]] = set()
        for misread in state.misreads:
            other = (misread.key, misread.practitioner_id, misread.patient_id)
            if other in reported:
                continue
            reported.add(other)
            self.counts["misattributed"] += 1
            self.anomalies.append(
                replace(
                    _anomaly(
                        "misattributed",
                        state,
                        state.record_id,
                        ack_time=state.ack_time,
                        detection_time=misread.time,
                    ),
                    other_key=misread.key,
                    other_practitioner_id=misread.practitioner_id,
                    other_patient_id=misread.patient_id,
                    via=misread.f,
                )
            )

    def _misfiled_notes(self) -> None:
        """A field value that is not allowed in its record but was written to exactly one other
        record is that record's note, filed under the wrong consultation."""
        wanted = {digest for _, _, foreign in self.damaged for digest in foreign.values()}
        if not wanted:
            return
        owners: dict[tuple[str, str], set[str]] = {}
        for state in self.records.values():
            for write in state.writes:
                if write.status == FAIL:
                    continue
                for name, value in write.fields.items():
                    if value is not None and value["digest"] in wanted:
                        owners.setdefault((name, value["digest"]), set()).add(state.key)
        for holder, found, foreign in self.damaged:
            notified: set[str] = set()
            for name, digest in foreign.items():
                keys = owners.get((name, digest), set())
                if len(keys) != 1 or holder.key in keys:
                    continue  # its own stale value, nobody's, or several owners: none to name
                owner = self.records[next(iter(keys))]
                if owner.key in notified:
                    continue
                notified.add(owner.key)
                self._misattributed(owner, "note", found.id, found, self.final_read.time)

    def _misattributed(
        self,
        state: RecordState,
        via: str,
        record_id: str | None,
        other: FinalRecord,
        detection_time: int | None,
    ) -> None:
        self.counts["misattributed"] += 1
        anomaly = _anomaly(
            "misattributed",
            state,
            record_id,
            ack_time=state.ack_time,
            detection_time=detection_time,
        )
        self.anomalies.append(
            replace(
                anomaly,
                other_key=other.key,
                other_practitioner_id=other.practitioner_id,
                other_patient_id=other.patient_id,
                via=via,
            )
        )

    def _unexpected(self, state: RecordState, found: FinalRecord) -> None:
        """Present although every create of it was refused (4xx): the refusal was a lie."""
        self.counts["unexpected"] += 1
        self.anomalies.append(
            _anomaly(
                "unexpected", state, found.id, ack_time=None, detection_time=self.final_read.time
            )
        )

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


def _damaged_fields(
    state: RecordState, found: FinalRecord, before: int | None
) -> tuple[list[FieldDamage], dict[str, str]]:
    """The fields whose final value is not allowed (writes that completed after the final read
    began cannot supersede), and the digests of those final values that are not null."""
    damage: list[FieldDamage] = []
    foreign: dict[str, str] = {}
    writes = state.writes
    for name in OBSERVATION_FIELDS:
        final = found.fields.get(name)
        if is_allowed(writes, name, None if final is None else final.digest, before):
            continue
        if final is not None:
            foreign[name] = final.digest
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
    return damage, foreign


def _same_moment(sent: str | None, stored: str | None) -> bool:
    """Start times compared as moments (a database may store them in another ISO layout);
    unknown on either side is no evidence."""
    if sent is None or stored is None or sent == stored:
        return True
    try:
        a, b = datetime.fromisoformat(sent), datetime.fromisoformat(stored)
    except ValueError:
        return False
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a == b


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
