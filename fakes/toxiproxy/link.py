"""One direction of one proxied connection: reads from a source socket, passes the chunks through
the chain of toxic stages, writes them to the destination socket.

With no toxic on the link, bytes are written straight from the read callback to the other socket
(the fast path: no task, no queue). With toxics, chunks queue up and one task per link carries
them through the stages in order; a stage may wait, split, drop or end the stream. When the last
toxic goes and the queue is empty, the link is back on the fast path.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ackguard.fakes.toxiproxy.toxics import Chunk, Stage, ToxicType

if TYPE_CHECKING:
    from ackguard.fakes.toxiproxy.connection import Connection

__all__ = ["Link", "ToxicConfig", "stream_seed"]

_QUEUE_CHUNKS = 1024  # the reference server buffers 1024 chunks in front of a latency stage
_QUEUE_BYTES = 16 * 1024 * 1024
_TIMER_SLACK_S = 0.0015  # a loop timer may fire up to ~1 ms late; the rest of a wait is polled
_PACE_CARRY_S = 0.002  # how late a paced wait may start and still be counted from the last due
_POLL_BELOW_S = 0.02  # longer waits use the timer alone (1 ms is < 5 % of them): no busy CPU


@dataclass(slots=True)
class ToxicConfig:
    """A toxic as configured on a proxy. ``revision`` counts updates (toxicity is re-rolled)."""

    name: str
    kind: type[ToxicType]
    stream: str  # as the client spelled it
    direction: str  # "upstream" | "downstream"
    toxicity: float
    values: dict[str, int]
    revision: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class _Context:
    """A stage's view of its link (implements toxics.StageContext)."""

    def __init__(self, link: Link, toxic: ToxicConfig, rng: random.Random, fresh: bool) -> None:
        self._link = link
        self._toxic = toxic
        self.rng = rng
        self.direction = link.direction
        self.fresh = fresh
        self.persistent = link.persistent.setdefault(toxic.name, {})
        self.shared = link.connection.shared.setdefault(toxic.name, {})
        self.counters = toxic.counters
        self.seq = 0
        self._waiters: set[asyncio.Future[bool]] = set()
        self.interrupted = False
        self._paced_due = -1.0

    async def sleep(
        self, seconds: float, *, interruptible: bool = True, paced: bool = False
    ) -> bool:
        if interruptible and self.interrupted:
            return True
        if seconds <= 0:
            return False
        now = time.perf_counter()
        due = now + seconds
        if paced:
            # Consecutive pauses are counted from where the previous one was due, so the time
            # spent sending between them (and a late wake-up) does not add up.
            if 0 <= now - self._paced_due < _PACE_CARRY_S:
                due = self._paced_due + seconds
            self._paced_due = due
            if due <= now:
                return False
            seconds = due - now
        coarse = seconds if seconds >= _POLL_BELOW_S else seconds - _TIMER_SLACK_S
        if coarse > 0:
            if not interruptible:
                await asyncio.sleep(coarse)
            elif await self._timer(coarse):
                return True
        # The event loop's timers are only millisecond-accurate (under uvloop a sub-millisecond
        # sleep returns at once): wait out the rest yielding to the loop, so that the API and
        # other links keep running. Bounded by ``due``.
        while time.perf_counter() < due:
            await asyncio.sleep(0)
            if interruptible and self.interrupted:
                return True
        return False

    async def _timer(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        handle = loop.call_later(seconds, _resolve, waiter, False)
        self._waiters.add(waiter)
        try:
            return await waiter
        finally:
            handle.cancel()
            self._waiters.discard(waiter)

    def interrupt(self) -> None:
        self.interrupted = True
        for waiter in self._waiters:
            _resolve(waiter, True)

    def close_downstream_of_me(self) -> None:
        self._link.end_after(self.seq)

    def cut(self) -> None:
        self._link.connection.close(reset=False)

    def reset(self) -> None:
        self._link.connection.close(reset=True)

    def call_later(self, seconds: float, callback: object) -> object:
        assert callable(callback)
        return asyncio.get_running_loop().call_later(seconds, callback)


def _resolve(waiter: asyncio.Future[bool], value: bool) -> None:
    if not waiter.done():
        waiter.set_result(value)


@dataclass(slots=True)
class _Slot:
    toxic: ToxicConfig
    stage: Stage
    context: _Context
    seq: int


class _Out:
    """What the stage at position ``seq`` sends into: the next stage, or the socket."""

    __slots__ = ("_link", "_seq")

    def __init__(self, link: Link, seq: int) -> None:
        self._link = link
        self._seq = seq

    async def data(self, chunk: Chunk) -> None:
        await self._link.deliver(self._seq, chunk)

    async def eof(self) -> None:
        await self._link.deliver_eof(self._seq)


class Link:
    """Bytes of one direction. ``source``/``dest`` are transports set by the connection."""

    def __init__(self, connection: Connection, direction: str) -> None:
        self.connection = connection
        self.direction = direction
        self.source: asyncio.Transport | None = None
        self.dest: asyncio.Transport | None = None
        self.persistent: dict[str, dict[str, int]] = {}
        self.bytes_read = 0
        self.done = False  # the end of stream reached the destination (or the link was cut)
        self._ending = False  # an end of stream is on its way: later data is dropped
        self._slots: list[_Slot] = []
        self._next_seq = 0
        self._queue: deque[Chunk | None] = deque()
        self._queued_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._dest_blocked = False
        self._queue_full = False
        self._drained: asyncio.Event | None = None
        self._paused = False

    # -- reading side (called from the source's protocol) --------------------------------------

    def feed(self, data: bytes) -> None:
        self.bytes_read += len(data)
        if self._ending or self.done:
            return
        dest = self.dest
        if not self._slots and self._task is None and not self._queue and dest is not None:
            dest.write(data)  # fast path
            return
        self._queue.append(Chunk(data, time.monotonic()))
        self._queued_bytes += len(data)
        if len(self._queue) >= _QUEUE_CHUNKS or self._queued_bytes >= _QUEUE_BYTES:
            self._queue_full = True
            self._update_reading()
        self._kick()

    def feed_eof(self) -> None:
        if self._ending or self.done:
            return
        self._ending = True
        if not self._slots and self._task is None and not self._queue:
            self.connection.link_finished(self)
            return
        self._queue.append(None)
        self._kick()

    def connected(self) -> None:
        """The destination is now connected: send what queued while it was dialled."""
        self._kick()

    # -- writing side (called from the destination's protocol) ---------------------------------

    def dest_blocked(self, blocked: bool) -> None:
        self._dest_blocked = blocked
        if not blocked and self._drained is not None:
            self._drained.set()
        self._update_reading()

    def _update_reading(self) -> None:
        want_pause = self._dest_blocked or self._queue_full
        source = self.source
        if source is None or want_pause == self._paused or source.is_closing():
            return
        self._paused = want_pause
        if want_pause:
            source.pause_reading()
        else:
            source.resume_reading()

    # -- the chain ------------------------------------------------------------------------------

    def attach(self, toxic: ToxicConfig, seed: str, *, replace: bool = False) -> None:
        """Put ``toxic`` in the chain (at the end, or in place of its previous version)."""
        old = next((slot for slot in self._slots if slot.toxic.name == toxic.name), None)
        seq = old.seq if (replace and old is not None) else self._next_seq
        self._next_seq += 1
        rng = random.Random(seed)
        context = _Context(self, toxic, rng, fresh=self.bytes_read == 0)
        context.seq = seq
        active = rng.random() < toxic.toxicity
        stage = toxic.kind.make_stage(toxic.values, context) if active else Stage({}, context)
        slot = _Slot(toxic, stage, context, seq)
        if old is not None and replace:
            self._slots[self._slots.index(old)] = slot
            self._retire(old)
        else:
            self._slots.append(slot)
        stage.started()

    def detach(self, name: str) -> None:
        slot = next((slot for slot in self._slots if slot.toxic.name == name), None)
        if slot is None:
            return
        self._slots.remove(slot)
        self._retire(slot)
        if slot.toxic.kind.closes_on_remove:
            self.end_after(slot.seq)
        self._kick()

    def detach_all(self) -> None:
        for slot in list(self._slots):
            self.detach(slot.toxic.name)

    def _retire(self, slot: _Slot) -> None:
        slot.context.interrupt()
        slot.stage.stopped()

    def end_after(self, seq: int) -> None:
        """End the stream from position ``seq`` on (a timeout fired, or was removed)."""
        if self.done:
            return
        self._ending = True
        self._spawn(self.deliver_eof(seq))

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(work)
        self.connection.tasks.add(task)
        task.add_done_callback(self.connection.tasks.discard)

    def _kick(self) -> None:
        if self._task is None and self._queue and self.dest is not None and not self.done:
            self._task = asyncio.ensure_future(self._pump())
            self.connection.tasks.add(self._task)
            self._task.add_done_callback(self.connection.tasks.discard)

    async def _pump(self) -> None:
        try:
            while self._queue and not self.done:
                item = self._queue.popleft()
                if item is None:
                    await self.deliver_eof(-1)
                    continue
                self._queued_bytes -= len(item.data)
                if self._queue_full and len(self._queue) < _QUEUE_CHUNKS // 2:
                    self._queue_full = False
                    self._update_reading()
                await self.deliver(-1, item)
        finally:
            self._task = None
        self._kick()  # data that arrived while the last chunk was being finished

    def _after(self, seq: int) -> _Slot | None:
        for slot in self._slots:
            if slot.seq > seq:
                return slot
        return None

    async def deliver(self, seq: int, chunk: Chunk) -> None:
        if self.done:
            return
        slot = self._after(seq)
        if slot is not None:
            await slot.stage.on_data(chunk, _Out(self, slot.seq))
            return
        dest = self.dest
        if dest is None or dest.is_closing():
            return
        dest.write(chunk.data)
        if self._dest_blocked:
            self._drained = self._drained or asyncio.Event()
            self._drained.clear()
            await self._drained.wait()

    async def deliver_eof(self, seq: int) -> None:
        if self.done:
            return
        if seq >= 0:
            self._ending = True
        slot = self._after(seq)
        if slot is not None:
            await slot.stage.on_eof(_Out(self, slot.seq))
            return
        self.connection.link_finished(self)

    def stop(self) -> None:
        """The connection is gone: drop what is queued, stop the stages' timers."""
        self.done = True
        self._queue.clear()
        self._queued_bytes = 0
        for slot in self._slots:
            self._retire(slot)
        self._slots.clear()
        if self._drained is not None:
            self._drained.set()


def stream_seed(*parts: object) -> str:
    """The string a stage's random generator is seeded with (stable across runs)."""
    return "|".join(str(part) for part in parts)
