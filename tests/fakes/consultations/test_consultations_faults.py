"""Correct mode under real faults: a SIGKILLed service loses no acknowledged write, a dead
database answers 503 within the request timeout and the service recovers by itself."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.consultations.conftest import Database, Service, StartService, seed

FAST = ("--request-timeout", "2", "--busy-timeout-ms", "300")


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def healthy(service: Service) -> bool:
    try:
        return service.call("GET", "/health").status_code == 200
    except OSError:
        return False


def concurrent_writes(service: Service, people: Any, count: int) -> dict[str, dict[str, Any]]:
    """``count`` creates from 8 threads, then a PATCH of every other one; the last
    acknowledged state of each record, by key."""
    doctors = [p["id"] for p in people.practitioners]
    patient = people.patients[0]["id"]

    def create(index: int) -> Any:
        report = f"report {index} " + "x" * (index * 397 % 20_000)
        return service.create(
            f"key-{index}",
            doctors[index % len(doctors)],
            patient,
            visit_reason=f"v{index}",
            exam_report=report[:20_000],
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(count)))
    acknowledged = {
        a.json()["idempotency_key"]: a.json() for a in answers if a.status_code in (200, 201)
    }
    assert len(acknowledged) == count

    def patch(record: dict[str, Any]) -> Any:
        return service.call(
            "PATCH", f"/v1/consultations/{record['id']}", {"conclusion": f"c{record['id']}"}
        )

    with ThreadPoolExecutor(8) as pool:
        for answer in pool.map(patch, list(acknowledged.values())[::2]):
            assert answer.status_code == 200, answer.text
            acknowledged[answer.json()["idempotency_key"]] = answer.json()
    return acknowledged


def test_sigkill_loses_no_acknowledged_write(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001", "10000000002", "10000000003"])
    acknowledged = concurrent_writes(service, people, 60)
    service.kill()
    survivor = start_service(database.url)
    final = {r["idempotency_key"]: r for r in survivor.export()}
    assert final == acknowledged


def test_concurrent_retries_of_one_key_make_one_record(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: service.create("same", doctor, patient, visit_reason="v"), range(16))
        )
    assert sorted({a.status_code for a in answers}) in ([200, 201], [201])
    assert [a.status_code for a in answers].count(201) == 1
    assert len({a.json()["id"] for a in answers}) == 1
    assert database.scalar("SELECT count(*) FROM consultations WHERE idempotency_key = 'same'") == 1


def hold_sqlite_write_lock(path: Path) -> sqlite3.Connection:
    """Another connection takes SQLite's single write lock and keeps it until closed."""
    locker = sqlite3.connect(path, isolation_level=None, timeout=10)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("UPDATE practitioners SET name = name WHERE id = 0")
    return locker


def test_sqlite_locked_answers_503_then_recovers(
    start_service: StartService, sqlite_db: Database, tmp_path: Path
) -> None:
    service = start_service(sqlite_db.url, *FAST)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    locker = hold_sqlite_write_lock(tmp_path / "consultations.db")
    try:
        refused = service.create("while-down", doctor, patient, visit_reason="v")
        assert refused.status_code == 503 and "database is locked" in refused.json()["error"]
        assert service.call("GET", "/health").status_code == 503
        assert service.call("GET", "/v1/consultations").json()["items"] == []  # reads go on
    finally:
        locker.close()
    wait_until(lambda: healthy(service))
    assert service.create("after", doctor, patient, visit_reason="v").status_code == 201
    assert service.process.poll() is None
    assert [r["idempotency_key"] for r in service.export()] == ["after"]


@pytest.mark.postgres
def test_postgres_stopped_answers_503_then_recovers(
    start_service: StartService, postgres_db: Database
) -> None:
    database = postgres_db
    service = start_service(database.url, *FAST)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    database.cluster.stop("fast")
    try:
        refused = service.create("while-down", doctor, patient, visit_reason="v")
        assert refused.status_code == 503 and "database unavailable" in refused.json()["error"]
        assert service.call("GET", "/health").status_code == 503
        assert service.call("GET", "/v1/consultations/1").status_code == 503
    finally:
        database.cluster.start()
    wait_until(lambda: healthy(service))
    created = service.create("after", doctor, patient, visit_reason="v")
    assert created.status_code == 201, created.text
    database.cluster.pause()
    try:
        stuck = service.create("while-paused", doctor, patient, visit_reason="v")
        assert stuck.status_code == 503
        assert service.call("GET", "/health").status_code == 503
    finally:
        database.cluster.resume()
    wait_until(lambda: healthy(service))
    keys = {r["idempotency_key"] for r in service.export()}
    assert "after" in keys and "while-down" not in keys
    assert service.process.poll() is None


@pytest.mark.postgres
def test_reads_after_a_postgres_restart_answer_at_once(
    start_service: StartService, postgres_db: Database
) -> None:
    """Reads take pooled connections without a ping: the first read after a restart finds its
    connection dead, and runs once more on a new one instead of answering 503."""
    service = start_service(postgres_db.url, *FAST)
    people = seed(service, ["10000000001"])
    created = service.create(
        "before", people.practitioners[0]["id"], people.patients[0]["id"], visit_reason="v"
    )
    path = f"/v1/consultations/{created.json()['id']}"
    with ThreadPoolExecutor(4) as pool:  # several pooled read connections, all opened now
        assert {a.status_code for a in pool.map(lambda _: service.call("GET", path), range(8))} == {
            200
        }
    postgres_db.cluster.stop("fast")
    postgres_db.cluster.start()
    for _ in range(10):  # each pooled connection predates the restart
        read = service.call("GET", path)
        assert read.status_code == 200 and read.json() == created.json(), read.text
    listed = service.call("GET", "/v1/consultations")
    assert listed.status_code == 200 and listed.json()["items"] == [created.json()]
