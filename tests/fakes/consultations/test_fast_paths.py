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
