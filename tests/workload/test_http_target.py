"""The built-in target against a real server of the reference API, and the workload's setup."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ackguard.harness.workload import (
    HttpTarget,
    PatientProfile,
    PractitionerProfile,
    SetupError,
    Target,
    TargetAnswer,
    TargetContext,
    Workload,
    WorkloadConfig,
    one_at_a_time,
    valid_nir,
)
from ackguard.harness.workload.directory import Directory, PatientEntry, PractitionerEntry
from tests.workload.reference_server import ReferenceServer

STARTED = datetime(2026, 1, 5, 8, 10, tzinfo=ZoneInfo("Europe/Paris"))


def registered(target: HttpTarget) -> tuple[PractitionerEntry, PatientEntry]:
    workload = Workload(WorkloadConfig(seed=1, practitioners=1, patients_per_practitioner=1), None)
    profile = workload.practice[0]
    doctor = target.register_practitioner(profile)
    patient = target.register_patient(profile.patients[0])
    assert doctor.outcome == patient.outcome == "ok"
    assert doctor.entity_id and patient.entity_id
    return (
        PractitionerEntry(doctor.entity_id, profile.rpps, profile.name, profile.specialty.name),
        PatientEntry(patient.entity_id, "x", "2000-01-01", profile.patients[0].national_id),
    )


def test_a_consultation_through_its_life(reference: ReferenceServer) -> None:
    target = HttpTarget(TargetContext(reference.url, 2.0))
    doctor, patient = registered(target)
    created = target.create(doctor, patient, "k-1", STARTED, {"visit_reason": "Toux"})
    assert created.outcome == "ok" and created.status == 201 and created.record is not None
    record_id = created.record["id"]
    again = target.create(doctor, patient, "k-1", STARTED, {"visit_reason": "Toux"})
    assert again.outcome == "ok" and again.record is not None and again.record["id"] == record_id
    other = target.create(doctor, patient, "k-1", STARTED, {"visit_reason": "Fièvre"})
    assert other.outcome == "fail" and other.status == 409
    updated = target.update(record_id, {"exam_report": "TA 12/8", "prescription": None})
    assert updated.outcome == "ok" and updated.record is not None
    assert updated.record["version"] == 2 and updated.record["exam_report"] == "TA 12/8"
    read = target.read(record_id)
    assert read.outcome == "ok" and read.found and read.record == updated.record
    assert target.read("999").found is False
    listed = target.list_day(doctor, STARTED.date())
    assert listed.outcome == "ok" and listed.complete
    assert [r["idempotency_key"] for r in listed.records] == ["k-1"]
    assert target.update("999", {"conclusion": "x"}).outcome == "fail"


def test_export_pages_through_every_record(reference: ReferenceServer, tmp_path: Path) -> None:
    rows = [
        (
            f"key-{n}",
            "{}",
            "1",
            "2",
            STARTED.isoformat(),
            f"motif {n}",
            None,
            None,
            None,
            1,
            "t",
            "t",
        )
        for n in range(2_345)
    ]
    with sqlite3.connect(tmp_path / "consultations.sqlite") as db:
        db.executemany(
            "INSERT INTO consultations (idempotency_key, body, practitioner_id, patient_id, "
            "started_at, visit_reason, exam_report, conclusion, prescription, version, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    workload = Workload(WorkloadConfig(seed=1, practitioners=1), None)
    records = workload.export(reference.url)
    assert [r["idempotency_key"] for r in records] == [f"key-{n}" for n in range(2_345)]
    assert records[7]["visit_reason"] == "motif 7"


def test_setup_registers_everyone_and_describes_the_directory(reference: ReferenceServer) -> None:
    workload = Workload(WorkloadConfig(seed=3, practitioners=4, patients_per_practitioner=6), None)
    directory = workload.setup(reference.url, timeout_s=30)
    assert len(directory.practitioners) == 4 and len(directory.patients) == 24
    assert len({p.id for p in directory.patients}) == 24
    assert [p.rpps for p in directory.practitioners] == [p.rpps for p in workload.practice]
    assert all(valid_nir(p.national_id) for p in directory.patients)
    shape = directory.to_json()
    assert set(shape["practitioners"][0]) == {"id", "rpps", "name", "specialty"}
    assert set(shape["patients"][0]) == {"id", "name", "birth_date", "national_id"}
    assert Directory.from_json(shape) == directory


class RestartingTarget(HttpTarget):
    """Stops the service after a few registrations and restarts it once a registration has
    been refused: setup must ride through the outage (registering one person per call, through
    :func:`one_at_a_time`, so the outage falls between registrations)."""

    def __init__(self, context: TargetContext, server: list[ReferenceServer], db: Path) -> None:
        super().__init__(context)
        self.server, self.db = server, db
        self.lock = threading.Lock()
        self.done = 0
        self.refused = 0
        self.restarted = threading.Event()

    def _observe(self, answer: TargetAnswer) -> TargetAnswer:
        with self.lock:
            if answer.outcome == "ok":
                self.done += 1
                if self.done == 5:
                    self.server[0].stop()
            elif self.done >= 5 and not self.restarted.is_set():
                self.refused += 1
                port = self.server[0].server_address[1]
                self.server[0] = ReferenceServer(self.db, port=port).start()
                self.restarted.set()
        return answer

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        return self._observe(super().register_practitioner(practitioner))

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        return self._observe(super().register_patient(patient))


def test_setup_survives_a_service_restart(tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite"
    server = [ReferenceServer(db).start()]
    wrappers: list[RestartingTarget] = []

    def factory(context: TargetContext) -> Target:
        wrappers.append(RestartingTarget(context, server, db))
        return one_at_a_time(wrappers[-1])

    try:
        workload = Workload(
            WorkloadConfig(seed=5, practitioners=3, patients_per_practitioner=5), None, factory
        )
        directory = workload.setup(server[0].url, timeout_s=60)
    finally:
        server[0].stop()
    assert wrappers[0].restarted.is_set() and wrappers[0].refused >= 1
    assert len(directory.practitioners) == 3 and len(directory.patients) == 15
    with sqlite3.connect(db) as check:
        patients = {str(row[0]) for row in check.execute("SELECT id FROM patients")}
    assert {p.id for p in directory.patients} <= patients


def test_setup_gives_up_in_bounded_time_when_nothing_listens(tmp_path: Path) -> None:
    from tests.workload.scripted_server import closed_port

    workload = Workload(WorkloadConfig(seed=5, practitioners=1, patients_per_practitioner=1), None)
    with pytest.raises(SetupError, match="in time"):
        workload.setup(f"http://127.0.0.1:{closed_port()}", timeout_s=0.5)
