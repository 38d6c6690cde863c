"""The hot routes' well-formed requests, answered without FastAPI's layers.

Profiles of the service under load put two thirds of the event loop's time per request in
FastAPI and Starlette (seven middlewares, routing, dependency solving, the body's validation
adapter), not in the work itself: with one event loop and one writer sharing the GIL, that
capped acknowledged creates near what the load generator sends. :class:`FastPaths` sits in front
of the FastAPI app and answers, itself, the requests the workload sends all the time:

* ``POST /v1/consultations`` and ``PATCH /v1/consultations/{id}`` with a ``Content-Type`` of
  exactly ``application/json``, a ``Content-Length`` within the body cap, a body the route's
  model accepts (same ``json.loads``, same pydantic model as FastAPI uses) and, for a create,
  one valid ``Idempotency-Key``;
* ``GET /v1/consultations/{id}`` with a well-formed id;
* ``GET /v1/consultations`` (the practitioners' day listings, the export) whose query names
  only the route's parameters, each at most once, as plain digits within their ranges.

Everything else, including every request it finds anything wrong with, goes to the FastAPI app
unchanged (a body already read is handed on as it came), so every error answer keeps its single
implementation in :mod:`.app` and :mod:`.http`. The work done is the routes' own: the same jobs
through the same writer, the same answers.
"""

from __future__ import annotations

import json
import logging
from typing import TypeVar

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ackguard.fakes.consultations.errors import Answer, ApiError, error_body, json_answer
from ackguard.fakes.consultations.jobs import CreateConsultation, PatchConsultation
from ackguard.fakes.consultations.models import MAX_ID, ConsultationIn, ConsultationPatch
from ackguard.fakes.consultations.reads import ListQuery, get_consultation, list_consultations
from ackguard.fakes.consultations.service import Service

__all__ = ["FastPaths"]

log = logging.getLogger("fakes.consultations")

_COLLECTION = "/v1/consultations"
_ITEM_PREFIX = _COLLECTION + "/"
_LIST_RANGES = {
    b"practitioner_id": (1, MAX_ID),
    b"patient_id": (1, MAX_ID),
    b"cursor": (0, MAX_ID),
    b"limit": (1, 1000),
}
_JSON = b"application/json"
_MAX_KEY = 128
_ID_DIGITS = 18

M = TypeVar("M", ConsultationIn, ConsultationPatch)


class _Decline(Exception):
    """The fast path does not answer this request: FastAPI does."""


def _record_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > _ID_DIGITS:
        raise _Decline
    value = int(text)
    if not 1 <= value <= MAX_ID:
        raise _Decline
    return value


class FastPaths:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.max_body = service.config.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        body: bytes | None = None
        try:
            if method == "POST" and path == "/v1/consultations":
                body = await self._body(scope, receive)
                answer = await self._create(scope, body)
            elif method == "GET" and path.startswith(_ITEM_PREFIX):
                answer = await self._read(path[len(_ITEM_PREFIX) :])
            elif method == "GET" and path == _COLLECTION:
                answer = await self._list(_list_query(scope["query_string"]))
            elif method == "PATCH" and path.startswith(_ITEM_PREFIX):
                record_id = _record_id(path[len(_ITEM_PREFIX) :])
                body = await self._body(scope, receive)
                answer = await self._patch(record_id, body)
            else:
                raise _Decline
        except _Decline:
            await self.app(scope, receive if body is None else _replay(body, receive), send)
            return
        except ApiError as refused:
            answer = refused.answer()
        except Exception as exc:  # as the app's own handler does: logged, answered 500
            log.error("unexpected error", exc_info=exc)
            answer = Answer(500, error_body(f"internal error: {type(exc).__name__}"))
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    (b"content-type", _JSON),
                    (b"content-length", str(len(answer.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body of a JSON request within the cap; declines any other."""
        length: int | None = None
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if length is not None or not value.isdigit():
                    raise _Decline
                length = int(value)
            elif name == b"content-type":
                content_type = value
        if content_type != _JSON or length is None or not 0 < length <= self.max_body:
            raise _Decline
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nobody to answer
                raise _Decline
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        return b"".join(chunks)

    async def _create(self, scope: Scope, body: bytes) -> Answer:
        keys = [value for name, value in scope["headers"] if name == b"idempotency-key"]
        if len(keys) != 1 or not 1 <= len(keys[0]) <= _MAX_KEY:
            raise _Decline
        model = _validated(ConsultationIn, body)
        return await self.service.write(CreateConsultation(model, keys[0].decode("latin-1")))

    async def _patch(self, record_id: int, body: bytes) -> Answer:
        model = _validated(ConsultationPatch, body)
        return await self.service.write(PatchConsultation(record_id, model))

    async def _read(self, text: str) -> Answer:
        record_id = _record_id(text)
        service = self.service
        record = await service.read(lambda: get_consultation(service.read_engine, record_id))
        if record is None:
            raise ApiError(404, f"no consultation with id {text!r}", "id")
        return json_answer(200, record)

    async def _list(self, query: ListQuery) -> Answer:
        service = self.service
        page = await service.read(lambda: list_consultations(service.read_engine, query))
        return json_answer(200, {"items": page.items, "next_cursor": page.next_cursor})


def _list_query(raw: bytes) -> ListQuery:
    """The query of a listing, as the route reads it; declines anything but plain digits
    (percent-escapes, empty or repeated parameters, other names: the route's own answers)."""
    values: dict[bytes, int] = {}
    for pair in raw.split(b"&") if raw else ():
        name, equals, text = pair.partition(b"=")
        bounds = _LIST_RANGES.get(name)
        if bounds is None or not equals or name in values:
            raise _Decline
        if not text.isdigit() or len(text) > _ID_DIGITS:
            raise _Decline
        value = int(text)
        if not bounds[0] <= value <= bounds[1]:
            raise _Decline
        values[name] = value
    return ListQuery(
        practitioner_id=values.get(b"practitioner_id"),
        patient_id=values.get(b"patient_id"),
        after_id=values.get(b"cursor", 0),
        limit=values.get(b"limit", 100),
    )


def _validated(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate(json.loads(body))
    except (ValueError, ValidationError, RecursionError):  # JSON and UTF-8 errors are ValueErrors
        raise _Decline from None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the body already read to the app, then listens to the client."""
    pending = [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replayed
