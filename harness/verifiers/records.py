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

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ackguard.harness.final_read import FinalFields, FinalRead, FinalRecord
from ackguard.harness.history import OBSERVATION_FIELDS, Op
from ackguard.harness.history_values import Digest
from ackguard.harness.verifiers.allowed_value import FAIL, is_allowed, last_acknowledged
from ackguard.harness.verifiers.index import HistoryIndex, RecordState, build_index
from ackguard.harness.verifiers.result import Anomaly, FieldDamage, Result, Valid

__all__ = [
    "Damaged",
    "HoldersOf",
    "Owner",
    "OwnersOf",
    "RecordsPart",
    "RecordsVerifier",
    "note_owners",
]

Order = tuple[int, int, int]
"""Where the check of all records at once puts an anomaly: (stage, position, sequence). Stages
in order: phantoms (position: the record's line in the final read), duplicates (their first
copy's line), each record in history order (:attr:`RecordState.first`)."""
_PHANTOM, _DUPLICATE, _RECORD = range(3)

HoldersOf = Callable[[Collection[str]], Mapping[str, FinalRecord]]
"""ids -> the first record of the whole final read holding each (an id held by none: absent)."""

Notes = Mapping[tuple[str, str], Mapping[str, "Owner"]]
"""(field, digest) -> the records (by key) that wrote that value, except by failed writes."""

OwnersOf = Callable[[Collection[str]], Notes]
"""digests -> who wrote them (:func:`note_owners` over every part of the records)."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose record a written value is: what a ``note`` anomaly names."""

    key: str
    practitioner_id: str | None
    patient_id: str | None
    ack_time: int | None


@dataclass(frozen=True, slots=True)
class Damaged:
    """A present record holding field values not allowed in it: maybe another record's notes."""

    first: int  # the holder's place in the history (RecordState.first)
    key: str
    found: FinalRecord
    foreign: Mapping[str, str]  # field -> its final digest (not null), not allowed here


@dataclass(slots=True)
class RecordsPart:
    """The check of one part of the records (of all of them, in one process): what
    :meth:`RecordsVerifier.merge` needs, small enough to send between processes."""

    counts: dict[str, int]
    anomalies: list[tuple[Order, Anomaly]]
    damaged: list[Damaged]
    operations: dict[str, dict[str, int]]


class RecordsVerifier:
    """Final-read verifier, field level. See the module docstring for the classes.

    The records can be checked in parts (disjoint sets of keys, as
    :func:`~harness.verifiers.index.build_index_from_file` builds them with ``part``), in as
    many processes: :meth:`check_part` per part, then :meth:`merge`. Checking all records at
    once is the same two steps on one part, so both give the same result."""

    name = "records"

    def check(self, history: Iterable[Op], final_read: FinalRead | None) -> Result:
        return self.check_index(build_index(history), final_read)

    def check_index(self, index: HistoryIndex, final_read: FinalRead | None) -> Result:
        if final_read is None:
            counts = _index_counts(index)
            reason = "no final read: the system was never read back at the end"
            extra = {"reason": reason, "operations": index.operation_counts()}
            return Result(self.name, "unknown", counts, extra=extra, reason=reason)
        part = self.check_part(index, final_read, _Holders(final_read.records))
        return self.merge([part], final_read, lambda wanted: note_owners(index, wanted))

    def check_part(
        self,
        index: HistoryIndex,
        final_read: FinalRead,
        holders_of: HoldersOf,
        positions: Sequence[int] | None = None,
    ) -> RecordsPart:
        """The part of the check that needs only this part's records. ``final_read``: the final
        records of this part's keys, in the order of the whole read (``positions``: their lines
        in it; default: their order); ``holders_of``: the whole read's holders of ids."""
        part = _Check(index, final_read, _index_counts(index), holders_of, positions).run()
        part.operations = index.operation_counts()
        return part

    def merge(
        self, parts: Sequence[RecordsPart], final_read: FinalRead, owners_of: OwnersOf
    ) -> Result:
        """One result from the parts of the whole final read ``final_read``. ``owners_of``:
        who wrote given digests, across every part (for notes found in other records)."""
        counts = _summed([p.counts for p in parts])
        ordered = sorted((item for p in parts for item in p.anomalies), key=lambda item: item[0])
        anomalies = [anomaly for _, anomaly in ordered]
        notes = _notes(sorted((d for p in parts for d in p.damaged), key=_first), owners_of)
        for found, owner in notes:
            counts["misattributed"] += 1
            anomalies.append(_misattributed(owner, "note", found.id, found, final_read.time))
        extra: dict[str, object] = {"final_read_source": final_read.source}
        extra["final_records"] = final_read.size
        valid: Valid = True
        reason = None
        if anomalies:
            valid = False
        elif not final_read.complete:
            valid = "unknown"
            reason = f"incomplete final read: {final_read.error or 'no reason given'}"
            extra["reason"] = reason
        extra["operations"] = _summed_operations([p.operations for p in parts])
        return Result(self.name, valid, counts, tuple(anomalies), extra, reason=reason)


