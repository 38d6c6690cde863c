"""The writes, as jobs the writer runs inside its transaction (see :mod:`.writer`).

A job's ``execute`` validates with reads, writes, and returns the answer to send once the
transaction is committed. It also tells the writer how the active defects treat it:
``defer_s`` (ack_before_commit: answer before the commit), ``fallback`` (swallowed_commit_error:
the answer to send even if the write fails), ``followups`` (steps run after the commit, in
transactions of their own: split_transaction, lost_observations in stale mode).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, CursorResult

from ackguard.fakes.consultations import driver
from ackguard.fakes.consultations.amend import has_update_returning, update_returning
from ackguard.fakes.consultations.defects import ActiveDefects, DefectEntry, DefectParams
from ackguard.fakes.consultations.defects.hooks import FollowUp, WriteCall
from ackguard.fakes.consultations.errors import Answer, ApiError, json_answer
from ackguard.fakes.consultations.models import (
    ConsultationIn,
    ConsultationPatch,
    PatientIn,
    PractitionerIn,
)
from ackguard.fakes.consultations.records import (
    ConsultationRecord,
    PatientRecord,
    PractitionerRecord,
    consultation_record,
    utc_now_iso,
)
from ackguard.fakes.consultations.schema import (
    consultations,
    patients,
    practitioners,
    use_plain_key_index,
)

__all__ = [
    "CreateConsultation",
    "CreatePatient",
    "CreatePractitioner",
    "Directory",
    "FollowUp",
    "PatchConsultation",
    "Probe",
    "UsePlainKeyIndex",
    "WriteContext",
    "WriteJob",
    "prefetch_keys",
]


# Built once: building a statement per request (``.values(...)`` with literals, its cache
# key) cost a third of the writer's time in profiles; these take their values as parameters.
_BY_KEY = select(consultations).where(consultations.c.idempotency_key == bindparam("key")).limit(1)
_BY_ID_FOR_UPDATE = (
    select(consultations).where(consultations.c.id == bindparam("id")).with_for_update()
)
_INSERT_CONSULTATION = insert(consultations)
_UPDATE_BY_ID = update(consultations).where(consultations.c.id == bindparam("record_id"))
_BY_KEYS = select(consultations).where(
    consultations.c.idempotency_key.in_(bindparam("keys", expanding=True))
)
_COLUMNS = ", ".join(column.name for column in consultations.columns)
_RPPS = select(practitioners.c.rpps).where(practitioners.c.id == bindparam("id"))
_PATIENT = select(patients.c.id).where(patients.c.id == bindparam("id"))


class Directory:
    """Practitioners' RPPS and known patients, cached: both are immutable once committed."""

    def __init__(self) -> None:
        self._rpps: dict[int, str] = {}
        self._patients: set[int] = set()

    def rpps(self, connection: Connection, practitioner_id: int) -> str | None:
        known = self._rpps.get(practitioner_id)
        if known is None:
            found = connection.execute(_RPPS, {"id": practitioner_id}).scalar()
            if found is not None:
                known = self._rpps[practitioner_id] = str(found)
        return known

    def has_patient(self, connection: Connection, patient_id: int) -> bool:
        if patient_id not in self._patients:
            if connection.execute(_PATIENT, {"id": patient_id}).scalar() is None:
                return False
            self._patients.add(patient_id)
        return True

    def add_practitioner(self, practitioner_id: int, rpps: str) -> None:
        self._rpps[practitioner_id] = rpps

    def add_patient(self, patient_id: int) -> None:
        self._patients.add(patient_id)


@dataclass
class WriteContext:
    defects: ActiveDefects
    now: datetime
    directory: Directory
    last_id: int = 0
    keys: dict[str, ConsultationRecord | None] = field(default_factory=dict)
    """Records by idempotency key, prefetched for the batch (None: no record) and kept up to
    date by the batch's own creates; a key missing here is looked up."""

    def predict_id(self) -> int:
        """The id a create would get, for an answer sent although its INSERT failed."""
        self.last_id += 1
        return self.last_id


def practice_time(started_at: str) -> datetime | None:
    """The simulated moment of a consultation (its ``started_at``) for windows on the practice
    clock; a time without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rows_by_keys(connection: Connection, keys: list[str]) -> Iterable[Mapping[Any, Any]]:
    if driver.handles(connection.dialect):
        marks = ", ".join([driver.mark(connection.dialect)] * len(keys))
        sql = f"SELECT {_COLUMNS} FROM {consultations.name} WHERE idempotency_key IN ({marks})"
        return driver.run(connection, sql, keys)
    return connection.execute(_BY_KEYS, {"keys": keys}).mappings()


def prefetch_keys(connection: Connection, context: WriteContext, jobs: list[WriteJob]) -> None:
    """One query for the idempotency keys of every create in the batch (instead of one each)."""
    keys = {job.key for job in jobs if isinstance(job, CreateConsultation)}
    context.keys = dict.fromkeys(keys)
    if keys:
        for row in _rows_by_keys(connection, sorted(keys)):
            context.keys.setdefault(str(row["idempotency_key"]), None)
            if context.keys[str(row["idempotency_key"])] is None:
                context.keys[str(row["idempotency_key"])] = consultation_record(row)


class WriteJob(ABC):
    def __init__(self) -> None:
        self.defer_s: float | None = None  # ack_before_commit: answer now, commit this much later
        self.fallback: Answer | None = None
        self.wrote = False
        self.followups: list[FollowUp] = []
        self.cancelled = False  # the client's deadline passed before the job started

    @abstractmethod
    def execute(self, connection: Connection, context: WriteContext) -> Answer: ...

    def committed(self, context: WriteContext) -> None:  # noqa: B027 (optional hook)
        """Called once the job's writes are durable."""


