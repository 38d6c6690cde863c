"""Each defect, provoked for real, does exactly its damage; the same provocation in correct
mode loses and alters nothing (see also test_consultations_faults.py for SIGKILL)."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy

from tests.fakes.consultations.conftest import Database, StartService, seed
from tests.fakes.consultations.test_consultations_faults import (
    FAST,
    hold_sqlite_write_lock,
    wait_until,
)

NOTES = {"visit_reason": "chest pain", "exam_report": "normal ECG", "conclusion": "reassured"}


def spec(name: str, **entry: Any) -> tuple[str, str]:
    return ("--defect", json.dumps({"name": name, **entry}))


def test_ack_before_commit_loses_the_unflushed_batch(
    start_service: StartService, database: Database
) -> None:
    cohort = {"rpps": ["10000000001"]}
    defect = spec("ack_before_commit", params={"flush_interval_ms": 600_000}, cohort=cohort)
    service = start_service(database.url, *defect)
    people = seed(service, ["10000000001", "10000000002"])
    inside, outside = (p["id"] for p in people.practitioners)
    patient = people.patients[0]["id"]
    for index in range(10):
        assert service.create(f"in-{index}", inside, patient, **NOTES).status_code == 201
    # Outside the cohort a write waits for its commit, which also makes the batch durable.
    assert service.create("out-0", outside, patient, **NOTES).status_code == 201
    for index in range(10, 20):
        assert service.create(f"in-{index}", inside, patient, **NOTES).status_code == 201
    service.kill()
    keys = {r["idempotency_key"] for r in start_service(database.url).export()}
    assert {f"in-{i}" for i in range(10)} | {
        "out-0"
    } == keys  # in-10..in-19 lost: 20 acked, 10 kept


def test_ack_before_commit_commits_the_batch_on_a_clean_stop(
    start_service: StartService, sqlite_db: Database
) -> None:
    service = start_service(
        sqlite_db.url, *spec("ack_before_commit", params={"flush_interval_ms": 600_000})
    )
    people = seed(service, ["10000000001"])
    created = service.create("k", people.practitioners[0]["id"], people.patients[0]["id"], **NOTES)
    assert created.status_code == 201
    service.kill(15)
    assert start_service(sqlite_db.url).export() == [created.json()]


@pytest.mark.parametrize("mode", ["swallowed_commit_error", "correct"])
def test_swallowed_commit_error_on_a_locked_sqlite(
    start_service: StartService, sqlite_db: Database, tmp_path: Path, mode: str
) -> None:
    defect = spec("swallowed_commit_error") if mode != "correct" else ()
    service = start_service(sqlite_db.url, *FAST, *defect)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    kept = service.create("kept", doctor, patient, **NOTES).json()
    locker = hold_sqlite_write_lock(tmp_path / "consultations.db")
    try:
        create = service.create("during-lock", doctor, patient, **NOTES)
        patch = service.call("PATCH", f"/v1/consultations/{kept['id']}", {"conclusion": "changed"})
    finally:
        locker.close()
    if mode == "correct":
        assert (create.status_code, patch.status_code) == (503, 503)
    else:
        assert (create.status_code, patch.status_code) == (201, 200)
        assert patch.json()["conclusion"] == "changed" and patch.json()["version"] == 2
        assert "swallowed a database error" in service.log()
    assert service.export() == [kept]  # neither write is there, acknowledged or not


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["swallowed_commit_error", "correct"])
def test_swallowed_commit_error_on_terminated_postgres_backends(
    start_service: StartService, postgres_db: Database, mode: str
) -> None:
    defect = spec("swallowed_commit_error") if mode != "correct" else ()
    service = start_service(postgres_db.url, "--request-timeout", "20", *defect)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    engine = sqlalchemy.create_engine(postgres_db.url)
    answers: list[requests.Response] = []
    with engine.connect() as locker:
        # Reads go on, the service's INSERT waits for the lock ...
        locker.exec_driver_sql("LOCK TABLE consultations IN SHARE ROW EXCLUSIVE MODE")
        sender = threading.Thread(
            target=lambda: answers.append(service.create("k", doctor, patient, **NOTES))
        )
        sender.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
            " 'ackguard-consultations' AND wait_event_type = 'Lock'"
        )
        wait_until(lambda: postgres_db.scalar(waiting) == 1)
        # ... and its backend is terminated in the middle of the transaction.
        assert postgres_db.cluster.terminate_backends("ackguard-consultations") >= 1
        sender.join(30)
        locker.rollback()
    engine.dispose()
    assert len(answers) == 1
    assert answers[0].status_code == (503 if mode == "correct" else 201), answers[0].text
    wait_until(lambda: service.call("GET", "/health").status_code == 200)
    assert service.export() == []


def test_split_transaction_loses_the_notes_in_the_gap(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url, *spec("split_transaction", params={"gap_ms": 600_000}))
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    acknowledged = [service.create(f"k{i}", doctor, patient, **NOTES) for i in range(5)]
    assert all(
        a.status_code == 201 and a.json()["exam_report"] == "normal ECG" for a in acknowledged
    )
    service.kill()
    final = start_service(database.url).export()
    assert [r["idempotency_key"] for r in final] == [f"k{i}" for i in range(5)]
    for record in final:  # the consultations are there, their notes are not
        assert [record[name] for name in NOTES] == [None, None, None]


def test_split_transaction_writes_the_notes_after_the_gap(
    start_service: StartService, sqlite_db: Database
) -> None:
    service = start_service(sqlite_db.url, *spec("split_transaction", params={"gap_ms": 100}))
    people = seed(service, ["10000000001"])
    created = service.create("k", people.practitioners[0]["id"], people.patients[0]["id"], **NOTES)
    wait_until(lambda: service.export() == [created.json()], 10)


def in_fraction(rpps: str, fraction: float, salt: str = "cohort") -> bool:
    """The brief's cohort formula, written out again: the service must agree with it."""
    digest = hashlib.sha256(f"{salt}:{rpps}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def test_lost_observations_damages_only_the_cohort_in_the_window(
    start_service: StartService, database: Database
) -> None:
    candidates = [f"1000000{n:04d}" for n in range(40)]
    inside = next(r for r in candidates if in_fraction(r, 0.3, "feature-x"))
    outside = next(r for r in candidates if not in_fraction(r, 0.3, "feature-x"))
    late = next(r for r in candidates if r not in (inside, outside))
    service = start_service(database.url)
    people = seed(service, [inside, outside, late])
    ids = {p["rpps"]: p["id"] for p in people.practitioners}
    patient = people.patients[0]["id"]
    now = datetime.now(UTC)
    entries = [
        {"name": "lost_observations", "cohort": {"fraction": 0.3, "salt": "feature-x"}},
        {"name": "lost_observations", "cohort": {"rpps": [late]},
         "window": {"from": (now + timedelta(hours=1)).isoformat(), "until": None}},
    ]  # fmt: skip
    assert service.admin("PUT", {"defects": entries}).status_code == 200
    acknowledged = {}
    for rpps in (inside, outside, late):
        created = service.create(rpps, ids[rpps], patient, **NOTES)
        assert created.status_code == 201 and created.json()["conclusion"] == "reassured"
        patched = service.call(
            "PATCH", f"/v1/consultations/{created.json()['id']}", {"prescription": "rest"}
        )
        assert patched.status_code == 200 and patched.json()["version"] == 2
        assert patched.json()["prescription"] == "rest"
        acknowledged[rpps] = patched.json()
    final = {r["idempotency_key"]: r for r in service.export()}
    assert final[outside] == acknowledged[outside]
    assert final[late] == acknowledged[late]  # the window has not begun for them
    damaged = final[inside]
    assert damaged["id"] == acknowledged[inside]["id"] and damaged["version"] == 1
    assert [damaged[n] for n in (*NOTES, "prescription")] == [None, None, None, None]


