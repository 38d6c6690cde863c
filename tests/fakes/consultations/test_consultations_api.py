"""The reference API of the consultation service, on SQLite and on PostgreSQL: every endpoint,
idempotency, every class of bad input (4xx, nothing written), admin access, clean restart."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.fakes.consultations.conftest import Database, StartService, seed


def test_every_endpoint_round_trips(start_service: StartService, database: Database) -> None:
    service = start_service(database.url)
    assert service.call("GET", "/health").json() == {"status": "ok"}
    people = seed(service, ["10000000001", "10000000002"])
    doctor, other = (p["id"] for p in people.practitioners)
    patient = people.patients[0]["id"]
    assert people.practitioners[0] == {
        "id": doctor,
        "name": "Dr 10000000001",
        "specialty": "gp",
        "rpps": "10000000001",
    }

    created = service.create(
        "key-1", doctor, patient, visit_reason="cough", exam_report="clear lungs"
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["idempotency_key"] == "key-1" and record["version"] == 1
    assert (record["visit_reason"], record["exam_report"], record["conclusion"]) == (
        "cough",
        "clear lungs",
        None,
    )
    assert set(record) == {
        "id", "idempotency_key", "practitioner_id", "patient_id", "started_at", "visit_reason",
        "exam_report", "conclusion", "prescription", "version", "created_at", "updated_at",
    }  # fmt: skip

    replay = service.create(
        "key-1", doctor, patient, visit_reason="cough", exam_report="clear lungs"
    )
    assert replay.status_code == 200 and replay.json() == record
    conflict = service.create("key-1", doctor, patient, visit_reason="fever")
    assert conflict.status_code == 409 and conflict.json()["field"] == "Idempotency-Key"

    patched = service.call(
        "PATCH", f"/v1/consultations/{record['id']}", {"conclusion": "rest", "visit_reason": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2 and patched.json()["conclusion"] == "rest"
    assert patched.json()["visit_reason"] is None
    assert service.call("GET", f"/v1/consultations/{record['id']}").json() == patched.json()

    for index in range(4):
        assert (
            service.create(f"key-{index + 2}", other, patient, visit_reason=f"v{index}").status_code
            == 201
        )
    mine = service.call("GET", f"/v1/consultations?practitioner_id={doctor}").json()
    assert [r["idempotency_key"] for r in mine["items"]] == ["key-1"] and mine[
        "next_cursor"
    ] is None
    page = service.call(
        "GET", f"/v1/consultations?practitioner_id={other}&patient_id={patient}&limit=3"
    ).json()
    assert len(page["items"]) == 3 and page["next_cursor"] is not None
    rest = service.call(
        "GET", f"/v1/consultations?practitioner_id={other}&limit=3&cursor={page['next_cursor']}"
    ).json()
    assert [r["idempotency_key"] for r in page["items"] + rest["items"]] == [
        f"key-{i}" for i in range(2, 6)
    ]
    export = service.export()
    assert [int(r["id"]) for r in export] == sorted(int(r["id"]) for r in export)
    assert len(export) == 5
    assert database.scalar("SELECT count(*) FROM consultations") == 5

    paths = service.call("GET", "/openapi.json").json()["paths"]
    assert {
        "/v1/consultations",
        "/v1/consultations/{consultation_id}",
        "/health",
        "/admin/defects",
    } <= set(paths)


BAD_CREATES: list[tuple[str, dict[str, Any] | str, dict[str, str], int, str | None]] = [
    ("unknown field", {"extra": "x"}, {}, 422, "extra"),
    ("wrong type", {"practitioner_id": 1}, {}, 422, "practitioner_id"),
    ("missing field", {"started_at": None}, {}, 422, "started_at"),
    ("bad date-time", {"started_at": "yesterday"}, {}, 422, "started_at"),
    ("note over 20000", {"exam_report": "x" * 20_001}, {}, 422, "exam_report"),
    ("unknown practitioner", {"practitioner_id": "999"}, {}, 422, "practitioner_id"),
    ("unknown patient", {"patient_id": "999"}, {}, 422, "patient_id"),
    ("no key", {}, {"Idempotency-Key": ""}, 422, "Idempotency-Key"),
    ("key too long", {}, {"Idempotency-Key": "k" * 129}, 422, "Idempotency-Key"),
    ("malformed JSON", '{"practitioner_id": ', {}, 400, None),
    ("not an object", "[1, 2]", {}, 400, None),
    ("oversized body", {"exam_report": "x" * 300_000}, {}, 413, None),
]


@pytest.mark.parametrize("case", BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
def test_bad_create_is_refused_and_writes_nothing(
    start_service: StartService,
    sqlite_db: Database,
    case: tuple[str, Any, dict[str, str], int, str | None],
) -> None:
    _name, change, headers, status, field = case
    service = start_service(sqlite_db.url)
    people = seed(service, ["10000000001"])
    body: Any = change
    if isinstance(change, dict):
        body = {
            "practitioner_id": people.practitioners[0]["id"],
            "patient_id": people.patients[0]["id"],
            "started_at": "2026-03-02T09:00:00+01:00",
        }
        body.update(change)
        body = {k: v for k, v in body.items() if v is not None}
    answer = _post_raw(service, body, {"Idempotency-Key": "key-1", **headers})
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field and answer.json()["error"]
    assert service.export() == []
    assert sqlite_db.scalar("SELECT count(*) FROM consultations") == 0


def _post_raw(service: Any, body: Any, headers: dict[str, str]) -> Any:
    data = body if isinstance(body, str) else __import__("json").dumps(body)
    heads = {"Content-Type": "application/json", **{k: v for k, v in headers.items() if v}}
    return service.session.post(
        service.url + "/v1/consultations", data=data, headers=heads, timeout=15
    )


def test_bad_input_on_every_endpoint_is_refused(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001"])
    created = service.create(
        "key-1", people.practitioners[0]["id"], people.patients[0]["id"], conclusion="ok"
    )
    path = f"/v1/consultations/{created.json()['id']}"
    cases: list[tuple[str, str, Any, int, str | None]] = [
        ("POST", "/v1/practitioners", {"name": "A", "specialty": "gp"}, 422, "rpps"),
        ("POST", "/v1/practitioners", {"name": "A", "specialty": "gp", "rpps": 5}, 422, "rpps"),
        (
            "POST",
            "/v1/patients",
            {"name": "B", "birth_date": "1980-13-40", "national_id": "1"},
            422,
            "birth_date",
        ),
        (
            "POST",
            "/v1/patients",
            {"name": "B", "birth_date": "1980-01-01", "national_id": "1", "x": 1},
            422,
            "x",
        ),
        ("PATCH", path, {}, 422, None),
        ("PATCH", path, {"notes": "x"}, 422, "notes"),
        ("PATCH", path, {"conclusion": 3}, 422, "conclusion"),
        ("PATCH", path, {"conclusion": "x" * 20_001}, 422, "conclusion"),
        ("PATCH", "/v1/consultations/999", {"conclusion": "x"}, 404, "id"),
        ("PATCH", "/v1/consultations/abc", {"conclusion": "x"}, 404, "id"),
        ("GET", "/v1/consultations/999", None, 404, "id"),
        ("GET", "/v1/consultations?limit=1001", None, 422, "limit"),
        ("GET", "/v1/consultations?cursor=x", None, 422, "cursor"),
        ("GET", "/v1/consultations?colour=red", None, 422, "colour"),
    ]
    for method, target, body, status, field in cases:
        answer = service.call(method, target, body)
        assert answer.status_code == status, (method, target, body, answer.text)
        assert answer.json()["field"] == field and answer.json()["error"], answer.text
    assert database.scalar("SELECT count(*) FROM practitioners") == 1
    assert database.scalar("SELECT count(*) FROM patients") == 2
    assert service.export() == [created.json()]


def test_admin_defects_access_and_validation(
    start_service: StartService, sqlite_db: Database
) -> None:
    service = start_service(sqlite_db.url, "--defect", "silent_truncation")
    assert service.call("GET", "/admin/defects").status_code == 401
    assert service.call("GET", "/admin/defects", Authorization="Bearer wrong").status_code == 401
    before = service.admin("GET").json()
    assert before == {
        "defects": [
            {
                "name": "silent_truncation",
                "params": {"max_chars": 1000},
                "cohort": None,
                "window": None,
            }
        ]
    }
    bad: list[tuple[Any, str]] = [
        ({"defects": [{"name": "nope"}]}, "defects[0].name"),
        (
            {"defects": [{"name": "split_transaction", "params": {"gap": 3}}]},
            "defects[0].params.gap",
        ),
        (
            {
                "defects": [
                    "silent_truncation",
                    {"name": "silent_truncation", "cohort": {"fraction": 2}},
                ]
            },
            "defects[1].cohort.fraction",
        ),
        (
            {"defects": [{"name": "ack_before_commit", "window": {"from": "2026-01-01T00:00:00"}}]},
            "defects[0].window.from",
        ),
        ({"defect": []}, "defects"),
    ]
    for body, field in bad:
        answer = service.admin("PUT", body)
        assert answer.status_code == 400 and answer.json()["field"] == field, answer.text
        assert service.admin("GET").json() == before
    entry = {"name": "lost_observations", "params": {"mode": "stale"}, "cohort": {"rpps": ["1"]},
             "window": {"from": "2026-01-01T00:00:00+00:00", "until": None}}  # fmt: skip
    assert service.admin("PUT", {"defects": [entry]}).status_code == 200
    assert service.admin("GET").json()["defects"][0]["params"] == {
        "mode": "stale",
        "stale_after_ms": 500,
    }
    assert service.admin("PUT", {"defects": []}).json() == {"defects": []}


def test_bad_defect_on_the_command_line_exits_2(tmp_path: Any) -> None:
    import subprocess
    import sys

    spec = '{"name": "silent_truncation", "params": {"max_chars": "x"}}'
    done = subprocess.run(
        [sys.executable, "-m", "ackguard.fakes.consultations", "--defect", spec],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--defect[0].params.max_chars" in done.stderr


def test_sigterm_stops_cleanly_and_a_restart_serves_the_same_data(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001"])
    created = service.create(
        "key-1", people.practitioners[0]["id"], people.patients[0]["id"], visit_reason="v"
    )
    service.kill(signal.SIGTERM)
    assert service.process.returncode == 0, service.log()
    again = start_service(database.url)
    assert again.export() == [created.json()]


def test_nul_characters_and_ids_beyond_the_columns_are_refused_not_500(
    start_service: StartService, database: Database
) -> None:
    service = start_service(database.url)
    people = seed(service, ["10000000001"])
    doctor, patient = people.practitioners[0]["id"], people.patients[0]["id"]
    created = service.create("key-1", doctor, patient, conclusion="ok")
    path = f"/v1/consultations/{created.json()['id']}"
    beyond = str(2**31)
    good = {"practitioner_id": doctor, "patient_id": patient, "started_at": "2026-03-02T09:00:00"}
    cases: list[tuple[str, str, Any, int, str | None]] = [
        ("PATCH", path, {"conclusion": "a\x00b"}, 422, "conclusion"),
        ("POST", "/v1/consultations", good | {"exam_report": "\x00"}, 422, "exam_report"),
        ("POST", "/v1/consultations", good | {"started_at": "2026\x00"}, 422, "started_at"),
        ("POST", "/v1/consultations", good | {"patient_id": beyond}, 422, "patient_id"),
        ("POST", "/v1/consultations", good | {"practitioner_id": beyond}, 422, "practitioner_id"),
        (
            "POST",
            "/v1/practitioners",
            {"name": "A\x00", "specialty": "gp", "rpps": "1"},
            422,
            "name",
        ),
        (
            "POST",
            "/v1/patients",
            {"name": "B", "birth_date": "1980-01-01", "national_id": "1\x00"},
            422,
            "national_id",
        ),
        ("PATCH", f"/v1/consultations/{beyond}", {"conclusion": "x"}, 404, "id"),
        ("GET", f"/v1/consultations/{beyond}", None, 404, "id"),
        ("GET", f"/v1/consultations/{'9' * 40}", None, 404, "id"),
        ("GET", f"/v1/consultations?practitioner_id={beyond}", None, 422, "practitioner_id"),
        ("GET", f"/v1/consultations?cursor={beyond}", None, 422, "cursor"),
    ]
    for method, target, body, status, field in cases:
        headers = {"Idempotency-Key": "key-2"} if method == "POST" else {}
        answer = service.call(method, target, body, **headers)
        assert answer.status_code == status, (method, target, body, answer.text)
        assert answer.json()["field"] == field and answer.json()["error"], answer.text
    assert service.export() == [created.json()]
    assert service.call("GET", "/health").status_code == 200
