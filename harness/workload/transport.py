"""How the built-in HTTP target sends one request: through the Locust user's client (so the call
is in Locust's statistics) or through a plain pooled client (setup, export, use outside Locust).

Both answer a :class:`Reply`: a status when an HTTP answer came back whole, or the transport
error. Neither retries on its own: a retry would hide an indeterminate outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3

from ackguard.harness.workload.target import Outcome, TargetContext, classify_error, classify_status

__all__ = [
    "LocustTransport",
    "PlainTransport",
    "Reply",
    "Transport",
    "classify_reply",
    "transport_for",
]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int | None
    body: bytes = b""
    error: BaseException | None = None

    def json(self) -> object:
        """The decoded body, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def describe(self) -> str:
        if self.error is not None:
            return describe_error(self.error)
        detail = self.json()
        message = detail.get("error") if isinstance(detail, dict) else None
        return f"HTTP {self.status}" + (f": {message}" if message else "")


def describe_error(error: BaseException) -> str:
    inner = getattr(error, "original", None) or error.__cause__ or error
    text = str(inner) or type(inner).__name__
    return f"{type(inner).__name__}: {text}"[:300]


class Transport(Protocol):
    def send(
        self,
        method: str,
        path: str,
        *,
        name: str,
        body: object = None,
        headers: dict[str, str] | None = None,
        success: frozenset[int] = frozenset(),
    ) -> Reply:
        """Send one request. ``name`` groups it in statistics; ``success`` lists non-2xx
        statuses that are an expected answer (a 404 for a read)."""
        ...


class LocustTransport:
    """Through a Locust ``FastHttpSession``: each request is reported to Locust as success when
    it was acknowledged (or expected), as failure otherwise."""

    def __init__(self, client: Any) -> None:
        from locust.contrib.fasthttp import LocustBadStatusCode  # locust is already imported here

        self._client = client
        self._bad_status = LocustBadStatusCode

    def send(
        self,
        method: str,
        path: str,
        *,
        name: str,
        body: object = None,
        headers: dict[str, str] | None = None,
        success: frozenset[int] = frozenset(),
    ) -> Reply:
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        all_headers = (
            {"Content-Type": "application/json", **(headers or {})} if payload else headers
        )
        with self._client.request(
            method, path, name=name, data=payload, headers=all_headers, catch_response=True
        ) as response:
            error = response.request_meta.get("exception")
            status = response.status_code or None
            if isinstance(error, self._bad_status):
                error = None  # an HTTP answer came back; its status speaks
            content = b""
            if status is not None and error is None:
                try:
                    content = response.content or b""
                except Exception as exc:  # the body was cut off: an indeterminate answer
                    error = exc
            reply = Reply(None if error is not None else status, content, error)
            if reply.status is not None and (200 <= reply.status < 300 or reply.status in success):
                response.success()
            else:
                response.failure(reply.describe())
        return reply


class PlainTransport:
    """Through a urllib3 pool, without retries; shared safely between threads."""

    def __init__(self, base_url: str, timeout_s: float, *, connections: int = 8) -> None:
        self._base_url = base_url.rstrip("/")
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=connections,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        name: str,
        body: object = None,
        headers: dict[str, str] | None = None,
        success: frozenset[int] = frozenset(),
    ) -> Reply:
        del name, success  # no statistics here
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        all_headers = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        try:
            response = self._pool.request(
                method, self._base_url + path, body=payload, headers=all_headers, retries=False
            )
        except Exception as exc:  # urllib3 wraps socket errors; classify_error reads the cause
            return Reply(None, b"", exc)
        return Reply(response.status, response.data or b"")

    def close(self) -> None:
        self._pool.clear()


def transport_for(context: TargetContext) -> Transport:
    """Locust's client when the target serves a Locust user, a plain pooled client otherwise."""
    if context.client is not None:
        return LocustTransport(context.client)
    return PlainTransport(context.base_url, context.timeout_s)


def classify_reply(reply: Reply) -> Outcome:
    """The outcome of one reply: by its status, or by its transport error."""
    if reply.error is not None or reply.status is None:
        return classify_error(reply.error) if reply.error is not None else "info"
    return classify_status(reply.status)