class _Holders:
    """:data:`HoldersOf` over all of a final read: each id's first holder, found once, on the
    first question (most checks ask none)."""

    def __init__(self, records: Sequence[FinalRecord]) -> None:
        self.records = records
        self.by_id: dict[str, FinalRecord] | None = None

    def __call__(self, ids: Collection[str]) -> Mapping[str, FinalRecord]:
        if self.by_id is None:
            self.by_id = {}
            for found in self.records:
                self.by_id.setdefault(found.id, found)
        return {wanted: self.by_id[wanted] for wanted in ids if wanted in self.by_id}


def _ids_not_held(
    states: Iterable[RecordState], held: Mapping[str, FinalRecord | list[FinalRecord]]
) -> set[str]:
    """The ids acknowledged to records that the final read does not hold under that id (or
    holds more than once): the only ones whose holder :meth:`_Check._id_taken` asks for, asked
    at once, so that a part finds them in one pass over the read's ids."""
    ids: set[str] = set()
    for state in states:
        if not state.attempted or state.record_id is None:
            continue
        copies = held.get(state.key)
        if copies is None or copies.__class__ is not FinalRecord or copies.id != state.record_id:
            ids.add(state.record_id)
    return ids


def note_owners(
    index: HistoryIndex, digests: Collection[str]
) -> dict[tuple[str, str], dict[str, Owner]]:
    """Who (of ``index``'s records) wrote each of ``digests``, per field: writes that were not
    refused (acknowledged, indeterminate or pending)."""
    wanted = set(digests)
    owners: dict[tuple[str, str], dict[str, Owner]] = {}
    if not wanted:
        return owners
    for state in index.records.values():
        for write in state.writes:
            if write.status == FAIL:
                continue
            for name, value in write.fields.items():
                if value is not None and value["digest"] in wanted:
                    whose = Owner(
                        state.key, state.practitioner_id, state.patient_id, state.ack_time
                    )
                    owners.setdefault((name, value["digest"]), {})[state.key] = whose
    return owners


def _notes(damaged: Sequence[Damaged], owners_of: OwnersOf) -> list[tuple[FinalRecord, Owner]]:
    """A field value that is not allowed in its record but was written to exactly one other
    record is that record's note, filed under the wrong consultation: (where it was found,
    whose it is), once per holder and owner."""
    wanted = {digest for d in damaged for digest in d.foreign.values()}
    if not wanted:
        return []
    owners = owners_of(wanted)
    notes: list[tuple[FinalRecord, Owner]] = []
    for holder in damaged:
        notified: set[str] = set()
        for name, digest in holder.foreign.items():
            keys = owners.get((name, digest), {})
            if len(keys) != 1 or holder.key in keys:
                continue  # its own stale value, nobody's, or several owners: none to name
            owner = next(iter(keys.values()))
            if owner.key in notified:
                continue
            notified.add(owner.key)
            notes.append((holder.found, owner))
    return notes


def _first(damaged: Damaged) -> int:
    return damaged.first


def _index_counts(index: HistoryIndex) -> dict[str, int]:
    records = index.records
    return {
        "attempted": sum(1 for r in records.values() if r.attempted),
        "acknowledged": sum(1 for r in records.values() if r.acknowledged),
        "indeterminate": index.indeterminate,
        "failed": index.failed,
    }


