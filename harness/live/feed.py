"""The workers' ops for the live parts of a run with ``--workers``.

With workers, the practitioners' ops are not recorded in the harness's history while the load
runs but in the workers' history shards in the run directory (``history.worker-K.jsonl``: a
local worker writes its own, the harness appends what a remote worker streams to it), merged
into ``history.jsonl`` at the end. A :class:`ShardFeed` follows those files as they grow and
hands every new op to its listeners, the same ones the harness's history has (the live
verifier's and the stop conditions'), so they see the practitioners' ops with workers too,
a poll (:data:`POLL_S`) later, plus up to half a second of streaming for a remote worker.

:meth:`ShardFeed.caught_up` says whether every op of every shard up to a history time has been
handed on. A shard's ops are in time order, so a shard is known up to the time of the last op
read from it (and not at all before its first): the live verifier holds back a read-back that
looks corrupt until the feed has caught up with its completion, as a write a worker invoked
just before then could allow the value it read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import gevent
import orjson

from ackguard.harness.history import Op
from ackguard.harness.shards import shard_path

__all__ = ["POLL_S", "ShardFeed"]

POLL_S = 0.1
_READ_BYTES = 1 << 20


class _Shard:
    """One shard file followed from its start: the bytes of a line still being written wait."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1
        self.partial = b""
        self.last_time: int | None = None

    def new_lines(self) -> list[bytes]:
        if self.fd < 0:
            try:
                self.fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:  # not written yet (or merged already)
                return []
        chunks = [self.partial]
        while chunk := os.read(self.fd, _READ_BYTES):
            chunks.append(chunk)
        data = b"".join(chunks)
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        return data[:end].splitlines()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class ShardFeed:
    """Follows the ``shards`` history shards of ``run_dir`` (workers 0 to ``shards`` - 1)."""

    def __init__(self, run_dir: Path, shards: int) -> None:
        self._shards = [_Shard(shard_path(run_dir, k)) for k in range(shards)]
        self._listeners: list[Callable[[Op], None]] = []
        self._first: Callable[[Op], None] | None = None
        self._poller: gevent.Greenlet | None = None
        self.ops = 0
        """Ops handed on so far."""

    def listen(self, listener: Callable[[Op], None]) -> None:
        """Call ``listener`` with every op of the workers read from now on (in each shard's
        order; shards interleave as they are read)."""
        self._listeners.append(listener)

    def listen_first(self, listener: Callable[[Op], None]) -> None:
        """Call ``listener`` once, with the first op read, before the other listeners."""
        self._first = listener

    def start(self) -> None:
        self._poller = gevent.spawn(self._poll_forever)

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.kill(block=True, timeout=5)
            self._poller = None
        for shard in self._shards:
            shard.close()

    def caught_up(self, time_ns: int) -> bool:
        """Every shard's ops up to ``time_ns`` (history time) have been handed on."""
        return all(s.last_time is not None and s.last_time >= time_ns for s in self._shards)

    def poll(self) -> None:
        """Read what the shards gained since the last poll and hand it on."""
        for shard in self._shards:
            for line in shard.new_lines():
                try:
                    op = Op.from_json(orjson.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # a damaged line: the verifiers say it, from the merged history
                shard.last_time = op.time
                self.ops += 1
                if self._first is not None:
                    first, self._first = self._first, None
                    first(op)
                for listener in self._listeners:
                    listener(op)

    def _poll_forever(self) -> None:
        while True:
            self.poll()
            gevent.sleep(POLL_S)
