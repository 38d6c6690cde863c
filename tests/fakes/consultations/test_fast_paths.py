"""The hot routes answered in front of FastAPI (``fast.py``) answer exactly as FastAPI does:
requests the fast path declines (another content type, a chunked body, a body it has already
read and found wrong) reach FastAPI whole and get the same answers as before."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from tests.fakes.consultations.conftest import STARTED_AT, Database, StartService, seed


def raw_request(url: str, request: bytes) -> tuple[int, dict[str, object]]:
    """One HTTP/1.1 request written byte by byte; the status and the JSON body."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as connection:
        connection.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += connection.recv(65536)
    return int(head.split(b" ")[1]), json.loads(body)


def test_declined_requests_get_fastapis_answers(
    start_service: StartService, sqlite_db: Database
) -> None:
    service = start_service(sqlite_db.url)
    people = seed(service, ["10000000001"], patients=1)
    body = {
        "practitioner_id": people.practitioners[0]["id"],
        "patient_id": people.patients[0]["id"],
        "started_at": STARTED_AT,
        "visit_reason": "toux",
    }
    payload = json.dumps(body).encode()
    fast = service.call("POST", "/v1/consultations", body, Idempotency_Key="k-1")
    assert fast.status_code == 201, fast.text

    # another content type: FastAPI parses it (a JSON subtype) and replays the key's record
    charset = service.session.post(
        service.url + "/v1/consultations",
        data=payload,
        headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": "k-1"},
        timeout=15,
    )
    assert charset.status_code == 200 and charset.json() == fast.json()

    # a chunked body (no Content-Length): FastAPI reads it
    chunked = (
        b"POST /v1/consultations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Idempotency-Key: k-2\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(payload):x}\r\n".encode()
        + payload
        + b"\r\n0\r\n\r\n"
    )
    status, record = raw_request(service.url, chunked)
    assert status == 201 and record["idempotency_key"] == "k-2"

    # bodies the fast path reads, then declines: FastAPI sees them whole
    for broken, expected, field in [
        (b'{"practitioner_id": ', 400, None),
        (json.dumps({**body, "visit_reason": 7}).encode(), 422, "visit_reason"),
        (json.dumps({**body, "extra": 1}).encode(), 422, "extra"),
    ]:
        request = (
            b"POST /v1/consultations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Idempotency-Key: k-3\r\nContent-Length: {len(broken)}\r\n\r\n".encode()
            + broken
        )
        status, answer = raw_request(service.url, request)
        assert (status, answer["field"]) == (expected, field), answer
    missing_key = service.call("POST", "/v1/consultations", body)
    assert missing_key.status_code == 422 and missing_key.json()["field"] == "Idempotency-Key"
    long_key = service.call("POST", "/v1/consultations", body, Idempotency_Key="k" * 129)
    assert long_key.status_code == 422 and long_key.json()["field"] == "Idempotency-Key"

    record_id = fast.json()["id"]
    read = service.call("GET", f"/v1/consultations/{record_id}")
    assert read.status_code == 200 and read.json() == fast.json()
    for path in ("/v1/consultations/0", "/v1/consultations/x1", f"/v1/consultations/{2**31}"):
        assert service.call("GET", path).status_code == 404, path
    patched = service.call("PATCH", f"/v1/consultations/{record_id}", {"conclusion": "repos"})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    empty_patch = service.call("PATCH", f"/v1/consultations/{record_id}", {})
    assert empty_patch.status_code == 422
    assert service.call("PATCH", "/v1/consultations/999", {"conclusion": "x"}).status_code == 404
    assert len(service.export()) == 2


