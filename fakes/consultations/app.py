"""The reference consultation API (FastAPI; ``/openapi.json`` describes it).

Writes go to the single writer (:mod:`.writer`) and are answered after their commit; reads run
on their own pool. Errors are ``{"error": str, "field": str|null}`` (status codes in
:mod:`.errors`). Practitioners and patients can also be registered in bulk, up to 1,000 in
one all-or-nothing request (``POST /v1/practitioners/batch``, ``POST /v1/patients/batch``,
described in :mod:`.batch`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import Response

from ackguard.fakes.consultations.batch import add_batch_routes
from ackguard.fakes.consultations.defects import DefectSpecError, parse_entries
from ackguard.fakes.consultations.defects import non_idempotent_retry as non_idempotent
from ackguard.fakes.consultations.errors import Answer, ApiError, error_body, json_answer
from ackguard.fakes.consultations.http import BodySizeLimit, install_error_handlers, respond
from ackguard.fakes.consultations.jobs import (
    CreateConsultation,
    CreatePatient,
    CreatePractitioner,
    PatchConsultation,
    Probe,
    UsePlainKeyIndex,
)
from ackguard.fakes.consultations.models import (
    MAX_ID,
    ConsultationIn,
    ConsultationPatch,
    PatientIn,
    PractitionerIn,
)
from ackguard.fakes.consultations.reads import ListQuery, get_consultation, list_consultations, ping
from ackguard.fakes.consultations.records import (
    ConsultationRecord,
    PatientRecord,
    PractitionerRecord,
)
from ackguard.fakes.consultations.service import Service

__all__ = ["create_app"]

_ID_DIGITS = 18
_LIST_PARAMS = frozenset({"practitioner_id", "patient_id", "cursor", "limit"})
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


def _path_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text[: _ID_DIGITS + 1]) <= MAX_ID:
        raise ApiError(404, f"no consultation with id {text!r}", "id")
    return int(text)


def _query_int(request: Request, name: str, low: int, high: int) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    if (
        not text.isascii()
        or not text.isdigit()
        or len(text) > _ID_DIGITS
        or not low <= int(text) <= high
    ):
        raise ApiError(422, f"{name}: must be an integer from {low} to {high}, got {text!r}", name)
    return int(text)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="ackguard consultations",
        summary="EHR-like consultation service under test, with switchable defects",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=service.config.max_body_bytes)
    huge = MAX_ID

    @app.post("/v1/practitioners", status_code=201, responses={201: {"model": PractitionerRecord}})
    async def create_practitioner(body: PractitionerIn) -> Response:
        return respond(await service.write(CreatePractitioner(body)))

    @app.post("/v1/patients", status_code=201, responses={201: {"model": PatientRecord}})
    async def create_patient(body: PatientIn) -> Response:
        return respond(await service.write(CreatePatient(body)))

    add_batch_routes(app, service)

    @app.post(
        "/v1/consultations",
        status_code=201,
        responses={201: {"model": ConsultationRecord}, 200: {"model": ConsultationRecord}},
    )
    async def create_consultation(body: ConsultationIn, key: IdempotencyKey) -> Response:
        """201 created; 200 the same record for a replay (same key, same body); 409 same key
        with another body."""
        return respond(await service.write(CreateConsultation(body, key)))

    @app.patch(
        "/v1/consultations/{consultation_id}", responses={200: {"model": ConsultationRecord}}
    )
    async def patch_consultation(consultation_id: str, body: ConsultationPatch) -> Response:
        return respond(await service.write(PatchConsultation(_path_id(consultation_id), body)))

    @app.get("/v1/consultations/{consultation_id}", responses={200: {"model": ConsultationRecord}})
    async def read_consultation(consultation_id: str) -> Response:
        record_id = _path_id(consultation_id)
        record = await service.read(lambda: get_consultation(service.read_engine, record_id))
        if record is None:
            raise ApiError(404, f"no consultation with id {consultation_id!r}", "id")
        return respond(json_answer(200, record))

    @app.get("/v1/consultations")
    async def list_all(
        request: Request,
        practitioner_id: str | None = None,
        patient_id: str | None = None,
        cursor: str | None = None,
        limit: str | None = None,
    ) -> Response:
        """``{"items": [record...], "next_cursor": str|null}`` in id order; without filters,
        the full export. ``limit`` 1..1000 (default 100)."""
        unknown = sorted(set(request.query_params) - _LIST_PARAMS)
        if unknown:
            raise ApiError(422, f"unknown query parameter {unknown[0]!r}", unknown[0])
        query = ListQuery(
            practitioner_id=_query_int(request, "practitioner_id", 1, huge),
            patient_id=_query_int(request, "patient_id", 1, huge),
            after_id=_query_int(request, "cursor", 0, huge) or 0,
            limit=_query_int(request, "limit", 1, 1000) or 100,
        )
        page = await service.read(lambda: list_consultations(service.read_engine, query))
        return respond(json_answer(200, {"items": page.items, "next_cursor": page.next_cursor}))

    @app.get("/health")
    async def health() -> Response:
        """200 when the database answers a read and the writer can take the write lock."""
        try:
            await service.read(lambda: ping(service.read_engine))
        except ApiError as exc:
            return respond(Answer(503, error_body(exc.message)))
        probe = await service.write(Probe())
        if probe.status != 200:
            return respond(Answer(503, probe.body))
        return respond(probe)

    def _admin(request: Request) -> None:
        if not _is_loopback(request):
            raise ApiError(403, "admin endpoints answer loopback clients only")
        expected = f"Bearer {service.config.admin_token}"
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "missing or wrong bearer token", "Authorization")

    @app.get("/admin/defects")
    async def get_defects(request: Request) -> Response:
        _admin(request)
        return respond(json_answer(200, service.defects.to_json()))

    @app.put("/admin/defects")
    async def put_defects(request: Request) -> Response:
        """Replace the active set: ``{"defects": [{"name", "params", "cohort", "window"}]}``.
        A bad entry answers 400 naming it, and the active set is unchanged."""
        _admin(request)
        try:
            raw = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body must be a JSON object ({exc})") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("defects"), list):
            raise ApiError(400, 'the body must be {"defects": [...]}', "defects")
        extra = sorted(set(raw) - {"defects"})
        if extra:
            raise ApiError(400, f"unknown key {extra[0]!r}", extra[0])
        try:
            active = parse_entries(raw["defects"])
        except DefectSpecError as exc:
            raise ApiError(400, str(exc), exc.field) from None
        if active.has(non_idempotent.KIND) and not service.defects.has(non_idempotent.KIND):
            answer = await service.write(UsePlainKeyIndex())
            if answer.status != 200:
                return respond(answer)
        service.defects = active
        return respond(json_answer(200, active.to_json()))

    return app
