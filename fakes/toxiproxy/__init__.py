"""A Toxiproxy-compatible fault proxy, for machines without ``toxiproxy-server``.

``python -m ackguard.fakes.toxiproxy [-host 127.0.0.1] [-port 8474] [-seed N] [-config FILE]
[-version] [--ready-file PATH] [--allow-non-loopback]`` takes toxiproxy-server's flags as they are
(``--flag`` and ``-flag=value`` too), serves the Toxiproxy v2 HTTP API (``/proxies``, ``/populate``,
``/reset``, ``/version``, toxics per proxy) with the same JSON shapes, status codes and named errors
as the reference server (v2.12.0), and proxies real TCP bytes through asyncio (uvloop) with a
no-toxic fast path.

Toxics (one module each under ``toxics/``, listed in ``toxics.TOXICS``): ``latency``,
``bandwidth``, ``slow_close``, ``timeout``, ``reset_peer``, ``slicer``, ``limit_data``, ``noop``,
and two PostgreSQL-aware toxics for this project: ``pg_commit_ack_drop`` (a COMMIT goes through,
its answer never comes back) and ``cut`` (the connection is cut after a time or after N client
messages, i.e. mid-transaction).

DIVERGENCES: every deliberate difference from the reference server, in one place.

Bodies and attributes

- One validation of toxic bodies on create and update: attributes omitted, ``null`` or partial
  take Toxiproxy's default (0) and then the toxic's rules apply to the whole, so a value a toxic
  cannot work with never reaches a connection: a 400 naming the attribute (``invalid attribute
  rate: must be >= 1 (KB/s)``) instead of a hang or a crash. Refused: negative times and sizes,
  ``bandwidth.rate`` 0 (also when omitted), ``slicer.average_size`` 0 (also when omitted),
  ``slicer.size_variation >= average_size``, ``cut`` with neither limit, any attribute above
  2**31 - 1. Wrong JSON types are 400 ``bad request body`` as upstream.
- ``toxicity`` must be a finite number in [0, 1] (upstream stores any float32).
- ``NaN``, ``Infinity``, numbers longer than 32 characters and nesting deeper than 32 levels are
  400 ``bad request body`` (upstream: 400 for the first two, its own limits for the others; the
  built-in proxy used to answer 500). No answer ever holds invalid JSON.
- A malformed ``listen`` (no port, a port above 65535, a name that does not resolve) is a 400
  naming it; upstream answers 500. A listen address already in use is still a 500, as upstream.
- More than 100 request headers, or more than 64 KiB of them, is a 431 (a request line over
  64 KiB a 414); upstream allows 1 MB of headers.

Network

- Nothing listens beyond loopback unless the server is started with ``--allow-non-loopback`` (the
  API has no authentication: a listener on the network would expose whatever loopback service a
  proxy forwards to, e.g. a PostgreSQL cluster with trust authentication). Without it a
  non-loopback ``listen`` is a 400 naming the address (on create, update and populate), a
  non-loopback ``-host`` stops the start, and empty or wildcard hosts (``0.0.0.0``, ``::``) bind
  ``127.0.0.1``. With it, wildcards bind every interface, as upstream.
- The upstream is dialled asynchronously (its name resolved off the event loop), so a black-holed
  upstream does not stop the proxy from accepting other clients. A failed dial, also an upstream
  that cannot be resolved or has no valid port, closes the client at once (accept, then EOF), as
  upstream does.

Timing and randomness

- Every random draw (toxicity rolls, latency jitter, slicer split points) comes from a generator
  seeded from ``-seed``, the proxy, the connection's accept number, the direction, the toxic's
  name and its update count: the same run against the same traffic replays (upstream ignores
  ``-seed``).
- Toxicity is rolled when a toxic is attached to a link (connection start, toxic added, toxic
  updated); changes to *other* toxics do not re-roll it.
- Waits are kept to within tens of microseconds below 20 ms (the event loop's timers only
  resolve milliseconds; the rest of a short wait is polled, yielding to the loop), and the slicer's
  pauses are paced: a 64 KiB slicer of 64-byte pieces with ``delay: 200`` (us) takes about
  1023 x 200 us = 0.2 s. Upstream's Go timers oversleep here (1.18 s measured for that slicer).
- ``reset_peer`` always ends with a TCP RST when it fires, also on connections that started
  before it was added, and a toxic whose toxicity roll failed has no SO_LINGER side effect.
  Updating or removing a ``reset_peer`` or ``slow_close`` toxic while it waits ends the wait at
  once (the reset or the close happens now); removing a toxic never blocks the API (upstream
  waits for a pending ``reset_peer``).

Command line and extras

- ``-config FILE`` that cannot be read or populated stops the start with one line on stderr and
  exit code 1 (upstream logs the error and serves without the proxies); so does a busy port
  (upstream: a log line and exit 1). ``-version`` prints ``toxiproxy-server version
  2.12.0-ackguard``; ``-proxy-metrics`` and ``-runtime-metrics`` are accepted and ignored.
- ``GET /ackguard/toxic-types`` lists the toxic types this server has (with their attributes);
  a real Toxiproxy answers 404 there, which is how the harness tells the two apart before a run.
- No ``/metrics`` (404, as upstream without its metrics flags), no ``"Logger":{}`` member, no
  25 s handler timeout; ``/version`` answers ``2.12.0-ackguard``.
"""

from ackguard.fakes.toxiproxy.api import VERSION, ToxiproxyApi
from ackguard.fakes.toxiproxy.server import ServerOptions, StartError, run_server

__all__ = ["VERSION", "ServerOptions", "StartError", "ToxiproxyApi", "run_server"]
