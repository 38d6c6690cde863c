"""The built-in target: the reference consultation API over HTTP.

Inside a Locust user it sends through the user's ``FastHttpSession`` (requests grouped in Locust's
statistics as ``POST /v1/consultations``, ``PATCH /v1/consultations/{id}``...); outside Locust
(setup, export, plain scripts) through a pooled urllib3 client. Either way each call is sent once,
with the per-request timeout, and its outcome classified by :mod:`harness.workload.target`.

Registration in bulk (:class:`~harness.workload.target.SupportsBulkRegistration`) goes through
the batch endpoints (``POST /v1/practitioners/batch``, ``/v1/patients/batch``: at most 1,000 items
and 256 KiB per request); a service without them (404 or 405) is registered one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from json.encoder import encode_basestring
from urllib.parse import urlencode

from ackguard.harness.workload.directory import PatientEntry, PractitionerEntry
from ackguard.harness.workload.model import PatientProfile, PractitionerProfile
from ackguard.harness.workload.target import (
    ConsultationRecord,
    TargetAnswer,
    TargetContext,
    classify_error,
    classify_status,
    parse_record,
)
from ackguard.harness.workload.transport import Reply, Transport, transport_for

__all__ = ["ExportError", "HttpTarget"]

LIST_PAGE_LIMIT = 1000
LIST_MAX_PAGES = 5  # a practitioner's list beyond 5,000 records is reported incomplete
EXPORT_ATTEMPTS_PER_PAGE = 8
EXPORT_DEADLINE_S = 300.0
BATCH_MAX_ITEMS = 1000
BATCH_MAX_BYTES = 200_000  # under the reference service's 256 KiB body cap, with room to spare


class ExportError(RuntimeError):
    """The export could not be completed within its retries and deadline."""


class HttpTarget:
    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self._transport: Transport = transport_for(context)
        self._batches = True  # until the service answers that it has no batch endpoint

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        return _registered(
            self._transport.send(
                "POST",
                "/v1/practitioners",
                name="POST /v1/practitioners",
                body=_practitioner_body(practitioner),
            )
        )

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        return _registered(
            self._transport.send(
                "POST", "/v1/patients", name="POST /v1/patients", body=_patient_body(patient)
            )
        )

    def register_practitioners(self, practitioners: Sequence[PractitionerProfile]) -> TargetAnswer:
        return self._register_many(
            "/v1/practitioners/batch",
            [_practitioner_body(p) for p in practitioners],
            (partial(self.register_practitioner, p) for p in practitioners),
        )

    def register_patients(self, patients: Sequence[PatientProfile]) -> TargetAnswer:
        return self._register_many(
            "/v1/patients/batch",
            [_patient_body(p) for p in patients],
            (partial(self.register_patient, p) for p in patients),
        )

    def _register_many(
        self,
        path: str,
        bodies: list[dict[str, str]],
        one_by_one: Iterator[Callable[[], TargetAnswer]],
    ) -> TargetAnswer:
        """Every body registered, in requests that fit the batch endpoint's bounds (or one by
        one, ``one_by_one`` holding each single registration, where the service has no batch
        endpoint); the first request not acknowledged answers for the whole call."""
        ids: list[str] = []
        for part in _parts(bodies) if self._batches else []:
            reply = self._transport.send(
                "POST", path, name=f"POST {path}", body={"items": part}, success=_ABSENT
            )
            if reply.status in _ABSENT and not ids:
                self._batches = False
                break
            answer = _registered_many(reply, len(part))
            if answer.outcome != "ok":
                return answer
            ids.extend(answer.entity_ids)
        if self._batches:
            return TargetAnswer("ok", 201, entity_ids=tuple(ids))
        for register in one_by_one:
            answer = register()
            if answer.outcome != "ok" or answer.entity_id is None:
                return answer
            ids.append(answer.entity_id)
        return TargetAnswer("ok", 201, entity_ids=tuple(ids))

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: Mapping[str, str | None],
    ) -> TargetAnswer:
        body = {
            "practitioner_id": practitioner.id,
            "patient_id": patient.id,
            "started_at": started_at.isoformat(),
            **fields,
        }
        reply = self._transport.send(
            "POST",
            "/v1/consultations",
            name="POST /v1/consultations",
            body=body,
            headers={"Idempotency-Key": key},
        )
        return _with_record(reply)

    def update(self, record_ref: str, fields: Mapping[str, str | None]) -> TargetAnswer:
        reply = self._transport.send(
            "PATCH",
            f"/v1/consultations/{record_ref}",
            name="PATCH /v1/consultations/{id}",
            body=dict(fields),
        )
        return _with_record(reply)

    def read(self, record_ref: str) -> TargetAnswer:
        reply = self._transport.send(
            "GET",
            f"/v1/consultations/{record_ref}",
            name="GET /v1/consultations/{id}",
            success=frozenset({404}),
        )
        if reply.status == 404:
            return TargetAnswer("ok", 404, found=False)
        return _with_record(reply)

    def list_day(self, practitioner: PractitionerEntry, day: date) -> TargetAnswer:
        """The practitioner's consultations. The reference API has no date filter, so this is the
        practitioner's whole list (``day`` is for adapters whose API has a day view)."""
        del day
        records: list[ConsultationRecord] = []
        cursor: str | None = None
        for _ in range(LIST_MAX_PAGES):
            reply = self._transport.send(
                "GET",
                "/v1/consultations?" + _query(practitioner_id=practitioner.id, cursor=cursor),
                name="GET /v1/consultations?practitioner_id",
            )
            page = _page(reply)
            if isinstance(page, TargetAnswer):
                return page
            items, cursor = page
            records.extend(items)
            if cursor is None:
                return TargetAnswer("ok", reply.status, records=tuple(records))
        return TargetAnswer("ok", 200, records=tuple(records), complete=False)

    def export(self) -> Iterator[ConsultationRecord]:
        """Every consultation, page after page; a page that fails is retried (bounded) with
        backoff, so a service that restarts during the export is waited for."""
        deadline = time.monotonic() + EXPORT_DEADLINE_S
        cursor: str | None = None
        while True:
            page = self._export_page(cursor, deadline)
            items, cursor = page
            yield from items
            if cursor is None:
                return

    def _export_page(
        self, cursor: str | None, deadline: float
    ) -> tuple[list[ConsultationRecord], str | None]:
        problem = "no attempt"
        for attempt in range(EXPORT_ATTEMPTS_PER_PAGE):
            reply = self._transport.send(
                "GET",
                "/v1/consultations?" + _query(cursor=cursor),
                name="GET /v1/consultations (export)",
            )
            page = _page(reply)
            if not isinstance(page, TargetAnswer):
                return page
            problem = page.error or page.outcome
            rejected = page.status is not None and 400 <= page.status < 500
            if rejected or time.monotonic() > deadline:
                break
            time.sleep(min(0.25 * 2**attempt, 4.0, max(0.0, deadline - time.monotonic())))
        raise ExportError(f"export stopped at cursor {cursor!r}: {problem}")


