"""The API's named errors: the same statuses and texts as the reference server's."""

from __future__ import annotations

__all__ = [
    "ApiError",
    "bad_request_body",
    "invalid_attribute",
    "invalid_stream",
    "invalid_toxic_type",
    "missing_field",
    "proxy_already_exists",
    "proxy_not_found",
    "toxic_already_exists",
    "toxic_not_found",
]


class ApiError(Exception):
    """An answer other than success: ``{"error": message, "status": status}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request_body(detail: str) -> ApiError:
    return ApiError(400, f"bad request body: {detail}")


def missing_field(field: str) -> ApiError:
    return ApiError(400, f"missing required field: {field}")


def proxy_not_found() -> ApiError:
    return ApiError(404, "proxy not found")


def proxy_already_exists() -> ApiError:
    return ApiError(409, "proxy already exists")


def invalid_stream() -> ApiError:
    return ApiError(400, "stream was invalid, can be either upstream or downstream")


def invalid_toxic_type() -> ApiError:
    return ApiError(400, "invalid toxic type")


def toxic_already_exists() -> ApiError:
    return ApiError(409, "toxic already exists")


def toxic_not_found() -> ApiError:
    return ApiError(404, "toxic not found")


def invalid_attribute(attribute: str, message: str) -> ApiError:
    """Not in the reference server (it hangs or crashes on such values): a 400 naming it."""
    return ApiError(400, f"invalid attribute {attribute}: {message}")
