"""Point ackguard's practitioners at your own API: a Target adapter.

ackguard's practitioners speak to the system under test through a *Target*: seven methods
(register a practitioner, register a patient, create, update, read, list a day, export) that each
return a :class:`~harness.workload.TargetAnswer` classified as ``ok`` (acknowledged), ``fail``
(certainly not applied) or ``info`` (nobody knows). The built-in ``HttpTarget`` speaks ackguard's
reference API; this file adapts the practitioners to another one, the (imaginary) "Cabinet API":

    POST  /api/practitioners     {rpps, display_name, speciality}           -> 201 {uuid}
    POST  /api/patients          {nir, full_name, dob}                       -> 201 {uuid}
    POST  /api/notes             X-Request-Id: <key>
                                 {author, patient, date, sections: {...}}   -> 201 {note}
    PATCH /api/notes/<uuid>      {sections: {...}}                          -> 200 {note}
    GET   /api/notes/<uuid>                                                 -> 200 {note} | 404
    GET   /api/agenda/<author>?date=YYYY-MM-DD                              -> 200 {notes}
    GET   /api/notes?after=<uuid>                                           -> 200 {notes, more}

where a note is ``{uuid, request_id, author, patient, date, rev, sections: {motif, examen,
conclusion, ordonnance}}``. Three things matter when you write your own adapter:

1. Send each call once, through ``transport_for(context)``: inside a Locust user it uses the
   user's client, so the call shows in Locust's statistics; in setup and export a plain client.
   Never retry inside the adapter: a retry would hide an indeterminate outcome.
2. Classify with ``classify_reply``: 2xx ok; 4xx or a refused connection fail; a timeout, a
   reset, a 5xx info. A timeout is never a failure: the write may have happened.
3. Translate your records into the reference shape (``ConsultationRecord``: ``id``,
   ``idempotency_key``, the four observation fields, ``version``), so the history and the final
   read compare the same things.

Run it (Locust must be imported before the rest)::

    python examples/custom_target.py --url http://127.0.0.1:8000 --seconds 60 --out /tmp/cabinet
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401  (first: Locust patches the standard library with gevent)

# isort: on
import argparse
import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import gevent
from locust.env import Environment

from harness.history import HistoryWriter
from harness.workload import (
    ConsultationRecord,
    PatientEntry,
    PatientProfile,
    PractitionerEntry,
    PractitionerProfile,
    Reply,
    TargetAnswer,
    TargetContext,
    Workload,
    WorkloadConfig,
    classify_reply,
    transport_for,
)

# The reference observation fields and the Cabinet API's names for them.
SECTIONS = {
    "visit_reason": "motif",
    "exam_report": "examen",
    "conclusion": "conclusion",
    "prescription": "ordonnance",
}


class CabinetTarget:
    """The Cabinet API as a Target. Built by the workload with a TargetContext per Locust user
    (with the user's client) and for setup and export (without)."""

    def __init__(self, context: TargetContext) -> None:
        self.transport = transport_for(context)

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        body = {
            "rpps": practitioner.rpps,
            "display_name": practitioner.name,
            "speciality": practitioner.specialty.name,
        }
        return _created_entity(
            self.transport.send("POST", "/api/practitioners", name="register", body=body)
        )

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        body = {
            "nir": patient.national_id,
            "full_name": patient.name,
            "dob": patient.birth_date.isoformat(),
        }
        return _created_entity(
            self.transport.send("POST", "/api/patients", name="register", body=body)
        )

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: Mapping[str, str | None],
    ) -> TargetAnswer:
        body = {
            "author": practitioner.id,
            "patient": patient.id,
            "date": started_at.isoformat(),
            "sections": {SECTIONS[name]: value for name, value in fields.items()},
        }
        reply = self.transport.send(
            "POST", "/api/notes", name="POST /api/notes", body=body, headers={"X-Request-Id": key}
        )
        return _note_answer(reply)

    def update(self, record_ref: str, fields: Mapping[str, str | None]) -> TargetAnswer:
        body = {"sections": {SECTIONS[name]: value for name, value in fields.items()}}
        reply = self.transport.send(
            "PATCH", f"/api/notes/{quote(record_ref)}", name="PATCH /api/notes/{uuid}", body=body
        )
        return _note_answer(reply)

    def read(self, record_ref: str) -> TargetAnswer:
        reply = self.transport.send(
            "GET",
            f"/api/notes/{quote(record_ref)}",
            name="GET /api/notes/{uuid}",
            success=frozenset({404}),
        )
        if reply.status == 404:
            return TargetAnswer("ok", 404, found=False)  # an answer: the note is not there
        return _note_answer(reply)

    def list_day(self, practitioner: PractitionerEntry, day: date) -> TargetAnswer:
        reply = self.transport.send(
            "GET",
            f"/api/agenda/{quote(practitioner.id)}?date={day.isoformat()}",
            name="GET /api/agenda/{author}",
        )
        notes = _notes(reply)
        if notes is None:
            return TargetAnswer(
                classify_reply(reply) if reply.status != 200 else "info",
                reply.status,
                reply.describe(),
            )
        # The agenda shows one day only: it proves nothing about other days' notes.
        return TargetAnswer("ok", reply.status, records=tuple(notes), complete=False)

    def export(self) -> Iterator[ConsultationRecord]:
        after = ""
        while True:  # one page at a time; the orchestrator bounds the whole read in time
            reply = self.transport.send("GET", f"/api/notes?after={quote(after)}", name="export")
            notes = _notes(reply)
            data = reply.json()
            if notes is None or not isinstance(data, dict):
                raise RuntimeError(f"export failed after {after!r}: {reply.describe()}")
            yield from notes
            if not data.get("more") or not notes:
                return
            after = notes[-1]["id"]


