"""The practice: practitioners with a specialty, working hours and a patient base.

Pure and deterministic: the same seed gives the same practitioners and patients. Each practitioner
draws from its own ``random.Random(f"{seed}:{index}")`` and a Faker ``fr_FR`` instance reseeded with
the same string, so adding practitioners never changes the first ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, time, timedelta

from faker import Faker

from ackguard.harness.workload.catalogue import SPECIALTIES, Specialty
from ackguard.harness.workload.identity import make_nir, make_rpps
from ackguard.harness.workload.pacer import Pause, no_pause

__all__ = ["PatientProfile", "PractitionerProfile", "WorkHours", "build_practice"]


@dataclass(frozen=True, slots=True)
class WorkHours:
    """When a practitioner sees patients. ``weekdays`` are ``date.weekday()`` numbers
    (0 = Monday); on Saturday (5), when worked, only the morning is worked."""

    weekdays: frozenset[int]
    start: time
    lunch_start: time
    lunch_minutes: int
    end: time

    def sessions(self, day: date) -> list[tuple[time, time]]:
        """The (from, until) consultation sessions of ``day``: none, a morning, or two."""
        if day.weekday() not in self.weekdays:
            return []
        if day.weekday() == 5:
            return [(self.start, time(12, 30))]
        lunch_end = _minutes(self.lunch_start) + self.lunch_minutes
        return [(self.start, self.lunch_start), (time(lunch_end // 60, lunch_end % 60), self.end)]


@dataclass(frozen=True, slots=True)
class PatientProfile:
    name: str
    birth_date: date
    national_id: str
    female: bool


@dataclass(frozen=True, slots=True)
class PractitionerProfile:
    index: int
    name: str
    rpps: str
    specialty: Specialty
    hours: WorkHours
    patients: tuple[PatientProfile, ...]


def build_practice(
    seed: int, count: int, patients_each: int, today: date, *, pause: Pause = no_pause
) -> list[PractitionerProfile]:
    """``count`` practitioners with ``patients_each`` patients each, born before ``today``.
    ``pause`` is called once per practitioner (:mod:`.pacer`)."""
    fake = Faker("fr_FR")  # one instance reseeded per practitioner: building one costs milliseconds
    seen_rpps: set[str] = set()
    practice = []
    for index in range(count):
        pause()
        rng = random.Random(f"{seed}:{index}")
        fake.seed_instance(f"{seed}:{index}")
        specialty = rng.choices(SPECIALTIES, weights=[s.weight for s in SPECIALTIES])[0]
        rpps = make_rpps(rng)
        while rpps in seen_rpps:
            rpps = make_rpps(rng)
        seen_rpps.add(rpps)
        female = rng.random() < 0.55
        first = fake.first_name_female() if female else fake.first_name_male()
        name = f"Dr {first} {fake.last_name()}"
        patients = tuple(_patient(rng, fake, specialty, today) for _ in range(patients_each))
        practice.append(
            PractitionerProfile(index, name, rpps, specialty, _hours(rng, specialty), patients)
        )
    return practice


def _patient(rng: random.Random, fake: Faker, specialty: Specialty, today: date) -> PatientProfile:
    female = rng.random() < specialty.female_share
    first = fake.first_name_female() if female else fake.first_name_male()
    low, high = specialty.ages
    age_days = rng.randint(low * 365 + 30, high * 365 + 300)
    birth = today - timedelta(days=age_days)
    return PatientProfile(
        f"{first} {fake.last_name()}", birth, make_nir(rng, female=female, birth_date=birth), female
    )


def _hours(rng: random.Random, specialty: Specialty) -> WorkHours:
    weekdays = {0, 1, 2, 3, 4}
    if rng.random() < 0.3:  # a weekday off, Wednesday most often (children's day off school)
        weekdays.discard(rng.choice((2, 2, 2, 0, 4)))
    if rng.random() < (0.35 if specialty.name in ("médecine générale", "pédiatrie") else 0.1):
        weekdays.add(5)
    start = _at(rng.choice((8 * 60, 8 * 60 + 30, 9 * 60, 9 * 60 + 30)))
    lunch_start = _at(rng.choice((12 * 60, 12 * 60 + 30, 13 * 60)))
    end = _at(rng.choice((17 * 60 + 30, 18 * 60, 18 * 60 + 30, 19 * 60, 19 * 60 + 30, 20 * 60)))
    return WorkHours(frozenset(weekdays), start, lunch_start, rng.choice((60, 75, 90, 105)), end)


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _at(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)
