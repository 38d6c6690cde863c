"""A minimal server of the reference consultation API on a SQLite file, for the workload tests.

Real sockets, real SQLite, one thread per connection. ``flaky_every`` makes every n-th create
commit and then answer 500, and ``slow_every`` makes every n-th update commit and then answer only
after ``slow_s`` seconds, so that tests see indeterminate outcomes whose writes did take effect.
:meth:`ReferenceServer.stop` cuts every open connection, as a restarted service would.
Run as ``python -m tests.workload.reference_server --db PATH`` it prints one JSON line
``{"url": ...}`` once listening.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import socket
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIELDS = ("visit_reason", "exam_report", "conclusion", "prescription")
COLUMNS = (
    "id, idempotency_key, practitioner_id, patient_id, started_at, visit_reason, exam_report, "
    "conclusion, prescription, version, created_at, updated_at"
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS practitioners (id INTEGER PRIMARY KEY, name, specialty, rpps);
CREATE TABLE IF NOT EXISTS patients (id INTEGER PRIMARY KEY, name, birth_date, national_id);
CREATE TABLE IF NOT EXISTS consultations (
  id INTEGER PRIMARY KEY, idempotency_key TEXT UNIQUE, body TEXT, practitioner_id, patient_id,
  started_at, visit_reason, exam_report, conclusion, prescription, version, created_at, updated_at);
"""


class ReferenceServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins the connection threads

    def __init__(
        self,
        db: Path,
        *,
        port: int = 0,
        flaky_every: int = 0,
        slow_every: int = 0,
        slow_s: float = 0.0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()
        self.creates = itertools.count(1)
        self.updates = itertools.count(1)
        self.connections: set[socket.socket] = set()
        self.flaky_every, self.slow_every, self.slow_s = flaky_every, slow_every, slow_s
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> ReferenceServer:
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        return self

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients that hang up are normal
            super().handle_error(request, client_address)

    def stop(self) -> None:
        self.shutdown()
        with self.lock:
            for connection in list(self.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.db.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ReferenceServer

    def log_message(self, format: str, *args: object) -> None:
        del format, args

    def do_POST(self) -> None:
        body = self._body()
        path = urlsplit(self.path).path
        if path in ("/v1/practitioners", "/v1/patients"):
            table, columns = (
                ("practitioners", ("name", "specialty", "rpps"))
                if path == "/v1/practitioners"
                else ("patients", ("name", "birth_date", "national_id"))
            )
            with self.server.lock:
                cursor = self.server.db.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES (?, ?, ?)",
                    [body.get(c) for c in columns],
                )
            self._send(201, {"id": str(cursor.lastrowid), **{c: body.get(c) for c in columns}})
        elif path == "/v1/consultations":
            self._create(body)
        else:
            self._send(404, {"error": "no such route", "field": None})

    def _create(self, body: dict[str, object]) -> None:
        key = self.headers.get("Idempotency-Key")
        if not key:
            self._send(400, {"error": "Idempotency-Key is required", "field": "Idempotency-Key"})
            return
        canonical = json.dumps(body, sort_keys=True)
        now = datetime.now(UTC).isoformat()
        with self.server.lock:
            found = self.server.db.execute(
                "SELECT id, body FROM consultations WHERE idempotency_key = ?", [key]
            ).fetchone()
            if found is not None:
                if found[1] != canonical:
                    self._send(
                        409, {"error": "idempotency key reused with another body", "field": None}
                    )
                else:
                    self._send(200, self._record(found[0]))
                return
            cursor = self.server.db.execute(
                "INSERT INTO consultations (idempotency_key, body, practitioner_id, patient_id, "
                "started_at, visit_reason, exam_report, conclusion, prescription, version, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                [
                    key,
                    canonical,
                    str(body["practitioner_id"]),
                    str(body["patient_id"]),
                    body["started_at"],
                    *[body.get(f) for f in FIELDS],
                    now,
                    now,
                ],
            )
            record = self._record(cursor.lastrowid)
        if self.server.flaky_every and next(self.server.creates) % self.server.flaky_every == 0:
            self._send(500, {"error": "committed, then failed to answer", "field": None})
            return
        self._send(201, record)

    def do_PATCH(self) -> None:
        body = self._body()
        record_id = urlsplit(self.path).path.rsplit("/", 1)[-1]
        fields = {name: body[name] for name in FIELDS if name in body}
        if not fields:
            self._send(400, {"error": "no observation field", "field": None})
            return
        with self.server.lock:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            cursor = self.server.db.execute(
                f"UPDATE consultations SET {assignments}, version = version + 1, updated_at = ? "
                "WHERE id = ?",
                [*fields.values(), datetime.now(UTC).isoformat(), record_id],
            )
            if cursor.rowcount == 0:
                self._send(404, {"error": "unknown consultation", "field": "id"})
                return
            record = self._record(record_id)
        if self.server.slow_every and next(self.server.updates) % self.server.slow_every == 0:
            time.sleep(self.server.slow_s)  # committed; the answer comes after the client gave up
        self._send(200, record)

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        if split.path == "/health":
            self._send(200, {"status": "ok"})
            return
        if split.path.startswith("/v1/consultations/"):
            with self.server.lock:
                record = self._record(split.path.rsplit("/", 1)[-1])
            if record is None:
                self._send(404, {"error": "unknown consultation", "field": "id"})
            else:
                self._send(200, record)
            return
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        limit = int(query.get("limit", "100"))
        where, params = ["id > ?"], [int(query.get("cursor", "0"))]
        for name in ("practitioner_id", "patient_id"):
            if name in query:
                where.append(f"{name} = ?")
                params.append(query[name])  # type: ignore[arg-type]
        with self.server.lock:
            rows = self.server.db.execute(
                f"SELECT {COLUMNS} FROM consultations WHERE {' AND '.join(where)} "
                "ORDER BY id LIMIT ?",
                [*params, limit + 1],
            ).fetchall()
        items = [_as_record(row) for row in rows[:limit]]
        cursor = items[-1]["id"] if len(rows) > limit else None
        self._send(200, {"items": items, "next_cursor": cursor})

    def _record(self, record_id: object) -> dict[str, object] | None:
        row = self.server.db.execute(
            f"SELECT {COLUMNS} FROM consultations WHERE id = ?", [record_id]
        ).fetchone()
        return None if row is None else _as_record(row)

    def _body(self) -> dict[str, object]:
        length = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(length) or b"{}")
        return data if isinstance(data, dict) else {}

    def _send(self, status: int, payload: object) -> None:
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): the write stays committed


def _as_record(row: tuple[object, ...]) -> dict[str, object]:
    record = dict(zip([c.strip() for c in COLUMNS.split(",")], row, strict=True))
    for name in ("id", "practitioner_id", "patient_id"):
        record[name] = str(record[name])
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--flaky-every", type=int, default=0)
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--slow-s", type=float, default=0.0)
    args = parser.parse_args()
    server = ReferenceServer(
        args.db,
        port=args.port,
        flaky_every=args.flaky_every,
        slow_every=args.slow_every,
        slow_s=args.slow_s,
    )
    print(json.dumps({"url": server.url}), flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
