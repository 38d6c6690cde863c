"""One practitioner at work: the agenda followed consultation by consultation, every call to the
system recorded in the history as an operation.

:meth:`PractitionerAgent.life` is a generator: it yields the simulated moment of its next action
and performs that action when resumed. The Locust user driving it sleeps in between (see
:mod:`harness.workload.clock`), so one user can drive several practitioners in turn.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from msgspec import UnsetType

from ackguard.harness.history import OBSERVATION_FIELDS
from ackguard.harness.history_values import (
    UNSET,
    ClientValue,
    CreateInvoke,
    CreateOk,
    ListInvoke,
    ListOk,
    ReadInvoke,
    ReadOk,
    UpdateInvoke,
    UpdateOk,
)
from ackguard.harness.workload.clock import SimClock
from ackguard.harness.workload.directory import PatientEntry, PractitionerEntry
from ackguard.harness.workload.model import PractitionerProfile
from ackguard.harness.workload.recorder import OpRecorder
from ackguard.harness.workload.schedule import (
    Slot,
    consultation_slots,
    plan_consultation,
    plan_create,
)
from ackguard.harness.workload.target import SupportsDayListing, Target, TargetAnswer

__all__ = [
    "CONSULTATION_STEPS",
    "AgentSettings",
    "ConsultationSteps",
    "PractitionerAgent",
    "PractitionerGroup",
]

Fields = dict[str, str | None]
ConsultationSteps = Literal["full", "create_only"]
"""What a practitioner does in a consultation. ``full``: the day's list when a day starts, a past
note reopened now and then, the create with the visit reason, the exam report, conclusion and
prescription written during it, an amendment hours later now and then. ``create_only``: only
the create, with the visit reason (one operation: the smallest write that is evidence of a note
kept or lost, for a population too large to write every note of)."""
CONSULTATION_STEPS: tuple[ConsultationSteps, ...] = ("full", "create_only")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    seed: int
    sim_start: datetime
    amend_probability: float
    read_probability: float
    steps: ConsultationSteps = "full"


@dataclass(frozen=True, slots=True)
class KnownRecord:
    """A consultation this practitioner created and the service acknowledged."""

    key: str
    id: str
    patient: PatientEntry


class PractitionerAgent:
    def __init__(
        self,
        profile: PractitionerProfile,
        entry: PractitionerEntry,
        patients: list[PatientEntry],
        settings: AgentSettings,
        recorder: OpRecorder,
        process: int,
        consultations: int | None = None,
    ) -> None:
        self.profile = profile
        self.entry = entry
        self.patients = patients
        self.settings = settings
        self.recorder = recorder
        self.process = process
        self.target: Target | None = None  # set by the Locust user driving this practitioner
        self.records: list[KnownRecord] = []
        self._by_patient: dict[str, list[KnownRecord]] = {}
        self._amendments: list[tuple[datetime, KnownRecord, Fields]] = []
        slots = consultation_slots(profile, settings.seed, settings.sim_start)
        # A bounded agenda (``consultations``) makes what is written independent of timing.
        self._slots: Iterator[Slot] = itertools.islice(slots, consultations)
        self._reads = random.Random(f"{settings.seed}:{profile.index}:reads")
        self._listed_day: date | None = None

    def life(self) -> Generator[datetime, None, None]:
        """The agenda from where it stands: each consultation, the day's list when the day
        starts, reopened past notes, amendments when due. Restartable: a new generator
        continues with the next consultation."""
        for slot in self._slots:
            while self._amendments and self._amendments[0][0] <= slot.start:
                due, record, fields = self._amendments.pop(0)
                yield due
                self._update(record, fields)
            yield slot.start
            yield from self._consultation(slot)

    def _consultation(self, slot: Slot) -> Generator[datetime, None, None]:
        if self.settings.steps == "create_only":
            key, fields = plan_create(self.settings.seed, self.profile, slot)
            self._create(key, self.patients[slot.patient], slot.start, fields)
            return
        day = slot.start.date()
        if day != self._listed_day:
            self._listed_day = day
            if isinstance(self.target, SupportsDayListing):  # an optional ability
                self._list(self.target, day)
        patient = self.patients[slot.patient]
        past = self._by_patient.get(patient.id)
        if past and self._reads.random() < self.settings.read_probability:
            self._read(past[-1])  # reopens the patient's last consultation
        elif self.records and self._reads.random() < self.settings.read_probability / 3:
            self._read(self._reads.choice(self.records))
        plan = plan_consultation(
            self.settings.seed,
            self.profile,
            slot,
            amend_probability=self.settings.amend_probability,
        )
        record = self._create(plan.key, patient, slot.start, plan.created_fields)
        if record is None:
            return  # not created, or nobody knows: the notes of this consultation are not written
        for step in plan.steps:
            yield step.at
            self._update(record, step.fields)
        if plan.amendment is not None:
            self._amendments.append((plan.amendment.at, record, plan.amendment.fields))
            self._amendments.sort(key=lambda item: item[0])

    # Operations: invoke, call, complete; a new process after an indeterminate outcome.

    def _operate(
        self,
        f: str,
        key: str | None,
        value: ClientValue,
        call: Callable[[Target], TargetAnswer],
        completed: Callable[[TargetAnswer], ClientValue],
    ) -> TargetAnswer:
        target = self.target
        if target is None:
            raise RuntimeError("the practitioner has no target: it is driven by a Locust user")
        process = self.process
        self.recorder.record(process, "invoke", f, key, value)
        try:
            answer = call(target)
        except Exception as exc:  # an adapter that raises has given no answer: indeterminate
            answer = TargetAnswer("info", error=f"target raised {type(exc).__name__}: {exc}")
        except BaseException:  # the user is being stopped mid-request
            self.recorder.record(process, "info", f, key, value, "interrupted: the load stopped")
            self.process = self.recorder.new_process()
            raise
        if self.recorder.enabled:
            final = completed(answer) if answer.outcome == "ok" else value
            self.recorder.record(process, answer.outcome, f, key, final, answer.error)
        if answer.outcome == "info":
            self.process = self.recorder.new_process()
        return answer

    def _create(
        self, key: str, patient: PatientEntry, started_at: datetime, fields: Fields
    ) -> KnownRecord | None:
        written = {name: fields.get(name) for name in OBSERVATION_FIELDS}
        value = CreateInvoke(
            self.entry.id, patient.id, started_at.isoformat(), self.recorder.digests(written)
        )

        def acknowledged(answer: TargetAnswer) -> ClientValue:
            record = answer.record or {}
            return CreateOk(
                value.practitioner_id,
                value.patient_id,
                value.started_at,
                value.fields,
                record.get("id"),  # as the answer gave them
                record.get("version"),
                *_seen(record),
            )

        for _attempt in range(2):  # an indeterminate create is retried once, same key, same body
            answer = self._operate(
                "create",
                key,
                value,
                lambda target: target.create(self.entry, patient, key, started_at, fields),
                acknowledged,
            )
            if answer.outcome == "ok" and answer.record is not None:
                known = KnownRecord(key, answer.record["id"], patient)
                self.records.append(known)
                self._by_patient.setdefault(patient.id, []).append(known)
                return known
            if answer.outcome == "fail":
                return None
        return None

    def _update(self, record: KnownRecord, fields: Fields) -> None:
        value = UpdateInvoke(
            record.id, self.entry.id, record.patient.id, self.recorder.digests(fields)
        )

        def acknowledged(answer: TargetAnswer) -> ClientValue:
            answered = answer.record or {}
            return UpdateOk(
                value.id,
                value.practitioner_id,
                value.patient_id,
                value.fields,
                answered.get("version"),
                *_seen(answered),
            )

        self._operate(
            "update",
            record.key,
            value,
            lambda target: target.update(record.id, fields),
            acknowledged,
        )

    def _read(self, record: KnownRecord) -> None:
        def observed(answer: TargetAnswer) -> ClientValue:
            if not answer.found or answer.record is None:
                return ReadOk(record.id, False, UNSET, dict.fromkeys(OBSERVATION_FIELDS))
            seen = answer.record
            fields = self.recorder.digests({name: seen.get(name) for name in OBSERVATION_FIELDS})  # type: ignore[misc]
            version = seen.get("version")
            return ReadOk(record.id, True, version, fields, *_seen(seen))

        self._operate(
            "read",
            record.key,
            ReadInvoke(record.id),
            lambda target: target.read(record.id),
            observed,
        )

    def _list(self, lister: SupportsDayListing, day: date) -> None:
        value = ListInvoke(self.entry.id, day.isoformat())

        def seen(answer: TargetAnswer) -> ClientValue:
            keys = [r.get("idempotency_key") for r in answer.records]
            listed = [k for k in keys if k is not None]
            return ListOk(value.practitioner_id, value.day, listed, answer.complete)

        self._operate("list", None, value, lambda _: lister.list_day(self.entry, day), seen)


def _seen(record: Mapping[str, object]) -> tuple[str | UnsetType, str | UnsetType, str | UnsetType]:
    """Whom an answer's record belongs to, as far as it says (``seen_key``,
    ``seen_practitioner_id``, ``seen_patient_id``; unset where it does not say): the verifiers
    check that an acknowledged answer is about the record it should be."""
    key = record.get("idempotency_key")
    practitioner = record.get("practitioner_id")
    patient = record.get("patient_id")
    return (
        UNSET if key is None else str(key),
        UNSET if practitioner is None else str(practitioner),
        UNSET if patient is None else str(patient),
    )


@dataclass
class PractitionerGroup:
    """The practitioners one Locust user drives, with their shared simulated clock."""

    agents: list[PractitionerAgent]
    clock: SimClock
    lives: dict[int, Generator[datetime, None, None]] = field(default_factory=dict)
    next_at: dict[int, datetime] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    """The practitioners (indexes into ``agents``) whose bounded agenda has ended."""

    @property
    def agendas_ended(self) -> bool:
        return len(self.ended) == len(self.agents)