def _summed(counts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in counts:
        for name, count in part.items():
            total[name] = total.get(name, 0) + count
    return total


def _summed_operations(
    parts: Sequence[Mapping[str, Mapping[str, int]]],
) -> dict[str, dict[str, int]]:
    """Per kind of op, each outcome summed over the parts (kinds sorted, as each part has them)."""
    kinds = sorted({f for part in parts for f in part})
    return {f: _summed([part[f] for part in parts if f in part]) for f in kinds}


class _Check:
    def __init__(
        self,
        index: HistoryIndex,
        final_read: FinalRead,
        counts: dict[str, int],
        holders_of: HoldersOf,
        positions: Sequence[int] | None,
    ) -> None:
        self.records = index.records
        self.final_read = final_read
        self.holders_of = holders_of
        self.holders: Mapping[str, FinalRecord] = {}
        self.positions = positions
        self.counts = counts | {c: 0 for c in ("intact", "lost", "corrupt", "recovered")}
        self.counts |= {"phantom": 0, "duplicate": 0, "misattributed": 0, "unexpected": 0}
        self.anomalies: list[tuple[Order, Anomaly]] = []
        self.order = (_PHANTOM, 0)  # where the anomalies found now go (stage, position)
        self.damaged: list[Damaged] = []

    def run(self) -> RecordsPart:
        final = self.final_read
        records = self.records
        # key -> its final record, or its copies (a list) when it has more than one: one entry
        # per record of the final read, so no list for the usual one
        held: dict[str, FinalRecord | list[FinalRecord]] = {}
        for number, found in enumerate(final.records):
            key = found.key
            state = records.get(key) if key is not None else None
            if state is None or not state.attempted:
                line = number if self.positions is None else self.positions[number]
                self.order = (_PHANTOM, line)
                self._phantom(found)
                continue
            before = held.setdefault(key, found)  # type: ignore[arg-type]
            if before is found:
                continue
            if isinstance(before, list):
                before.append(found)
            else:
                held[key] = [before, found]  # type: ignore[index]
        duplicated = {key for key, copies in held.items() if copies.__class__ is list}
        if duplicated:
            for number, found in enumerate(final.records):  # the line of each one's first copy
                if found.key in duplicated:
                    duplicated.discard(found.key)
                    line = number if self.positions is None else self.positions[number]
                    self.order = (_DUPLICATE, line)
                    self._duplicate(records[found.key], held[found.key])  # type: ignore[arg-type]
        self.holders = self.holders_of(_ids_not_held(records.values(), held))
        for state in records.values():
            if not state.attempted:
                continue
            self.order = (_RECORD, state.first)
            copies = held.get(state.key)
            if copies is not None:
                self._present(state, (copies,) if copies.__class__ is FinalRecord else copies)  # type: ignore[arg-type]
            elif (state.acknowledged or state.known_time is not None) and final.complete:
                self._lost(state)  # set-full: seen during the run counts like acknowledged
                self._id_taken(state)
            self._misreads(state)
        return RecordsPart(self.counts, self.anomalies, self.damaged, {})

    def _add(self, anomaly: Anomaly) -> None:
        stage, position = self.order
        self.anomalies.append(((stage, position, len(self.anomalies)), anomaly))

    def _present(self, state: RecordState, held: Sequence[FinalRecord]) -> None:
        if state.ack_time is None and state.refused:  # acknowledged: not every create refused
            self._unexpected(state, held[0])
            return
        found = _primary(state, held)
        if state.acknowledged and state.record_id is not None and found.id != state.record_id:
            # the acknowledged id is gone while a copy with the key survives: not intact
            if not self._id_taken(state):
                self.counts["lost"] += 1
                self._add(
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
            self.damaged.append(Damaged(state.first, state.key, found, foreign))
        if damage:
            self.counts["corrupt"] += 1
            ack_times = [d.ack_time for d in damage if d.ack_time is not None]
            self._add(
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
        holder = self.holders.get(state.record_id)
        if holder is None or holder.key == state.key:
            return False
        self._misattributed(state, "id", holder.id, holder, self.final_read.time)
        return True

    def _misreads(self, state: RecordState) -> None:
        if not state.misreads:
            return
        reported: set[tuple[str | None, str | None, str | None]] = set()
        for misread in state.misreads:
            other = (misread.key, misread.practitioner_id, misread.patient_id)
            if other in reported:
                continue
            reported.add(other)
            self.counts["misattributed"] += 1
            self._add(
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

    def _misattributed(
        self,
        state: RecordState,
        via: str,
        record_id: str | None,
        other: FinalRecord,
        detection_time: int | None,
    ) -> None:
        self.counts["misattributed"] += 1
        self._add(_misattributed(state, via, record_id, other, detection_time))

    def _unexpected(self, state: RecordState, found: FinalRecord) -> None:
        """Present although every create of it was refused (4xx): the refusal was a lie."""
        self.counts["unexpected"] += 1
        self._add(
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
        self._add(
            _anomaly(
                "lost", state, state.record_id, ack_time=state.ack_time, detection_time=detection
            )
        )

    def _phantom(self, found: FinalRecord) -> None:
        self.counts["phantom"] += 1
        self._add(
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
        self._add(
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
    if _as_acknowledged(state.current, found.fields):
        return damage, foreign
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


def _as_acknowledged(current: Sequence[object], fields: FinalFields) -> bool:
    """Every field of the final record holds its last acknowledged value, which the rule always
    allows (no acknowledged write completed after the last one, to supersede it): the writes
    need no look. Anything else (a field never acknowledged, another value) takes the rule."""
    final_of = fields.get
    for name, kept in zip(OBSERVATION_FIELDS, current, strict=True):
        final = final_of(name)
        if kept is None:
            if final is not None:
                return False
        elif final is None or kept.__class__ is not Digest or final.digest != kept.digest:
            return False
    return True


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
    state: RecordState | Owner,
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


def _misattributed(
    whose: RecordState | Owner,
    via: str,
    record_id: str | None,
    other: FinalRecord,
    detection_time: int | None,
) -> Anomaly:
    """``whose`` record's answer or note was about ``other``'s record (``via`` says how)."""
    anomaly = _anomaly(
        "misattributed", whose, record_id, ack_time=whose.ack_time, detection_time=detection_time
    )
    return replace(
        anomaly,
        other_key=other.key,
        other_practitioner_id=other.practitioner_id,
        other_patient_id=other.patient_id,
        via=via,
    )
