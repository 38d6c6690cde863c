"""A user's service as the tests of ``system.service`` start it: a tiny HTTP server on the port
given by the harness, with ``/health``, printing "listening on PORT" once it accepts.

    python user_server.py PORT [--exit-at-start CODE] [--never-listen] [--slow-health]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path in ("/health", "/") else 404
        body = json.dumps({"pid": os.getpid(), "path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--exit-at-start", type=int)
    parser.add_argument("--never-listen", action="store_true")
    args = parser.parse_args()
    print(f"user service starting, pid {os.getpid()}", flush=True)
    print(f"notes in {os.environ.get('NOTES_DIR', '-')}", flush=True)
    if args.exit_at_start is not None:
        print("fatal: cannot open the notes store", flush=True)
        sys.exit(args.exit_at_start)
    if args.never_listen:
        print("waiting for a lock that never comes", flush=True)
        time.sleep(300)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    print(f"listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