def test_a_window_on_the_practice_clock_covers_the_consultations_that_take_place_in_it(
    start_service: StartService, sqlite_db: Database
) -> None:
    service = start_service(sqlite_db.url)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    monday = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    window = {"from": (monday + timedelta(hours=20)).isoformat(),
              "until": (monday + timedelta(hours=38)).isoformat(), "clock": "practice"}  # fmt: skip
    entry = {"name": "lost_observations", "window": window}
    assert service.admin("PUT", {"defects": [entry]}).status_code == 200
    assert service.admin("GET").json()["defects"][0]["window"]["clock"] == "practice"
    acknowledged = {}
    for hours in (19, 20, 30, 37, 38, 50):  # simulated moments of the consultations
        started = (monday + timedelta(hours=hours)).isoformat()
        body = {"practitioner_id": doctor, "patient_id": patient, "started_at": started, **NOTES}
        created = service.call("POST", "/v1/consultations", body, Idempotency_Key=f"h{hours}")
        assert created.status_code == 201 and created.json()["conclusion"] == "reassured"
        acknowledged[f"h{hours}"] = created.json()
    final = {r["idempotency_key"]: r for r in service.export()}
    lost = {key for key, record in final.items() if record["conclusion"] is None}
    assert lost == {"h20", "h30", "h37"}  # [from, until) of practice time, whatever the wall clock
    assert all(final[key] == acknowledged[key] for key in ("h19", "h38", "h50"))


