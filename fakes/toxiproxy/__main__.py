"""``python -m ackguard.fakes.toxiproxy``: a Toxiproxy-compatible fault proxy on loopback.

Takes toxiproxy-server's flags as they are (``-host``, ``-port``, ``-config FILE``, ``-seed``,
``-version``; ``--flag`` and ``-flag=value`` spellings too), so that a script written for the real
server runs this one unchanged.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from ackguard.fakes.toxiproxy.api import VERSION
from ackguard.fakes.toxiproxy.server import ServerOptions, StartError, run_server

_EPILOG = """example:
  python -m ackguard.fakes.toxiproxy -port 8474 -seed 7 --ready-file /tmp/proxy.ready
  python -m ackguard.fakes.toxiproxy -host 127.0.0.1 -port 8474 -config proxies.json
  curl -s -XPOST localhost:8474/proxies -d '{"name":"pg","upstream":"127.0.0.1:5432"}'

Prints one JSON line once listening: {"url", "port", "pid", "seed"}.
The API and every proxy listen on loopback only unless --allow-non-loopback is given.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="ackguard proxy",
        description="Toxiproxy v2 HTTP API compatible fault proxy (see fakes/toxiproxy docs).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-host", "--host", default="127.0.0.1", help="API address")
    parser.add_argument("-port", "--port", type=int, default=8474, help="API port; 0 = a free one")
    parser.add_argument(
        "-seed", "--seed", type=int, default=None, help="seed of every random draw (default random)"
    )
    parser.add_argument(
        "-config", "--config", type=Path, help="populate file: a JSON list of proxies to create"
    )
    parser.add_argument("-version", "--version", action="store_true", help="print the version")
    for ignored in ("-proxy-metrics", "-runtime-metrics"):
        parser.add_argument(
            ignored, f"-{ignored}", action="store_true", help="accepted and ignored: no /metrics"
        )
    parser.add_argument("--ready-file", type=Path, help="write the ready JSON line here too")
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="let the API and proxies listen on non-loopback addresses (the API has no "
        "authentication: anyone who reaches it can expose local services)",
    )
    options = parser.parse_args(argv)
    if options.version:
        print(f"toxiproxy-server version {VERSION}")
        return
    if not 0 <= options.port <= 65535:
        parser.exit(2, f"ackguard proxy: -port {options.port}: not a port (0-65535)\n")
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    try:
        run_server(
            ServerOptions(
                host=options.host,
                port=options.port,
                seed=seed,
                ready_file=options.ready_file,
                config=options.config,
                allow_non_loopback=options.allow_non_loopback,
            )
        )
    except StartError as exc:
        print(f"ackguard proxy: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
