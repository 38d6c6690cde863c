"""A Toxiproxy-compatible fault proxy, for machines without ``toxiproxy-server``.

``python -m fakes.toxiproxy [--host 127.0.0.1] [--port 8474] [--seed N] [--ready-file PATH]``
serves the Toxiproxy v2 HTTP API (``/proxies``, ``/populate``, ``/reset``, ``/version``, toxics
per proxy) with the same JSON shapes, status codes and named errors as the reference server
(v2.12.0), and proxies real TCP bytes through asyncio (uvloop) with a no-toxic fast path.

Toxics (one module each under ``toxics/``, listed in ``toxics.TOXICS``): ``latency``,
``bandwidth``, ``slow_close``, ``timeout``, ``reset_peer``, ``slicer``, ``limit_data``, ``noop``,
and two PostgreSQL-aware toxics for this project: ``pg_commit_ack_drop`` (a COMMIT goes through,
its answer never comes back) and ``cut`` (the connection is cut after a time or after N client
messages, i.e. mid-transaction).

Deliberate differences from the reference server:

- Attribute values a toxic cannot work with get a 400 naming the attribute (``invalid attribute
  rate: must be >= 1 (KB/s)``) instead of a hang or a crash: negative times and sizes,
  ``bandwidth.rate <= 0``, ``slicer.average_size = 0``, ``slicer.size_variation >=
  average_size``. Wrong JSON types are 400 ``bad request body`` as upstream.
- Everything listens on loopback: the API by default, and proxies whose ``listen`` is empty,
  omitted or a wildcard host (``0.0.0.0``, ``::``) bind ``127.0.0.1`` (upstream binds all
  interfaces).
- Every random draw (toxicity rolls, latency jitter, slicer split points) comes from a generator
  seeded from ``--seed``, the proxy, the connection's accept number, the direction, the toxic's
  name and its update count: the same run against the same traffic replays.
- Toxicity is rolled when a toxic is attached to a link (connection start, toxic added, toxic
  updated); changes to *other* toxics do not re-roll it.
- ``reset_peer`` always ends with a TCP RST when it fires, also on connections that started
  before it was added, and a toxic whose toxicity roll failed has no SO_LINGER side effect.
- Removing a toxic never blocks the API (upstream waits for a pending ``reset_peer``).
- The upstream is dialled asynchronously, so a black-holed upstream does not stop the proxy from
  accepting other clients. A failed dial still gives the client accept-then-EOF.
- No ``/metrics`` (404, as upstream without its metrics flags), no ``"Logger":{}`` member, no
  25 s handler timeout.
"""

from fakes.toxiproxy.api import VERSION, ToxiproxyApi
from fakes.toxiproxy.server import ServerOptions, StartError, run_server

__all__ = ["VERSION", "ServerOptions", "StartError", "ToxiproxyApi", "run_server"]