_ABSENT = frozenset({404, 405})  # the service has no batch endpoint


def _practitioner_body(practitioner: PractitionerProfile) -> dict[str, str]:
    return {
        "name": practitioner.name,
        "specialty": practitioner.specialty.name,
        "rpps": practitioner.rpps,
    }


def _patient_body(patient: PatientProfile) -> dict[str, str]:
    return {
        "name": patient.name,
        "birth_date": patient.birth_date.isoformat(),
        "national_id": patient.national_id,
    }


def _encoded_size(body: dict[str, str]) -> int:
    """The bytes ``body`` takes in a request, as the transport encodes it (``json.dumps``,
    UTF-8, ``": "`` and ``", "`` separators), without encoding the whole dict: a third of
    the cost, which counts at 300,000 practitioners."""
    return sum(len(encode_basestring(v).encode()) + len(k) + 6 for k, v in body.items())


def _parts(bodies: list[dict[str, str]]) -> Iterator[list[dict[str, str]]]:
    """The bodies in runs of at most BATCH_MAX_ITEMS items and at most BATCH_MAX_BYTES."""
    part: list[dict[str, str]] = []
    size = 0
    for body in bodies:
        length = _encoded_size(body)
        if part and (len(part) == BATCH_MAX_ITEMS or size + length > BATCH_MAX_BYTES):
            yield part
            part, size = [], 0
        part.append(body)
        size += length
    if part:
        yield part


def _query(*, practitioner_id: str | None = None, cursor: str | None = None) -> str:
    params = {"limit": str(LIST_PAGE_LIMIT)}
    if practitioner_id is not None:
        params["practitioner_id"] = practitioner_id
    if cursor is not None:
        params["cursor"] = cursor
    return urlencode(params)


def _failure(reply: Reply) -> TargetAnswer:
    outcome = (
        classify_error(reply.error)
        if reply.error is not None
        else classify_status(reply.status or 0)
    )
    return TargetAnswer(outcome, reply.status, reply.describe())


def _with_record(reply: Reply) -> TargetAnswer:
    if reply.error is not None or reply.status is None or not 200 <= reply.status < 300:
        return _failure(reply)
    record = parse_record(reply.json())
    if record is None:  # a 2xx we cannot read is no acknowledgment we can rely on
        return TargetAnswer("info", reply.status, f"HTTP {reply.status} with an unreadable body")
    return TargetAnswer("ok", reply.status, record=record)


def _registered(reply: Reply) -> TargetAnswer:
    answer = _with_record(reply)
    if answer.outcome != "ok" or answer.record is None:
        return answer
    return TargetAnswer("ok", answer.status, entity_id=answer.record["id"])


def _registered_many(reply: Reply, count: int) -> TargetAnswer:
    if reply.error is not None or reply.status is None or not 200 <= reply.status < 300:
        return _failure(reply)
    data = reply.json()
    items = data.get("items") if isinstance(data, dict) else None
    ids = [item.get("id") for item in items if isinstance(item, dict)] if items else []
    if not isinstance(items, list) or len(ids) != count or None in ids:
        # a 2xx we cannot match item by item is no acknowledgment we can rely on
        return TargetAnswer("info", reply.status, f"HTTP {reply.status}: not {count} records")
    return TargetAnswer("ok", reply.status, entity_ids=tuple(str(i) for i in ids))


def _page(reply: Reply) -> tuple[list[ConsultationRecord], str | None] | TargetAnswer:
    if reply.error is not None or reply.status is None or not 200 <= reply.status < 300:
        return _failure(reply)
    data = reply.json()
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(items, list):
        return TargetAnswer("info", reply.status, "list answer without items")
    records = [r for r in (parse_record(item) for item in items) if r is not None]
    cursor = data.get("next_cursor")
    return records, (None if cursor is None else str(cursor))
