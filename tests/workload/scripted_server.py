"""A raw-socket HTTP server whose answer is chosen by the URL: ``/mode/<mode>/...``.

Modes: ``201`` / ``200`` (a consultation record), ``409``, ``404``, ``500`` (a JSON error),
``hang`` (reads the request, never answers until released), ``close`` (reads the request, then
closes the connection without a byte), ``reset`` (reads the request, then resets the connection).
Every request read whole sets ``received`` so tests synchronise on it, not on sleeps.
"""

from __future__ import annotations

import json
import socket
import struct
import threading

RECORD = {
    "id": "41",
    "idempotency_key": "k",
    "practitioner_id": "1",
    "patient_id": "2",
    "started_at": "2026-01-05T08:00:00+01:00",
    "visit_reason": "Fièvre",
    "exam_report": None,
    "conclusion": None,
    "prescription": None,
    "version": 1,
    "created_at": "2026-01-05T07:00:00+00:00",
    "updated_at": "2026-01-05T07:00:00+00:00",
}
HANG_LIMIT_S = 30.0  # a hanging answer is released by stop() at the latest after this


class ScriptedServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.received = threading.Event()
        self.requests: list[str] = []
        self._release = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/mode/{mode}"

    def stop(self) -> None:
        self._release.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=HANG_LIMIT_S)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            while True:
                request_line = self._read_request(connection)
                if request_line is None:
                    return
                self.requests.append(request_line)
                self.received.set()
                mode = request_line.split(" ")[1].split("/")[2]
                if mode == "hang":
                    self._release.wait(HANG_LIMIT_S)
                    return
                if mode == "close":
                    return
                if mode == "reset":
                    connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    return
                status = int(mode)
                body = RECORD if status < 300 else {"error": f"scripted {status}", "field": None}
                raw = json.dumps(body).encode()
                head = (
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(raw)}\r\n\r\n"
                )
                connection.sendall(head.encode() + raw)

    @staticmethod
    def _read_request(connection: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            rest += chunk
        return lines[0]


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])
