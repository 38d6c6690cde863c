"""The batch registration endpoints, on SQLite and on PostgreSQL: a valid batch is stored whole
with its ids in item order, a bad item refuses the whole batch naming the item and its field,
an oversize batch is refused, and the registered people work in the single endpoints."""

from __future__ import annotations

import pytest

from tests.fakes.consultations.conftest import Database, Service, StartService


def practitioner(n: int) -> dict[str, str]:
    return {"name": f"Dr Numéro {n}", "specialty": "médecine générale", "rpps": f"1{n:010d}"}


def patient(n: int) -> dict[str, str]:
    return {"name": f"Patient {n}", "birth_date": "1980-01-02", "national_id": f"18001{n:010d}"}


def counts(database: Database) -> tuple[int, int]:
    return (
        database.scalar("SELECT count(*) FROM practitioners"),
        database.scalar("SELECT count(*) FROM patients"),
    )


@pytest.fixture
def service(start_service: StartService, database: Database) -> Service:
    return start_service(database.url)


def test_a_batch_is_stored_whole_with_ids_in_item_order(
    service: Service, database: Database
) -> None:
    doctors = [practitioner(n) for n in range(1000)]
    answer = service.call("POST", "/v1/practitioners/batch", {"items": doctors})
    assert answer.status_code == 201, answer.text
    records = answer.json()["items"]
    assert [{k: v for k, v in r.items() if k != "id"} for r in records] == doctors
    rows = database.rows("SELECT id, name, specialty, rpps FROM practitioners")
    assert {str(r["id"]): r["rpps"] for r in rows} == {r["id"]: r["rpps"] for r in records}
    assert len({r["id"] for r in records}) == 1000

    people = [patient(n) for n in range(3)]
    answer = service.call("POST", "/v1/patients/batch", {"items": people})
    assert answer.status_code == 201, answer.text
    patients = answer.json()["items"]
    stored = database.rows("SELECT id, name, birth_date, national_id FROM patients")
    assert sorted(stored, key=lambda r: r["id"]) == [
        {**p, "id": int(r["id"])} for p, r in zip(people, patients, strict=True)
    ]
    # the people registered in bulk are known to the single endpoints at once
    created = service.create("k-1", records[-1]["id"], patients[1]["id"], visit_reason="toux")
    assert created.status_code == 201, created.text


P, Q = "/v1/practitioners/batch", "/v1/patients/batch"
BAD_BATCHES = [
    (P, [practitioner(0), {**practitioner(1), "rpps": ""}], "items.1.rpps"),
    (P, [practitioner(0), {"name": "x", "rpps": "1"}], "items.1.specialty"),
    (P, [practitioner(0), {**practitioner(1), "extra": 1}], "items.1.extra"),
    (Q, [patient(0), patient(1), {**patient(2), "birth_date": "1980-02-30"}], "items.2.birth_date"),
    (Q, [{**patient(0), "name": "a\x00b"}], "items.0.name"),
    (Q, [patient(0), {**patient(1), "national_id": 7}], "items.1.national_id"),
]


def test_one_bad_item_refuses_the_batch_naming_it(service: Service, database: Database) -> None:
    for path, items, field in BAD_BATCHES:
        answer = service.call("POST", path, {"items": items})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["field"] == field
        assert field in answer.json()["error"], answer.text
    assert counts(database) == (0, 0), "nothing of a refused batch is stored"


def test_batches_out_of_bounds_are_refused(service: Service, database: Database) -> None:
    too_many = service.call(
        "POST", "/v1/practitioners/batch", {"items": [practitioner(n) for n in range(1001)]}
    )
    assert too_many.status_code == 422 and too_many.json()["field"] == "items"
    assert "at most 1000" in too_many.json()["error"]
    empty = service.call("POST", "/v1/patients/batch", {"items": []})
    assert empty.status_code == 422 and empty.json()["field"] == "items"
    huge = [{**patient(n), "name": "x" * 200} for n in range(1000)]  # ~270 KB > the 256 KiB cap
    oversize = service.call("POST", "/v1/patients/batch", {"items": huge})
    assert oversize.status_code == 413 and "larger than" in oversize.json()["error"]
    not_an_object = service.call("POST", "/v1/patients/batch", [patient(0)])
    assert not_an_object.status_code == 400
    assert counts(database) == (0, 0)
