"""Cabinet: a small notes service of a medical practice, standard library only.

Its own API and storage (a SQLite file), nothing shared with ackguard:

    GET   /health                                            -> 200 {"status": "ok"}
    POST  /notes      X-Request-Id: <id>                     -> 201 {"note": {...}}
          {"author", "patient", "seen_at", "motif", "examen", "conclusion", "ordonnance"}
          (the same X-Request-Id again answers the note it made, 200)
    PATCH /notes/<uuid>   {"motif"?, "examen"?, "conclusion"?, "ordonnance"?}
                                                             -> 200 {"note": {...}} | 404
    GET   /notes/<uuid>                                      -> 200 {"note": {...}} | 404
    GET   /notes?after=<seq>&limit=<n>              -> 200 {"notes": [...], "next": <seq> | null}

A note is ``{uuid, request_id, author, patient, seen_at, motif, examen, conclusion, ordonnance,
rev}``. With ``--write-behind`` the service answers a write as soon as it is in memory and writes
its buffer to the file every 300 ms: fast, and a SIGKILL loses the notes acknowledged since the
last flush (SIGTERM flushes first). Without it every write is committed before the answer.

    python3 service.py --port 8000 --db cabinet.db [--write-behind]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECTIONS = ("motif", "examen", "conclusion", "ordonnance")
COLUMNS = ("uuid", "request_id", "author", "patient", "seen_at", *SECTIONS, "rev")
FLUSH_EVERY_S = 0.3
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE, request_id TEXT NOT NULL UNIQUE, author TEXT NOT NULL,
    patient TEXT NOT NULL, seen_at TEXT NOT NULL, {", ".join(f"{s} TEXT" for s in SECTIONS)},
    rev INTEGER NOT NULL)
"""
Note = dict[str, Any]


class Store:
    """The notes: in SQLite, plus (write-behind) a buffer of notes not yet written."""

    def __init__(self, path: str, *, write_behind: bool) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)
        self.write_behind = write_behind
        self.lock = threading.Lock()
        self.pending: dict[str, Note] = {}  # uuid -> note, acknowledged but not on disk

    def create(self, request_id: str, body: dict[str, Any]) -> tuple[Note, bool]:
        with self.lock:
            existing = self._find("request_id", request_id)
            if existing is not None:
                return existing, False
            note = {"uuid": str(uuid.uuid4()), "request_id": request_id, "rev": 1}
            note.update({k: body.get(k) for k in ("author", "patient", "seen_at", *SECTIONS)})
            self._save(note)
            return note, True

    def update(self, note_uuid: str, changes: dict[str, Any]) -> Note | None:
        with self.lock:
            note = self._find("uuid", note_uuid)
            if note is None:
                return None
            note = {**note, **{k: changes[k] for k in SECTIONS if k in changes}}
            note["rev"] += 1
            self._save(note)
            return note

    def get(self, note_uuid: str) -> Note | None:
        with self.lock:
            return self._find("uuid", note_uuid)

    def page(self, after: int, limit: int) -> tuple[list[Note], int | None]:
        self.flush()  # an export sees everything acknowledged so far
        with self.lock:
            rows = self.db.execute(
                f"SELECT seq, {', '.join(COLUMNS)} FROM notes WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        notes = [dict(zip(COLUMNS, row[1:], strict=True)) for row in rows]
        return notes, (rows[-1][0] if len(rows) == limit else None)

    def flush(self) -> None:
        with self.lock:
            notes, self.pending = list(self.pending.values()), {}
            if notes:
                self._write(notes)

    def _find(self, column: str, value: str) -> Note | None:
        for note in self.pending.values():
            if note[column] == value:
                return dict(note)
        row = self.db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM notes WHERE {column} = ?", (value,)
        ).fetchone()
        return None if row is None else dict(zip(COLUMNS, row, strict=True))

    def _save(self, note: Note) -> None:
        if self.write_behind:
            self.pending[note["uuid"]] = note
        else:
            self._write([note])

    def _write(self, notes: list[Note]) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*SECTIONS, "rev"))
        self.db.execute("BEGIN")
        self.db.executemany(
            f"INSERT INTO notes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT(uuid) DO UPDATE SET {updates}",
            [tuple(n[c] for c in COLUMNS) for n in notes],
        )
        self.db.execute("COMMIT")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Content-Length on every answer
    store: Store

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            return self._send(200, {"status": "ok"})
        if url.path == "/notes":
            query = parse_qs(url.query)
            after = int(query.get("after", ["0"])[0] or 0)
            limit = min(int(query.get("limit", ["500"])[0]), 1000)
            notes, following = self.store.page(after, limit)
            return self._send(200, {"notes": notes, "next": following})
        note = self.store.get(url.path.removeprefix("/notes/"))
        self._send(*((200, {"note": note}) if note else (404, {"error": "no such note"})))

    def do_POST(self) -> None:
        body, request_id = self._body(), self.headers.get("X-Request-Id")
        missing = [k for k in ("author", "patient", "seen_at") if not body.get(k)]
        if self.path != "/notes" or not request_id or missing:
            return self._send(400, {"error": f"need X-Request-Id and {', '.join(missing)}"})
        note, created = self.store.create(request_id, body)
        self._send(201 if created else 200, {"note": note})

    def do_PATCH(self) -> None:
        note = self.store.update(self.path.removeprefix("/notes/"), self._body())
        self._send(*((200, {"note": note}) if note else (404, {"error": "no such note"})))

    def _body(self) -> dict[str, Any]:
        data = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or "{}")
        return data if isinstance(data, dict) else {}

    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the service's log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="the SQLite file")
    parser.add_argument("--write-behind", action="store_true", help="flush every 300 ms")
    args = parser.parse_args()
    store = Store(args.db, write_behind=args.write_behind)
    Handler.store = store
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    stopping = threading.Event()

    def flusher() -> None:
        while not stopping.wait(FLUSH_EVERY_S):
            store.flush()

    def stop(*_: object) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.write_behind:
        threading.Thread(target=flusher, daemon=True).start()
    print(f"cabinet on 127.0.0.1:{args.port} (write-behind: {args.write_behind})", flush=True)
    try:
        server.serve_forever()
    finally:
        store.flush()
    sys.exit(0)


if __name__ == "__main__":
    main()
