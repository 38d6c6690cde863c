"""Answers and errors: every error the service sends is JSON ``{"error": str, "field": str|null}``.

Status codes: 400 a body that is not a JSON object (malformed JSON, an array, the wrong
content type); 422 a well-formed request whose field, header or query parameter is wrong (unknown,
missing, wrong type, too long, unknown practitioner or patient); 404 an unknown id in the path;
409 an Idempotency-Key reused with another body; 413 a body over the size cap; 401/403 admin
access; 503 the database is unavailable (nothing is known to be written).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import to_json

__all__ = ["Answer", "ApiError", "error_body", "json_answer", "unavailable"]


@dataclass(frozen=True)
class Answer:
    """What goes back to the client: status and serialized JSON."""

    status: int
    body: bytes


class ApiError(Exception):
    """A request refused before anything was written."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def answer(self) -> Answer:
        return Answer(self.status, error_body(self.message, self.field))


def error_body(message: str, field: str | None = None) -> bytes:
    return to_json({"error": message, "field": field})


def json_answer(status: int, payload: object) -> Answer:
    return Answer(status, to_json(payload))


def unavailable(reason: str) -> Answer:
    return Answer(503, error_body(f"database unavailable: {reason}"))
