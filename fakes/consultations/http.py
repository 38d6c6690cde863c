"""HTTP plumbing shared by the routes: the body-size cap, the error shape for FastAPI's own
errors (validation, unknown route), and JSON responses from :class:`Answer`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ackguard.fakes.consultations.errors import Answer, ApiError, error_body

__all__ = ["BodySizeLimit", "install_error_handlers", "respond", "validation_answer"]

log = logging.getLogger("fakes.consultations")

_NOT_AN_OBJECT = {"json_invalid", "model_attributes_type", "dict_type", "model_type"}


def respond(answer: Answer) -> Response:
    return Response(answer.body, answer.status, media_type="application/json")


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses a body over ``max_bytes`` with 413 before any route sees it (Content-Length
    checked up front; a chunked body is counted as it arrives)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(send)
                    return
                await self.app(scope, receive, send)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = error_body(f"the body is larger than {self.max_bytes} bytes")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def validation_answer(errors: Sequence[object]) -> Answer:
    """FastAPI's validation errors as ``{"error", "field"}``: 400 when the body is not a JSON
    object, 422 naming the first wrong field, header or query parameter otherwise."""
    first = errors[0] if errors else {}
    if not isinstance(first, dict):
        return Answer(422, error_body("invalid request"))
    kind = str(first.get("type", ""))
    location = [str(part) for part in first.get("loc", ())]
    source, path = (location[0], location[1:]) if location else ("body", [])
    field = ".".join(path) or None
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if source == "body" and (kind == "json_invalid" or (not path and kind in _NOT_AN_OBJECT)):
        return Answer(400, error_body(f"the body must be a JSON object ({message})"))
    if source == "body" and not path and kind == "missing":
        return Answer(400, error_body("a JSON object body is required"))
    if source == "body" and not path:
        return Answer(422, error_body(message))
    if kind == "extra_forbidden":
        return Answer(422, error_body(f"unknown field {field!r}", field))
    if kind == "missing":
        what = "header" if source == "header" else "field"
        return Answer(422, error_body(f"missing required {what} {field!r}", field))
    return Answer(422, error_body(f"{field}: {message}", field))


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return respond(exc.answer())

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return respond(validation_answer(exc.errors()))

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return Response(
            error_body(str(exc.detail)),
            exc.status_code,
            headers=exc.headers,
            media_type="application/json",
        )

    async def on_crash(_request: Request, exc: Exception) -> Response:
        log.error("unexpected error", exc_info=exc)
        return respond(Answer(500, error_body(f"internal error: {type(exc).__name__}")))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
