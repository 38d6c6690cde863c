"""The practice model: deterministic per seed, French identifiers, agendas within working hours,
French clinical notes with a realistic spread of lengths."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ackguard.harness.workload import DEFAULT_SIM_START, SimClock, in_cohort, valid_nir, valid_rpps
from ackguard.harness.workload.catalogue import SPECIALTIES
from ackguard.harness.workload.identity import luhn_check_digit, nir_key
from ackguard.harness.workload.model import PractitionerProfile, build_practice
from ackguard.harness.workload.schedule import (
    ConsultationPlan,
    consultation_slots,
    plan_consultation,
    plan_create,
)

START = DEFAULT_SIM_START


def practice(seed: int, count: int = 12) -> list[PractitionerProfile]:
    return build_practice(seed, count, 20, START.date())


def plans(seed: int, profile: PractitionerProfile, count: int) -> list[ConsultationPlan]:
    slots = itertools.islice(consultation_slots(profile, seed, START), count)
    return [plan_consultation(seed, profile, slot, amend_probability=0.2) for slot in slots]


def test_the_same_seed_gives_the_same_practice_and_notes() -> None:
    first, again = practice(42), practice(42)
    assert first == again
    assert plans(42, first[3], 30) == plans(42, again[3], 30)


def test_another_seed_gives_other_practitioners_patients_and_notes() -> None:
    one, other = practice(1), practice(2)
    assert [p.rpps for p in one] != [p.rpps for p in other]
    assert [p.patients for p in one] != [p.patients for p in other]
    assert [x.key for x in plans(1, one[0], 10)] != [x.key for x in plans(2, other[0], 10)]


def test_a_create_only_plan_is_the_full_plans_create() -> None:
    for profile in practice(5, 4):
        for slot in itertools.islice(consultation_slots(profile, 5, START), 40):
            plan = plan_consultation(5, profile, slot, amend_probability=0.2)
            assert plan_create(5, profile, slot) == (plan.key, plan.created_fields)


def test_adding_practitioners_does_not_change_the_first_ones() -> None:
    assert practice(9, 5) == practice(9, 12)[:5]


def test_nir_key_matches_the_published_example_and_every_patient_has_a_valid_nir() -> None:
    assert nir_key("2690549588157") == "80"
    for profile in practice(3):
        for patient in profile.patients:
            nir = patient.national_id
            assert re.fullmatch(r"\d{15}", nir) and valid_nir(nir)
            assert nir[0] == ("2" if patient.female else "1")
            assert nir[1:5] == patient.birth_date.strftime("%y%m")
            assert int(nir[13:]) == 97 - int(nir[:13]) % 97
    assert not valid_nir("269054958815781")


def test_rpps_numbers_are_unique_eleven_digits_with_a_luhn_key() -> None:
    numbers = [p.rpps for p in practice(5, 300)]
    assert len(set(numbers)) == len(numbers)
    assert all(valid_rpps(n) and n.startswith("10") for n in numbers)
    assert luhn_check_digit("7992739871") == "3"  # the textbook Luhn example


def test_patients_ages_and_sexes_fit_the_specialty() -> None:
    today = START.date()
    for profile in practice(8, 60):
        low, high = profile.specialty.ages
        for patient in profile.patients:
            age = (today - patient.birth_date).days / 365.25
            assert low - 1 <= age <= high + 1, (profile.specialty.name, age)
            if profile.specialty.name == "gynécologie":
                assert patient.female


def test_specialties_are_spread_with_general_practice_the_most_common() -> None:
    counts: dict[str, int] = {}
    for profile in practice(13, 400):
        counts[profile.specialty.name] = counts.get(profile.specialty.name, 0) + 1
    assert len(counts) == len(SPECIALTIES)
    assert max(counts, key=lambda name: counts[name]) == "médecine générale"


def test_consultations_keep_to_working_hours_without_overlap() -> None:
    for profile in practice(21, 20):
        hours = profile.hours
        slots = list(itertools.islice(consultation_slots(profile, 21, START), 300))
        assert slots[0].start >= START
        for slot in slots:
            sessions = hours.sessions(slot.start.date())
            assert sessions, f"{profile.name} works on a day off: {slot.start:%A}"
            assert slot.start.weekday() != 6
            opens_closes = [
                (
                    datetime.combine(slot.start.date(), a, START.tzinfo),
                    datetime.combine(slot.start.date(), b, START.tzinfo),
                )
                for a, b in sessions
            ]
            assert any(a <= slot.start and slot.end <= b for a, b in opens_closes), slot
            if slot.start.weekday() == 5:
                assert slot.end.time() <= time(12, 30)
            low, high = profile.specialty.minutes
            assert low <= slot.minutes <= high
        for earlier, later in itertools.pairwise(slots):
            assert earlier.end <= later.start
        assert slots[-1].start - slots[0].start > timedelta(days=7), "the agenda spans weeks"


def test_a_consultation_is_written_as_a_real_one() -> None:
    profile = practice(4)[0]
    for plan in plans(4, profile, 200):
        assert set(plan.created_fields) == {"visit_reason"}
        assert plan.notes.visit_reason in profile.specialty.reasons
        exam_steps = [s for s in plan.steps if "exam_report" in s.fields]
        assert 1 <= len(exam_steps) <= 2
        assert exam_steps[-1].fields["exam_report"] == plan.notes.exam_reports[-1]
        assert all(plan.slot.start < s.at <= plan.slot.end for s in plan.steps)
        closing = plan.steps[-1]
        assert closing.at == plan.slot.end and closing.fields["conclusion"] == plan.notes.conclusion
        assert closing.fields.get("prescription") == plan.notes.prescription
        if plan.amendment is not None:
            assert plan.amendment.at > plan.slot.end


def test_notes_are_clinical_french_with_long_reports() -> None:
    lengths = []
    for profile in practice(6, 30):
        for plan in plans(6, profile, 40):
            report = plan.notes.exam_reports[-1]
            lengths.append(len(report))
            assert re.search(
                r"TA \d+/\d+, FC \d+/min, T° \d+,\d °C, SpO2 \d+ %, poids \d+ kg", report
            )
            assert re.search(r"[éèàçêô]", report)
            words = set(re.findall(r"[a-zàâçéèêëîïôûùüÿœ]+", report.lower()))
            assert words & {"de", "le", "la", "des", "pas", "à"}
            if plan.notes.prescription:
                assert all(line.startswith("- ") for line in plan.notes.prescription.splitlines())
    assert sum(n > 2000 for n in lengths) / len(lengths) > 0.05
    assert max(lengths) > 5000 and min(lengths) < 600
    assert sum(n < 1000 for n in lengths) / len(lengths) > 0.4


@pytest.mark.parametrize("scale", [60.0, 3600.0])
def test_the_clock_waits_the_real_equivalent_of_a_gap_capped(scale: float) -> None:
    clock = SimClock(START, scale, max_idle_s=2.0)
    assert clock.real_delay(START + timedelta(minutes=1)) == pytest.approx(min(60 / scale, 2.0))
    assert clock.real_delay(START + timedelta(hours=14)) == 2.0  # a night passes in the cap
    clock.advance_to(START + timedelta(hours=1))
    assert clock.real_delay(START) == 0.0
    clock.advance_to(START)
    assert clock.now == START + timedelta(hours=1), "the clock never goes back"


def test_the_clock_refuses_naive_starts_and_non_positive_scales() -> None:
    with pytest.raises(ValueError, match="timezone"):
        SimClock(datetime(2026, 1, 5, 7, 30), 3600)
    with pytest.raises(ValueError, match="time_scale"):
        SimClock(START, 0)


def test_default_start_is_a_monday_morning_in_paris() -> None:
    assert START.weekday() == 0 and START.time() == time(7, 30)
    assert START.tzinfo == ZoneInfo("Europe/Paris")


def test_cohort_membership_follows_the_shared_hash() -> None:
    numbers = [p.rpps for p in practice(17, 2000)]
    assert not any(in_cohort(n, 0.0) for n in numbers)
    assert all(in_cohort(n, 1.0) for n in numbers)
    share = sum(in_cohort(n, 0.25) for n in numbers) / len(numbers)
    assert 0.2 < share < 0.3
    assert [in_cohort(n, 0.5, "a") for n in numbers] != [in_cohort(n, 0.5, "b") for n in numbers]