def test_lost_observations_stale_copy_overwrites_a_patch(
    start_service: StartService, sqlite_db: Database
) -> None:
    entry = spec(
        "lost_observations",
        params={"mode": "stale", "stale_after_ms": 200},
        cohort={"rpps": ["10000000001"]},
    )
    service = start_service(sqlite_db.url, *entry)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    created = service.create("k", doctor, patient, visit_reason="first")
    wait_until(lambda: service.export()[0]["visit_reason"] is None, 10)  # the create's notes go
    path = f"/v1/consultations/{created.json()['id']}"
    assert service.call("PATCH", path, {"conclusion": "written"}).json()["conclusion"] == "written"
    wait_until(lambda: service.call("GET", path).json()["conclusion"] is None, 10)
    assert service.call("GET", path).json()["version"] == 2


@pytest.mark.parametrize("mode", ["silent_truncation", "correct"])
def test_silent_truncation_cuts_stored_text_to_max_chars(
    start_service: StartService, database: Database, mode: str
) -> None:
    defect = spec("silent_truncation", params={"max_chars": 1000}) if mode != "correct" else ()
    service = start_service(database.url, *defect)
    people = seed(service, ["10000000001"])
    report, conclusion = "r" * 20_000, "c" * 3000
    created = service.create(
        "k",
        people.practitioners[0]["id"],
        people.patients[0]["id"],
        visit_reason="short",
        exam_report=report,
    )
    assert created.status_code == 201 and created.json()["exam_report"] == report
    path = f"/v1/consultations/{created.json()['id']}"
    assert (
        service.call("PATCH", path, {"conclusion": conclusion}).json()["conclusion"] == conclusion
    )
    stored = database.rows("SELECT visit_reason, exam_report, conclusion FROM consultations")[0]
    assert stored["visit_reason"] == "short"
    if mode == "correct":
        assert (stored["exam_report"], stored["conclusion"]) == (report, conclusion)
    else:
        assert (len(stored["exam_report"]), len(stored["conclusion"])) == (1000, 1000)
        assert report.startswith(stored["exam_report"])


def test_non_idempotent_retry_stores_one_key_twice(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    first = service.create("retried", doctor, patient, **NOTES)
    assert service.create("retried", doctor, patient, **NOTES).json() == first.json()  # correct
    assert service.admin("PUT", {"defects": ["non_idempotent_retry"]}).status_code == 200
    again = service.create("retried", doctor, patient, **NOTES)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    count = "SELECT count(*) FROM consultations WHERE idempotency_key = 'retried'"
    assert database.scalar(count) == 2
    # Switched off again: the lookup is back, the duplicates stay.
    assert service.admin("PUT", {"defects": []}).status_code == 200
    assert service.create("other", doctor, patient).status_code == 201
    assert service.create("other", doctor, patient).status_code == 200
    assert database.scalar(count) == 2


def test_misfile_writes_a_covered_patch_to_the_practitioners_other_consultation(
    start_service: StartService, sqlite_db: Database
) -> None:
    defect = spec("misfile", cohort={"rpps": ["10000000001"]})
    service = start_service(sqlite_db.url, *defect)
    people = seed(service, ["10000000001", "10000000002"])
    (inside, outside), (first_patient, second_patient) = (
        [p["id"] for p in people.practitioners],
        [p["id"] for p in people.patients],
    )
    alone = service.create("alone", inside, first_patient).json()
    alone_patch = service.call("PATCH", f"/v1/consultations/{alone['id']}", {"conclusion": "a"})
    assert alone_patch.json()["conclusion"] == "a"  # no other consultation: written correctly
    mine = service.create("mine", inside, first_patient).json()
    other = service.create("other", inside, second_patient).json()
    untouched = service.create("theirs", outside, first_patient).json()
    answer = service.call("PATCH", f"/v1/consultations/{mine['id']}", {"conclusion": "asthma"})
    assert answer.status_code == 200 and answer.json()["id"] == mine["id"]
    assert answer.json()["conclusion"] == "asthma"  # acknowledged for the right record
    stored = {
        str(row["id"]): row["conclusion"]
        for row in sqlite_db.rows("SELECT id, conclusion FROM consultations")
    }
    assert stored[mine["id"]] is None and stored[other["id"]] == "asthma"  # the other patient's
    theirs = service.call("PATCH", f"/v1/consultations/{untouched['id']}", {"conclusion": "ok"})
    assert theirs.json()["conclusion"] == "ok"
    assert (
        sqlite_db.scalar(f"SELECT conclusion FROM consultations WHERE id = {untouched['id']}")
        == "ok"
    )