class CreatePractitioner(WriteJob):
    def __init__(self, body: PractitionerIn) -> None:
        super().__init__()
        self.body = body
        self.new_id = 0

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        result = connection.execute(insert(practitioners).values(**self.body.model_dump()))
        self.new_id = _inserted_id(result)
        self.wrote = True
        body = self.body
        record = PractitionerRecord(
            id=str(self.new_id), name=body.name, specialty=body.specialty, rpps=body.rpps
        )
        return json_answer(201, record)

    def committed(self, context: WriteContext) -> None:
        context.directory.add_practitioner(self.new_id, self.body.rpps)


class CreatePatient(WriteJob):
    def __init__(self, body: PatientIn) -> None:
        super().__init__()
        self.body = body
        self.new_id = 0

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        result = connection.execute(insert(patients).values(**self.body.model_dump()))
        self.new_id = _inserted_id(result)
        self.wrote = True
        body = self.body
        record = PatientRecord(
            id=str(self.new_id),
            name=body.name,
            birth_date=body.birth_date,
            national_id=body.national_id,
        )
        return json_answer(201, record)

    def committed(self, context: WriteContext) -> None:
        context.directory.add_patient(self.new_id)


def _inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database returned no id for the new row")
    return int(key[0])


def _new_record(
    key: str, body: ConsultationIn, notes: Mapping[str, str | None]
) -> ConsultationRecord:
    """The first version of a consultation (``id`` is the database's to give)."""
    stamp = utc_now_iso()
    return ConsultationRecord(
        id="",
        idempotency_key=key,
        practitioner_id=body.practitioner_id,
        patient_id=body.patient_id,
        started_at=body.started_at,
        visit_reason=notes["visit_reason"],
        exam_report=notes["exam_report"],
        conclusion=notes["conclusion"],
        prescription=notes["prescription"],
        version=1,
        created_at=stamp,
        updated_at=stamp,
    )


def _same_request(record: ConsultationRecord, body: ConsultationIn) -> bool:
    """Does a replayed create carry the body the record was created from? Observation fields
    are compared only while the record is unchanged since (version 1)."""
    if (record["practitioner_id"], record["patient_id"], record["started_at"]) != (
        body.practitioner_id,
        body.patient_id,
        body.started_at,
    ):
        return False
    return record["version"] != 1 or all(
        record[name] == value  # type: ignore[literal-required]
        for name, value in body.notes().items()
    )


def _before_write(covering: Sequence[DefectEntry[DefectParams]], call: WriteCall) -> None:
    for entry in covering:
        if entry.kind.hooks is not None:
            entry.kind.hooks.before_write(entry.params, call)


def _after_write(covering: Sequence[DefectEntry[DefectParams]], call: WriteCall) -> None:
    call.clock = time.monotonic()
    for entry in covering:
        if entry.kind.hooks is not None:
            entry.kind.hooks.after_write(entry.params, call)


