"""Creates arriving together are inserted together (one statement per writer batch on SQLite and
PostgreSQL, PATCHes of the same batch run after): under concurrent load every acknowledged create
names its own key, practitioner and patient, is stored exactly as answered under the id it was
answered with, and a key sent twice at once still makes one record; a covered practitioner's
creates are still bent by the defect; the PATCHes in between are stored as answered."""

from __future__ import annotations

import itertools
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


def test_concurrent_patches_are_stored_as_answered(
    start_service: StartService, database: Database
) -> None:
    """With no defect active, a batch's PATCHes run as one statement each (SQLite) or together
    (PostgreSQL: one per record in one statement, a record's later PATCHes alone after): every
    PATCH of a record is answered with its own version, the record stored is the answer with
    the highest, each field as its last writer left it, and an unknown id is a 404."""
    service = start_service(database.url)
    people = seed(service, ["10000000001"], patients=1)
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    targets = [
        service.create(f"p-{n}", doctor, patient, visit_reason="avant", exam_report="vu").json()
        for n in range(20)
    ]
    fields = ("visit_reason", "exam_report", "conclusion", "prescription")
    plan = [(n % 20, fields[n % 4], f"texte {n}") for n in range(60)]  # three per record

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=THREADS))

    def sent(step: tuple[int, str, str]) -> dict[str, str | None]:
        _, field, text = step
        return {field: text, **({"prescription": None} if field == "visit_reason" else {})}

    def patch(step: tuple[int, str, str]) -> requests.Response:
        url = f"{service.url}/v1/consultations/{targets[step[0]]['id']}"
        return session.patch(url, json=sent(step), timeout=15)

    def unknown(n: int) -> requests.Response:
        return session.patch(
            f"{service.url}/v1/consultations/{900000 + n}", json={"conclusion": "x"}, timeout=15
        )

    with ThreadPoolExecutor(THREADS) as pool:
        missing = [pool.submit(unknown, n) for n in range(6)]
        answers = list(pool.map(patch, plan))
    session.close()
    assert all(m.result().status_code == 404 for m in missing)
    stored = {r["id"]: r for r in service.export()}
    for target, record in enumerate(targets):
        mine = sorted(
            (
                (a.json(), sent(step))
                for step, a in zip(plan, answers, strict=True)
                if step[0] == target and a.status_code == 200
            ),
            key=lambda answered: int(answered[0]["version"]),
        )
        assert [a["version"] for a, _ in mine] == [2, 3, 4], mine
        assert stored[record["id"]] == mine[-1][0]
        history = [(record, {}), *mine]
        for (earlier, _), (later, changes) in itertools.pairwise(history):
            # each PATCH applied to the version before it: only its own fields changed
            assert {k: later[k] for k in changes} == changes
            unchanged = set(record) - set(changes) - {"version", "updated_at"}
            assert {k: later[k] for k in unchanged} == {k: earlier[k] for k in unchanged}
