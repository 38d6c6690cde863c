"""ackguard's practitioners on the Cabinet API (service.py): the four methods every target needs.

Each call is sent once (a retry would hide an indeterminate outcome) and classified by
``classify_reply``: 2xx ok, 4xx or a refused connection fail, a timeout, a reset or a 5xx info.
Cabinet notes are translated into ackguard's record shape, so the history and the export (the
final read) speak of the same fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from ackguard.harness.workload import (
    ConsultationRecord,
    PatientEntry,
    PractitionerEntry,
    Reply,
    TargetAnswer,
    TargetContext,
    classify_reply,
    transport_for,
)

# ackguard's observation fields and the Cabinet's names for them.
SECTIONS = {
    "visit_reason": "motif",
    "exam_report": "examen",
    "conclusion": "conclusion",
    "prescription": "ordonnance",
}


class CabinetTarget:
    def __init__(self, context: TargetContext) -> None:
        self.http = transport_for(context)  # the Locust user's client: calls show in its stats

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: Mapping[str, str | None],
    ) -> TargetAnswer:
        note = {"author": practitioner.id, "patient": patient.id, "seen_at": started_at.isoformat()}
        headers = {"X-Request-Id": key}  # the idempotency key: a retry answers the same note
        reply = self.http.send(
            "POST", "/notes", name="POST /notes", body=note | sections(fields), headers=headers
        )
        return answer(reply)

    def update(self, record_ref: str, fields: Mapping[str, str | None]) -> TargetAnswer:
        path, name = f"/notes/{record_ref}", "PATCH /notes/{uuid}"
        return answer(self.http.send("PATCH", path, name=name, body=sections(fields)))

    def read(self, record_ref: str) -> TargetAnswer:
        path, name = f"/notes/{record_ref}", "GET /notes/{uuid}"
        reply = self.http.send("GET", path, name=name, success=frozenset({404}))
        return TargetAnswer("ok", 404, found=False) if reply.status == 404 else answer(reply)

    def export(self) -> Iterator[ConsultationRecord]:
        after = 0
        while after is not None:
            reply = self.http.send("GET", f"/notes?after={after}", name="GET /notes (export)")
            if classify_reply(reply) != "ok":
                raise RuntimeError(f"export stopped after note {after}: {reply.describe()}")
            page = reply.json()
            assert isinstance(page, dict)
            yield from (record(note) for note in page["notes"])
            after = page["next"]


def sections(fields: Mapping[str, str | None]) -> dict[str, str | None]:
    return {SECTIONS[name]: value for name, value in fields.items()}


def record(note: dict[str, Any]) -> ConsultationRecord:
    """A Cabinet note in ackguard's record shape."""
    return ConsultationRecord(
        id=note["uuid"],
        idempotency_key=note["request_id"],
        practitioner_id=note["author"],
        patient_id=note["patient"],
        version=note["rev"],
        visit_reason=note["motif"],
        exam_report=note["examen"],
        conclusion=note["conclusion"],
        prescription=note["ordonnance"],
    )


def answer(reply: Reply) -> TargetAnswer:
    outcome = classify_reply(reply)
    data = reply.json()
    if outcome != "ok" or not isinstance(data, dict):  # a 2xx we cannot read proves nothing
        return TargetAnswer("info" if outcome == "ok" else outcome, reply.status, reply.describe())
    return TargetAnswer("ok", reply.status, record=record(data["note"]))