class CreateConsultation(WriteJob):
    def __init__(self, body: ConsultationIn, key: str) -> None:
        super().__init__()
        self.body = body
        self.key = key
        self._plain: ConsultationRecord | None = None

    def plain_row(self, connection: Connection, context: WriteContext) -> dict[str, Any] | None:
        """The row this create inserts when nothing bends it (known practitioner and
        patient, no defect covering it, a key with no record: prefetched and absent), so the
        writer can insert it with others in one statement and then call :meth:`inserted`;
        ``None`` otherwise (then :meth:`execute` runs it). Writes nothing."""
        body = self.body
        practitioner_id, patient_id = int(body.practitioner_id), int(body.patient_id)
        rpps = context.directory.rpps(connection, practitioner_id)
        if rpps is None or not context.directory.has_patient(connection, patient_id):
            return None
        if self.key not in context.keys or context.keys[self.key] is not None:
            return None
        if context.defects.covering(rpps, context.now, practice_time(body.started_at)):
            return None
        self._plain = _new_record(self.key, body, body.notes())
        values: dict[str, Any] = {
            **self._plain,
            "practitioner_id": practitioner_id,
            "patient_id": patient_id,
        }
        del values["id"]
        return values

    def inserted(self, new_id: int, context: WriteContext) -> Answer:
        """The answer once the row of :meth:`plain_row` was inserted with ``new_id``."""
        record = self._plain
        if record is None:
            raise RuntimeError("inserted() without plain_row()")
        context.last_id = max(context.last_id, new_id)
        self.wrote = True
        record["id"] = str(new_id)
        context.keys[self.key] = record.copy()
        return json_answer(201, record)

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        body = self.body
        practitioner_id, patient_id = int(body.practitioner_id), int(body.patient_id)
        rpps = context.directory.rpps(connection, practitioner_id)
        if rpps is None:
            raise ApiError(
                422, f"no practitioner with id {body.practitioner_id}", "practitioner_id"
            )
        if not context.directory.has_patient(connection, patient_id):
            raise ApiError(422, f"no patient with id {body.patient_id}", "patient_id")
        at = practice_time(body.started_at)
        covering = context.defects.covering(rpps, context.now, at)
        notes = body.notes()
        call = WriteCall("create", connection, practitioner_id, sent=notes, stored=dict(notes))
        _before_write(covering, call)
        if call.check_key:
            if self.key in context.keys:
                record = context.keys[self.key]
            else:
                found = connection.execute(_BY_KEY, {"key": self.key}).mappings().first()
                record = None if found is None else consultation_record(found)
            if record is not None:
                if not _same_request(record, body):
                    raise ApiError(
                        409, "this Idempotency-Key was used with another body", "Idempotency-Key"
                    )
                return json_answer(200, record)
        record = _new_record(self.key, body, notes)
        self.defer_s = call.defer_s
        if call.answer_on_error:
            self.fallback = json_answer(201, {**record, "id": str(context.predict_id())})
        row_notes = call.insert_notes
        values = {
            **record,
            **row_notes,
            "practitioner_id": practitioner_id,
            "patient_id": patient_id,
        }
        del values["id"]
        result = connection.execute(_INSERT_CONSULTATION, values)
        new_id = _inserted_id(result)
        context.last_id = max(context.last_id, new_id)
        self.wrote = True
        call.record_id = new_id
        _after_write(covering, call)
        self.followups.extend(call.followups)
        record["id"] = str(new_id)
        kept = record.copy()  # as stored, for a replay later in the same batch
        for name, text in row_notes.items():
            kept[name] = text  # type: ignore[literal-required]
        context.keys[self.key] = kept
        return json_answer(201, record)


class PatchConsultation(WriteJob):
    def __init__(self, record_id: int, body: ConsultationPatch) -> None:
        super().__init__()
        self.record_id = record_id
        self.body = body

    def updated(self, record: ConsultationRecord | None) -> Answer:
        """The answer once updated with others by the writer (``None``: no such record)."""
        if record is None:
            return self._missing().answer()
        self.wrote = True
        return json_answer(200, record)

    def _missing(self) -> ApiError:
        return ApiError(404, f"no consultation with id {self.record_id}", "id")

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        if not context.defects.entries and has_update_returning(connection):
            # nothing can bend it: one statement (see .amend)
            now = utc_now_iso()
            updated = update_returning(connection, self.record_id, self.body.changes(), now)
            if updated is None:
                raise self._missing()
            self.wrote = True
            return json_answer(200, updated)
        row = connection.execute(_BY_ID_FOR_UPDATE, {"id": self.record_id}).mappings().first()
        if row is None:
            raise self._missing()
        before = consultation_record(row)
        practitioner_id = int(before["practitioner_id"])
        rpps = context.directory.rpps(connection, practitioner_id) or ""
        at = practice_time(before["started_at"])
        covering = context.defects.covering(rpps, context.now, at)
        changes = self.body.changes()
        after: ConsultationRecord = {**before, **changes}  # type: ignore[typeddict-item]
        after["version"] = before["version"] + 1
        after["updated_at"] = utc_now_iso()
        answer = json_answer(200, after)
        call = WriteCall(
            "update",
            connection,
            practitioner_id,
            sent=dict(changes),
            stored=dict(changes),
            record_id=self.record_id,
            before={name: before[name] for name in changes},  # type: ignore[literal-required]
        )
        _before_write(covering, call)
        self.defer_s = call.defer_s
        if call.answer_on_error:
            self.fallback = answer
        if not call.write:
            return answer
        values = {**call.stored, "version": after["version"], "updated_at": after["updated_at"]}
        connection.execute(_UPDATE_BY_ID, {"record_id": call.record_id, **values})
        self.wrote = True
        _after_write(covering, call)
        self.followups.extend(call.followups)
        return answer


class UsePlainKeyIndex(WriteJob):
    """Drop the unique index on idempotency keys (switching non_idempotent_retry on)."""

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        use_plain_key_index(connection)
        self.wrote = True
        return json_answer(200, {"index": "plain"})


class Probe(WriteJob):
    """For /health: can the writer take the write lock right now? A zero-row UPDATE takes it
    (SQLite: a lock held elsewhere past the busy timeout fails it) and writes nothing, so it
    neither commits nor disturbs a deferred transaction."""

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        column = practitioners.c
        connection.execute(update(practitioners).where(column.id == 0).values(rpps=column.rpps))
        return json_answer(200, {"status": "ok"})
