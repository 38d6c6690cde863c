"""``python -m ackguard.fakes.consultations``: serve the consultation API on 127.0.0.1.

Once listening it prints ONE JSON line on stdout, ``{"url", "port", "pid", "admin_token"}``, and
writes the same line to ``--ready-file`` (written to a temporary file and renamed, so a reader
never sees half a line). SIGTERM (or Ctrl-C) stops cleanly: requests in flight are answered,
deferred writes are committed. Exit codes: 0 clean stop, 2 bad arguments or defect spec, 3 the
database could not be prepared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ackguard.fakes.consultations.database import DatabaseSettings
from ackguard.fakes.consultations.defects import (
    DEFECTS,
    DefectSpecError,
    parse_cli_spec,
    parse_entries,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["ADMIN_TOKEN_VARIABLE", "main"]

ADMIN_TOKEN_VARIABLE = "ACKGUARD_ADMIN_TOKEN"

log = logging.getLogger("fakes.consultations")

_EPILOG = """\
defects (each optionally scoped to a cohort and a wall-clock window):
{defects}

examples:
  python -m ackguard.fakes.consultations --db sqlite:///consultations.db --port 8080
  python -m ackguard.fakes.consultations \\
      --db postgresql+psycopg://postgres@127.0.0.1:5432/ackguard \\
      --defect silent_truncation \\
      --defect '{{"name": "lost_observations", "cohort": {{"fraction": 0.013}}}}'
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/admin/defects
"""


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(
        f"  {kind.name}: {kind.summary}"
        + "".join(f"\n      {name}: {doc}" for name, doc in kind.params_doc.items())
        for kind in DEFECTS.values()
    )
    parser = argparse.ArgumentParser(
        prog="ackguard serve",
        description="EHR-like consultation service under test, with switchable defects.",
        epilog=_EPILOG.format(defects=listing),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default="sqlite:///consultations.db", help="SQLAlchemy URL")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--defect", action="append", default=[], metavar="SPEC",
        help='a defect name or a JSON entry {"name", "params", "cohort", "window"}; repeatable',
    )  # fmt: skip
    parser.add_argument("--ready-file", type=Path, help="also write the ready line here")
    parser.add_argument(
        "--admin-token",
        help="bearer token of /admin (default: $ACKGUARD_ADMIN_TOKEN, else random; the "
        "variable keeps it out of the process list)",
    )
    parser.add_argument(
        "--request-timeout", type=float, default=5.0, metavar="S",
        help="no request waits longer than this for the database (default 5)",
    )  # fmt: skip
    parser.add_argument(
        "--busy-timeout-ms", type=int, default=1000,
        help="SQLite: how long a write waits for a lock held by another connection",
    )  # fmt: skip
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser


def _write_ready(line: str, path: Path | None) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if path is not None:
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(line + "\n", encoding="utf-8")
        os.replace(partial, path)


def _quiet_exit_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that, after a graceful stop on SIGTERM/SIGINT, exits 0 instead of
    re-raising the signal (a clean stop is a success for whoever started the service)."""

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

    return Server(config)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        defects = parse_entries([parse_cli_spec(spec) for spec in args.defect], "--defect")
    except DefectSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.request_timeout <= 0:
        print("error: --request-timeout must be positive", file=sys.stderr)
        return 2
    # Imported here: the web stack is heavy and --help should stay fast.
    import uvicorn
    import uvloop

    from ackguard.fakes.consultations.app import create_app
    from ackguard.fakes.consultations.fast import FastPaths
    from ackguard.fakes.consultations.service import Service, ServiceConfig
    from ackguard.fakes.consultations.wire import CoalescingHttpTools

    token = args.admin_token or os.environ.get(ADMIN_TOKEN_VARIABLE) or secrets.token_hex(16)
    settings = DatabaseSettings(args.db, args.request_timeout, args.busy_timeout_ms)
    service = Service(ServiceConfig(settings, token, defects))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", args.port))
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 2
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        FastPaths(create_app(service), service),
        loop="uvloop",
        http=CoalescingHttpTools,
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # no proxy in front: the peer is the client (and one wrapper less)
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    server = _quiet_exit_server(config)
    ready = json.dumps(
        {"url": f"http://127.0.0.1:{port}", "port": port, "pid": os.getpid(), "admin_token": token}
    )

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            _write_ready(ready, args.ready_file)
            log.info("listening on 127.0.0.1:%d (db %s)", port, settings.parsed.render_as_string())
        await task

    uvloop.run(serve())
    return 0 if server.started else 3
