"""Paced builds: a practice, a directory and a worker's agents built with a pause that may let
other work run are the same as built straight through, and the pause is called per unit."""

from __future__ import annotations

import pytest

from ackguard.harness.workload import (
    DEFAULT_SIM_START,
    Directory,
    PatientEntry,
    PractitionerEntry,
    Workload,
    WorkloadConfig,
)
from ackguard.harness.workload.model import build_practice
from ackguard.harness.workload.pacer import Pacer

PRACTITIONERS, PATIENTS = 40, 3


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_a_paced_practice_is_the_same_and_pauses_once_per_practitioner() -> None:
    calls = Calls()
    today = DEFAULT_SIM_START.date()
    paced = build_practice(5, PRACTITIONERS, PATIENTS, today, pause=calls)
    assert paced == build_practice(5, PRACTITIONERS, PATIENTS, today)
    assert calls.count == PRACTITIONERS


def test_a_paced_directory_and_share_are_the_same_and_pause_per_unit() -> None:
    config = WorkloadConfig(seed=5, practitioners=PRACTITIONERS, patients_per_practitioner=PATIENTS)
    plain = Workload(config, None, users=4)
    data = Directory(  # as a master registered them (ids made up)
        [PractitionerEntry(f"pr-{p.index}", p.rpps, p.name, "x") for p in plain.practice],
        [
            PatientEntry(f"pa-{p.index}-{n}", q.name, q.birth_date.isoformat(), q.national_id)
            for p in plain.practice
            for n, q in enumerate(p.patients)
        ],
    ).to_json()

    calls = Calls()
    paced = Workload(config, None, users=4, pause=calls)
    assert paced.practice == plain.practice and calls.count == PRACTITIONERS
    directory = Directory.from_json(data, pause=calls)
    assert directory == Directory.from_json(data)
    assert calls.count == PRACTITIONERS + PRACTITIONERS * (1 + PATIENTS)
    paced.attach("http://127.0.0.1:9", directory, (1, 2))  # a worker's share: odd indexes
    assert calls.count == PRACTITIONERS + PRACTITIONERS * (1 + PATIENTS) + PRACTITIONERS // 2
    plain.attach("http://127.0.0.1:9", directory, (1, 2))
    assert [[a.process for a in g.agents] for g in paced._setup.groups] == [  # type: ignore[union-attr]
        [a.process for a in g.agents]
        for g in plain._setup.groups  # type: ignore[union-attr]
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_pacer_yields_once_a_slice_has_passed_then_waits_a_whole_slice_again() -> None:
    clock, yielded = FakeClock(), Calls()
    pacer = Pacer(yielded, 0.05, clock=clock)
    for _ in range(1000):  # no time passes: no yield however many units
        pacer()
    assert yielded.count == pacer.yields == 0
    clock.now += 0.05
    pacer()
    assert yielded.count == pacer.yields == 1
    clock.now += 0.049
    pacer()
    assert pacer.yields == 1
    clock.now += 0.001
    pacer()
    pacer()
    assert pacer.yields == 2


@pytest.mark.parametrize("slice_s", [0.0, -1.0, float("nan")])
def test_a_slice_is_a_positive_number_of_seconds(slice_s: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(lambda: None, slice_s)