def test_listings_answer_as_the_route_does(start_service: StartService, database: Database) -> None:
    """A listing the fast path answers equals the route's answer to the same query written so
    that the fast path declines it (a percent-escaped digit: the same value to the route)."""
    service = start_service(database.url)
    people = seed(service, ["10000000001", "10000000002"], patients=4)
    doctors = [p["id"] for p in people.practitioners]
    patients = [p["id"] for p in people.patients]
    for n in range(7):
        created = service.create(f"k-{n}", doctors[n % 2], patients[n % 4], visit_reason=f"v{n}")
        assert created.status_code == 201, created.text
    first = service.export()[0]["id"]
    for query in (
        "",
        "limit=3",
        f"limit=2&cursor={first}",
        f"practitioner_id={doctors[1]}",
        f"practitioner_id={doctors[0]}&limit=1&cursor={first}",
        f"patient_id={patients[2]}",
        f"patient_id={patients[0]}&practitioner_id={doctors[0]}",
        "practitioner_id=999",
    ):
        fast = service.call("GET", "/v1/consultations?" + query)
        # the last parameter's last digit escaped: the route's own parser reads the same query
        escaped = query[:-1] + f"%3{query[-1]}" if query else "limit=10%30"
        route = service.call("GET", "/v1/consultations?" + escaped)
        assert fast.status_code == route.status_code == 200, (query, fast.text, route.text)
        assert fast.json() == route.json(), query
    for query, field in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=-1", "cursor"),
        ("practitioner_id=0", "practitioner_id"),
        (f"patient_id={2**31}", "patient_id"),
        ("colour=red", "colour"),
        ("limit=", None),
    ]:
        answer = service.call("GET", "/v1/consultations?" + query)
        if field is None:  # an empty value is the default, as the route reads it
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    twice = service.call("GET", f"/v1/consultations?limit=1&limit=2&cursor={first}")
    assert twice.status_code == 200 and len(twice.json()["items"]) == 2  # the route: the last


def test_patch_answers_alike_with_and_without_defects(
    start_service: StartService, database: Database
) -> None:
    """A PATCH no defect can bend runs as one UPDATE ... RETURNING; with a defect active that
    covers nobody here, it takes the general path (read FOR UPDATE, then UPDATE). Both answer
    the same record and store it."""
    answers: dict[str, list[dict[str, object]]] = {}
    nobody = '{"name": "lost_observations", "cohort": {"rpps": ["99999999999"]}}'
    for label, args in (("one statement", ()), ("general", ("--defect", nobody))):
        service = start_service(database.url, *args)
        rpps = "10000000001" if label == "general" else "10000000002"
        people = seed(service, [rpps], patients=1)
        created = service.create(
            f"{label}-1",
            people.practitioners[0]["id"],
            people.patients[0]["id"],
            visit_reason="toux",
            exam_report="auscultation normale",
        )
        path = f"/v1/consultations/{created.json()['id']}"
        steps = [
            service.call("PATCH", path, {"conclusion": "bronchite"}),
            service.call("PATCH", path, {"exam_report": None, "prescription": "repos"}),
            service.call("PATCH", path, {"visit_reason": "toux grasse"}),
        ]
        assert [s.status_code for s in steps] == [200, 200, 200], [s.text for s in steps]
        assert service.call("PATCH", "/v1/consultations/999999", {"conclusion": "x"}).json() == {
            "error": "no consultation with id 999999",
            "field": "id",
        }
        stored = service.call("GET", path).json()
        assert stored == steps[-1].json()
        answers[label] = [s.json() for s in steps]
        service.kill()

    def comparable(record: dict[str, object]) -> dict[str, object]:
        varying = ("id", "idempotency_key", "practitioner_id", "patient_id", "created_at")
        return {k: v for k, v in record.items() if k not in (*varying, "updated_at")}

    one, general = answers["one statement"], answers["general"]
    assert [comparable(r) for r in one] == [comparable(r) for r in general]
    assert [r["version"] for r in one] == [2, 3, 4]
    assert all(list(a) == list(b) for a, b in zip(one, general, strict=True))  # key order too
    assert all(str(r["updated_at"]) > str(r["created_at"]) for r in one + general)
