"""A tiny HTTP server run as a child process by the tests of ManagedProcess and the service
faults. It writes one JSON ready line like the consultation service does.

    python child_server.py --ready-file F [--grandchild] [--exit-early CODE] [--never-ready]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--exit-early", type=int)
    parser.add_argument("--never-ready", action="store_true")
    args = parser.parse_args()
    print("child server starting", flush=True)
    if args.exit_early is not None:
        print("boom: the configuration is missing", flush=True)
        sys.exit(args.exit_early)
    if args.never_ready:
        time.sleep(300)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    ready: dict[str, object] = {"url": f"http://127.0.0.1:{port}", "port": port, "pid": os.getpid()}
    if args.grandchild:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        ready["grandchild"] = sleeper.pid
    line = json.dumps(ready)
    print(line, flush=True)
    partial = args.ready_file + ".tmp"
    with open(partial, "w", encoding="utf-8") as ready_file:
        ready_file.write(line + "\n")
    os.replace(partial, args.ready_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
