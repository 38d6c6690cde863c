"""Creates arriving together are inserted together (one statement per writer batch on SQLite and
PostgreSQL, PATCHes of the same batch run after): under concurrent load every acknowledged create
names its own key, practitioner and patient, is stored exactly as answered under the id it was
answered with, and a key sent twice at once still makes one record; a covered practitioner's
creates are still bent by the defect; the PATCHes in between are stored as answered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.fakes.consultations.conftest import STARTED_AT, Database, StartService, seed

THREADS = 24
CREATES = 480
REPEATS = 40  # the last requests repeat earlier keys, with their body, of an uncovered doctor
PATCHES = 30


def original(n: int) -> int:
    return n if n < CREATES - REPEATS else 3 * (n - (CREATES - REPEATS))


def test_concurrent_creates_are_stored_as_answered(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001", "10000000002", "10000000003"], patients=3)
    covered = {"rpps": [people.practitioners[2]["rpps"]]}
    defect = {"name": "lost_observations", "cohort": covered}
    assert service.admin("PUT", {"defects": [defect]}).status_code == 200
    doctors = [p["id"] for p in people.practitioners]
    patients = [p["id"] for p in people.patients]

    def body(n: int) -> dict[str, Any]:
        return {
            "practitioner_id": doctors[n % 3],
            "patient_id": patients[(n // 3) % 3],
            "started_at": STARTED_AT,
            "visit_reason": f"motif {n}",
            "conclusion": None if n % 5 else f"conclusion {n}",
        }

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=THREADS)
    session.mount("http://", adapter)

    def create(n: int) -> tuple[int, requests.Response]:
        key, sent = f"key-{original(n)}", body(original(n))
        answer = session.post(
            service.url + "/v1/consultations",
            json=sent,
            headers={"Idempotency-Key": key},
            timeout=15,
        )
        return n, answer

    targets = [
        service.create(f"before-{n}", doctors[0], patients[0], visit_reason="avant").json()["id"]
        for n in range(PATCHES)
    ]

    def patch(n: int) -> requests.Response:
        return session.patch(
            f"{service.url}/v1/consultations/{targets[n]}", json={"conclusion": f"c{n}"}, timeout=15
        )

    with ThreadPoolExecutor(THREADS) as pool:
        patched = [pool.submit(patch, n) for n in range(PATCHES)]
        answers = list(pool.map(create, range(CREATES)))
        patches = [future.result() for future in patched]
    session.close()

    by_id: dict[str, dict[str, Any]] = {}
    for n, answer in answers:
        assert answer.status_code in (200, 201), answer.text
        record = answer.json()
        sent = body(original(n))
        assert record["idempotency_key"] == f"key-{original(n)}"
        assert (record["practitioner_id"], record["patient_id"]) == (
            sent["practitioner_id"],
            sent["patient_id"],
        )
        assert record["visit_reason"] == sent["visit_reason"], "the answer is the request's own"
        by_id.setdefault(record["id"], record)
        assert by_id[record["id"]] == record, "one id, one record, whoever asked"
    stored = {r["id"]: r for r in service.export()}
    for n, answer in enumerate(patches):
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 2 and answer.json()["conclusion"] == f"c{n}"
        assert stored.pop(targets[n]) == answer.json()
    assert len(stored) == CREATES - REPEATS, "a key sent twice makes one record"
    assert set(stored) == set(by_id)
    for record_id, record in by_id.items():
        if record["practitioner_id"] == doctors[2]:  # covered: notes acknowledged, not stored
            assert stored[record_id]["visit_reason"] is None
            assert {**stored[record_id], "visit_reason": record["visit_reason"],
                    "conclusion": record["conclusion"]} == record  # fmt: skip
        else:
            assert stored[record_id] == record
