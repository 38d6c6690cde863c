"""``python -m fakes.toxiproxy``: a Toxiproxy-compatible fault proxy on loopback."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from fakes.toxiproxy.server import run_server

_EPILOG = """example:
  python -m fakes.toxiproxy --port 8474 --seed 7 --ready-file /tmp/proxy.ready
  curl -s -XPOST localhost:8474/proxies -d '{"name":"pg","upstream":"127.0.0.1:5432"}'

Prints one JSON line once listening: {"url", "port", "pid", "seed"}.
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="ackguard proxy",
        description="Toxiproxy v2 HTTP API compatible fault proxy (see fakes/toxiproxy docs).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port; 0 = a free one")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of every random draw (default: random)"
    )
    parser.add_argument("--ready-file", type=Path, help="write the ready JSON line here too")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    run_server(options.host, options.port, seed, options.ready_file)


if __name__ == "__main__":
    main()
