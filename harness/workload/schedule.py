"""When consultations happen and what is written during each, in simulated time.

A practitioner's day has one or two sessions (morning, afternoon, lunch break in between); the
consultations of a session follow one another with the specialty's length and short gaps (late
patients, phone calls, a no-show now and then). Weekends are off unless the practitioner works
Saturday mornings. Every consultation has a :class:`ConsultationPlan`: its idempotency key and
every text written during it, drawn from ``random.Random(f"{seed}:{index}:c{number}")`` so the
notes do not depend on what happened to earlier requests.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from ackguard.harness.workload.model import PractitionerProfile
from ackguard.harness.workload.notes import ConsultationNotes, visit_reason, write_notes

__all__ = [
    "ConsultationPlan",
    "Slot",
    "WriteStep",
    "consultation_slots",
    "plan_consultation",
    "plan_create",
]

ObservationWrite = dict[str, str | None]


@dataclass(frozen=True, slots=True)
class Slot:
    """One consultation in the agenda: its start, length in minutes, the patient (an index into
    the practitioner's patient base) and its number in the practitioner's agenda."""

    start: datetime
    minutes: int
    patient: int
    number: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True, slots=True)
class WriteStep:
    """A PATCH made ``at`` a simulated moment with the given observation fields."""

    at: datetime
    fields: ObservationWrite


@dataclass(frozen=True, slots=True)
class ConsultationPlan:
    key: str
    slot: Slot
    notes: ConsultationNotes
    created_fields: ObservationWrite
    steps: tuple[WriteStep, ...]
    amendment: WriteStep | None


def consultation_slots(
    profile: PractitionerProfile, seed: int, sim_start: datetime
) -> Iterator[Slot]:
    """The practitioner's agenda from ``sim_start`` on, forever (the caller stops)."""
    rng = random.Random(f"{seed}:{profile.index}:schedule")
    low, high = profile.specialty.minutes
    number = 0
    day = sim_start.date()
    while True:
        for opens, closes in profile.hours.sessions(day):
            moment = datetime.combine(day, opens, tzinfo=sim_start.tzinfo)
            moment += timedelta(minutes=rng.randint(0, 10))
            closing = datetime.combine(day, closes, tzinfo=sim_start.tzinfo)
            while True:
                minutes = rng.randint(low, high)
                if moment + timedelta(minutes=minutes) > closing:
                    break
                patient = rng.randrange(len(profile.patients))
                if moment >= sim_start:
                    yield Slot(moment, minutes, patient, number)
                    number += 1
                gap = rng.randint(20, 45) if rng.random() < 0.1 else rng.randint(0, 10)
                moment += timedelta(minutes=minutes + gap)
        day += timedelta(days=1)


def plan_consultation(
    seed: int, profile: PractitionerProfile, slot: Slot, *, amend_probability: float
) -> ConsultationPlan:
    """The writes of one consultation, as a real one goes: created with the visit reason, the
    exam report written during it (once, or a draft then the full text), conclusion and
    prescription at the end, sometimes amended hours later."""
    rng = _consultation_rng(seed, profile, slot)
    key = _key(rng)
    notes = write_notes(
        rng, profile.specialty, slot.start.date(), amend_probability=amend_probability
    )
    length = timedelta(minutes=slot.minutes)
    steps: list[WriteStep] = []
    if len(notes.exam_reports) == 2:
        steps.append(WriteStep(slot.start + length * 0.35, {"exam_report": notes.exam_reports[0]}))
        steps.append(WriteStep(slot.start + length * 0.7, {"exam_report": notes.exam_reports[1]}))
    else:
        steps.append(WriteStep(slot.start + length * 0.5, {"exam_report": notes.exam_reports[0]}))
    closing: ObservationWrite = {"conclusion": notes.conclusion}
    if notes.prescription is not None:
        closing["prescription"] = notes.prescription
    steps.append(WriteStep(slot.end, closing))
    amendment = None
    if notes.amendment is not None:
        field, value = notes.amendment
        amendment = WriteStep(slot.end + timedelta(minutes=rng.randint(60, 360)), {field: value})
    return ConsultationPlan(
        key, slot, notes, {"visit_reason": notes.visit_reason}, tuple(steps), amendment
    )


def plan_create(
    seed: int, profile: PractitionerProfile, slot: Slot
) -> tuple[str, ObservationWrite]:
    """The idempotency key and the fields of the consultation's create, as
    :func:`plan_consultation` gives them, without drawing the texts written after it (the
    practitioners of a ``create_only`` scenario write nothing else, and the exam report's text
    is most of a plan's cost)."""
    rng = _consultation_rng(seed, profile, slot)
    key = _key(rng)
    return key, {"visit_reason": visit_reason(rng, profile.specialty)}


def _consultation_rng(seed: int, profile: PractitionerProfile, slot: Slot) -> random.Random:
    return random.Random(f"{seed}:{profile.index}:c{slot.number}")


def _key(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
