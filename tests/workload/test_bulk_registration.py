"""The workload's setup in bulk against the real consultation service: the same directory as one
registration at a time for the same seed (only the ids the service gives may differ), every id
naming the person the service stored under it, and the bulk path taken when the target can,
a user's adapter with batch methods included (its answers checked like every other)."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
from pathlib import Path

import pytest

from ackguard.harness.workload import (
    AdapterError,
    Directory,
    HttpTarget,
    PatientProfile,
    PractitionerProfile,
    SupportsBulkRegistration,
    SupportsDayListing,
    SupportsRegistration,
    Target,
    TargetAnswer,
    TargetContext,
    Workload,
    WorkloadConfig,
    load_adapter,
    one_at_a_time,
)
from ackguard.harness.workload.registration import BULK_CHUNK
from tests.fakes.consultations.conftest import StartService, start_service  # noqa: F401

pytestmark = pytest.mark.process

SEED = 11
CONFIG = WorkloadConfig(seed=SEED, practitioners=BULK_CHUNK + 100, patients_per_practitioner=2)


class CountingTarget(HttpTarget):
    """The built-in target counting its single registrations."""

    def __init__(self, context: TargetContext) -> None:
        super().__init__(context)
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        self._count()
        return super().register_practitioner(practitioner)

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        self._count()
        return super().register_patient(patient)


# A team's adapter whose service has batch endpoints (here the reference API's): its own requests
# for registration, the built-in target for the rest. ``mistake`` breaks its answer for the chunk
# of the first practitioners.
BATCH_ADAPTER = """
from ackguard.harness.workload import HttpTarget, TargetAnswer, classify_reply, transport_for


class BatchClinic:
    built = []

    def __init__(self, context, *, mistake=None):
        self.http = transport_for(context)
        self.consultations = HttpTarget(context)
        self.mistake = mistake
        self.batches = []
        BatchClinic.built.append(self)

    def register_practitioners(self, practitioners):
        items = [{"name": p.name, "specialty": p.specialty.name, "rpps": p.rpps}
                 for p in practitioners]
        answer = self._batch("/v1/practitioners/batch", items)
        if answer.outcome != "ok" or practitioners[0].index != 0 or self.mistake is None:
            return answer
        ids = list(answer.entity_ids)
        if self.mistake == "short":
            ids = ids[:-1]
        elif self.mistake == "repeat":
            ids[1] = ids[0]
        elif self.mistake == "blank":
            ids[2] = ""
        return TargetAnswer("ok", answer.status, entity_ids=tuple(ids))

    def register_patients(self, patients):
        items = [{"name": p.name, "birth_date": p.birth_date.isoformat(),
                  "national_id": p.national_id} for p in patients]
        return self._batch("/v1/patients/batch", items)

    def _batch(self, path, items):
        self.batches.append((path, len(items)))
        reply = self.http.send("POST", path, name=path, body={"items": items})
        outcome = classify_reply(reply)
        if outcome != "ok":
            return TargetAnswer(outcome, reply.status, reply.describe())
        ids = tuple(str(item["id"]) for item in reply.json()["items"])
        return TargetAnswer("ok", reply.status, entity_ids=ids)

    def create(self, practitioner, patient, key, started_at, fields):
        return self.consultations.create(practitioner, patient, key, started_at, fields)

    def update(self, record_ref, fields):
        return self.consultations.update(record_ref, fields)

    def read(self, record_ref):
        return self.consultations.read(record_ref)

    def export(self):
        return self.consultations.export()
"""


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
    single_target = one_at_a_time(HttpTarget(TargetContext("http://127.0.0.1:1", 1.0)))
    assert isinstance(single_target, SupportsRegistration | SupportsDayListing)
    assert not isinstance(single_target, SupportsBulkRegistration)

    bulk_db, single_db = tmp_path / "bulk.db", tmp_path / "single.db"
    bulk_service = start_service(f"sqlite:///{bulk_db}")
    bulk = Workload(CONFIG, None).setup(bulk_service.url, timeout_s=30)

    singles: list[CountingTarget] = []

    def counted_one_at_a_time(context: TargetContext) -> Target:
        singles.append(CountingTarget(context))
        return one_at_a_time(singles[-1])

    single_service = start_service(f"sqlite:///{single_db}")
    single = Workload(CONFIG, None, counted_one_at_a_time).setup(single_service.url, timeout_s=30)

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


def test_an_adapter_with_batch_methods_registers_in_bulk(
    start_service: StartService,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "clinic.py").write_text(textwrap.dedent(BATCH_ADAPTER), encoding="utf-8")
    factory = load_adapter("clinic.py:BatchClinic", base_dir=tmp_path)
    assert factory.abilities == ("bulk registration",)
    checked = factory(TargetContext("http://127.0.0.1:1", 1.0))
    assert isinstance(checked, SupportsBulkRegistration)
    assert not isinstance(checked, SupportsRegistration | SupportsDayListing)

    db = tmp_path / "clinic.db"
    service = start_service(f"sqlite:///{db}")
    workload = Workload(CONFIG, None, factory)
    directory = workload.setup(service.url, timeout_s=30)

    clinic = checked.inner.built[-1]  # type: ignore[attr-defined]
    patients = CONFIG.practitioners * CONFIG.patients_per_practitioner
    chunks = -(-CONFIG.practitioners // BULK_CHUNK) + -(-patients // BULK_CHUNK)
    assert len(clinic.batches) == chunks, "one call per chunk, none per person"
    assert [p.rpps for p in directory.practitioners] == [p.rpps for p in workload.practice]
    assert len(directory.patients) == patients
    assert_ids_name_what_was_stored(directory, db)
    assert workload.target_error is None


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        ("short", "answered ok with 499 entity_ids for 500 practitioners"),
        ("repeat", "answered ok with entity_ids[1] = '{}' for item 1 ({}), the id of item 0 too; "),
        ("blank", "answered ok with entity_ids[2] = '' for item 2 ({}); expected TargetAnswer("),
    ],
)
def test_a_bulk_answer_without_an_id_of_its_own_per_item_names_the_adapter_and_the_item(
    start_service: StartService,  # noqa: F811
    tmp_path: Path,
    mistake: str,
    expected: str,
) -> None:
    (tmp_path / "clinic.py").write_text(textwrap.dedent(BATCH_ADAPTER), encoding="utf-8")
    factory = load_adapter("clinic.py:BatchClinic", base_dir=tmp_path, options={"mistake": mistake})
    service = start_service(f"sqlite:///{tmp_path / 'clinic.db'}")
    workload = Workload(CONFIG, None, factory)
    with pytest.raises(AdapterError) as caught:
        workload.setup(service.url, timeout_s=30)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'clinic.py'}:BatchClinic.register_practitioners ")
    # the two chunks are in flight together: the first one's ids start at 1 or after the other's
    first_ids = ("1", str(1 + CONFIG.practitioners - BULK_CHUNK))
    item = workload.practice[1 if mistake == "repeat" else 2]
    who = f"practitioner {item.name}, RPPS {item.rpps}"
    named = [
        expected.format(first, who) if mistake == "repeat" else expected.format(who)
        for first in first_ids
    ]
    assert any(text in message for text in named), message
    assert workload.target_error is caught.value  # the run ends with it, as with any method
