"""The workload's setup in bulk against the real consultation service: the same directory as one
registration at a time for the same seed (only the ids the service gives may differ), every id
naming the person the service stored under it, and the bulk path taken when the target can."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pytest

from ackguard.harness.workload import (
    ConsultationRecord,
    Directory,
    HttpTarget,
    PatientEntry,
    PatientProfile,
    PractitionerEntry,
    PractitionerProfile,
    SupportsBulkRegistration,
    SupportsRegistration,
    Target,
    TargetAnswer,
    TargetContext,
    Workload,
    WorkloadConfig,
)
from ackguard.harness.workload.registration import BULK_CHUNK
from tests.fakes.consultations.conftest import StartService, start_service  # noqa: F401

pytestmark = pytest.mark.process

SEED = 11
CONFIG = WorkloadConfig(seed=SEED, practitioners=BULK_CHUNK + 100, patients_per_practitioner=2)


class OneAtATime:
    """The built-in target without its bulk ability: what an adapter with only
    ``register_practitioner``/``register_patient`` looks like to the workload."""

    def __init__(self, context: TargetContext) -> None:
        self.inner = HttpTarget(context)
        self.calls = 0

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        self.calls += 1
        return self.inner.register_practitioner(practitioner)

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        self.calls += 1
        return self.inner.register_patient(patient)

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: Mapping[str, str | None],
    ) -> TargetAnswer:
        return self.inner.create(practitioner, patient, key, started_at, fields)

    def update(self, record_ref: str, fields: Mapping[str, str | None]) -> TargetAnswer:
        return self.inner.update(record_ref, fields)

    def read(self, record_ref: str) -> TargetAnswer:
        return self.inner.read(record_ref)

    def export(self) -> Iterator[ConsultationRecord]:
        return self.inner.export()


def without_ids(directory: Directory) -> dict[str, list[list[str]]]:
    shape = directory.to_json()
    return {kind: [[v for k, v in e.items() if k != "id"] for e in shape[kind]] for kind in shape}


def stored(db: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    with sqlite3.connect(db) as connection:
        doctors = connection.execute("SELECT id, rpps, name, specialty FROM practitioners")
        people = connection.execute("SELECT id, name, birth_date, national_id FROM patients")
        return (
            {str(row[0]): tuple(row[1:]) for row in doctors},
            {str(row[0]): tuple(row[1:]) for row in people},
        )


def assert_ids_name_what_was_stored(directory: Directory, db: Path) -> None:
    doctors, people = stored(db)
    assert len(doctors) == len(directory.practitioners), "each practitioner registered once"
    assert len(people) == len(directory.patients)
    assert {p.id: tuple(p[1:]) for p in directory.practitioners} == doctors
    assert {p.id: tuple(p[1:]) for p in directory.patients} == people


def test_bulk_setup_gives_the_directory_of_one_at_a_time(
    start_service: StartService,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert isinstance(
        HttpTarget(TargetContext("http://127.0.0.1:1", 1.0)), SupportsBulkRegistration
    )
    single_target = OneAtATime(TargetContext("http://127.0.0.1:1", 1.0))
    assert isinstance(single_target, SupportsRegistration)
    assert not isinstance(single_target, SupportsBulkRegistration)

    bulk_db, single_db = tmp_path / "bulk.db", tmp_path / "single.db"
    bulk_service = start_service(f"sqlite:///{bulk_db}")
    bulk = Workload(CONFIG, None).setup(bulk_service.url, timeout_s=30)

    singles: list[OneAtATime] = []

    def one_at_a_time(context: TargetContext) -> Target:
        singles.append(OneAtATime(context))
        return singles[-1]

    single_service = start_service(f"sqlite:///{single_db}")
    single = Workload(CONFIG, None, one_at_a_time).setup(single_service.url, timeout_s=30)

    people = CONFIG.practitioners * (1 + CONFIG.patients_per_practitioner)
    assert singles[0].calls == people, "the target without the bulk ability: one call each"
    assert without_ids(bulk) == without_ids(single)
    assert len(bulk.practitioners) == CONFIG.practitioners
    assert len(bulk.patients) == CONFIG.practitioners * CONFIG.patients_per_practitioner
    assert_ids_name_what_was_stored(bulk, bulk_db)
    assert_ids_name_what_was_stored(single, single_db)
    # On a fresh database the service hands out the same ids either way, in another order.
    assert {p.id for p in bulk.practitioners} == {p.id for p in single.practitioners}
    assert {p.id for p in bulk.patients} == {p.id for p in single.patients}
    # chunks in flight together commit in any order: ids follow the practice within a chunk
    assert {p.id for p in bulk.practitioners} == {
        str(n) for n in range(1, CONFIG.practitioners + 1)
    }