def _as_record(note: object) -> ConsultationRecord | None:
    """A Cabinet note in the reference shape."""
    if not isinstance(note, dict) or "uuid" not in note:
        return None
    sections = note.get("sections") or {}
    record: ConsultationRecord = {
        "id": str(note["uuid"]),
        "idempotency_key": str(note.get("request_id")),
        "practitioner_id": str(note.get("author")),
        "patient_id": str(note.get("patient")),
        "started_at": str(note.get("date")),
        "version": int(note.get("rev", 0)),
    }
    for name, section in SECTIONS.items():
        record[name] = sections.get(section)  # type: ignore[literal-required]
    return record


def _note_answer(reply: Reply) -> TargetAnswer:
    outcome = classify_reply(reply)
    if outcome != "ok":
        return TargetAnswer(outcome, reply.status, reply.describe())
    data = reply.json()
    record = _as_record(data.get("note") if isinstance(data, dict) else None)
    if record is None:  # a 2xx we cannot read acknowledges nothing we can check
        return TargetAnswer("info", reply.status, "acknowledged without a readable note")
    return TargetAnswer("ok", reply.status, record=record)


def _created_entity(reply: Reply) -> TargetAnswer:
    outcome = classify_reply(reply)
    data = reply.json()
    if outcome == "ok" and isinstance(data, dict) and data.get("uuid"):
        return TargetAnswer("ok", reply.status, entity_id=str(data["uuid"]))
    return TargetAnswer("info" if outcome == "ok" else outcome, reply.status, reply.describe())


def _notes(reply: Reply) -> list[ConsultationRecord] | None:
    data = reply.json()
    if (
        classify_reply(reply) != "ok"
        or not isinstance(data, dict)
        or not isinstance(data.get("notes"), list)
    ):
        return None
    return [r for r in (_as_record(n) for n in data["notes"]) if r is not None]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Drive synthetic practitioners against the Cabinet API and record the history.",
        epilog="example: python examples/custom_target.py --url http://127.0.0.1:8000 --seconds 60",
    )
    parser.add_argument("--url", required=True, help="base URL of the Cabinet API")
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (real seconds)")
    parser.add_argument("--practitioners", type=int, default=20)
    parser.add_argument(
        "--users", type=int, default=10, help="Locust users (practitioners are shared)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("cabinet-run"), help="where to write the history"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = WorkloadConfig(seed=1, practitioners=args.practitioners)
    with HistoryWriter(args.out / "history.jsonl") as history:
        workload = Workload(config, history, target_factory=CabinetTarget, users=args.users)
        directory = workload.setup(args.url)
        (args.out / "directory.json").write_text(
            json.dumps(directory.to_json(), ensure_ascii=False)
        )
        environment = Environment(user_classes=workload.user_classes(), host=args.url)
        runner = environment.create_local_runner()
        runner.start(workload.users, spawn_rate=workload.users)
        gevent.sleep(args.seconds)
        runner.quit()
        records = workload.export(args.url)
    (args.out / "export.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    print(f"{len(records)} notes exported; history in {args.out / 'history.jsonl'}")


if __name__ == "__main__":
    main()
