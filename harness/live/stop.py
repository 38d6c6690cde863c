"""Stop conditions (``stop_when``), as AWS FIS and Gremlin have them: the first one reached ends
the load early; the run then heals, reads everything back and is verified as usual.

Damage conditions count the live verifier's detections (:meth:`StopWatch.damage`). The error
rate and the p99 latency are taken over the practitioners' operations completed in the last
:data:`WINDOW_S` seconds (at least :data:`MIN_OPERATIONS` of them, so that three unlucky
requests at the start do not stop a run), learnt from the history as it is written.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Container

import gevent

from ackguard.harness.history import HistoryWriter, Op
from ackguard.harness.live.damage import LiveDamage
from ackguard.harness.live.options import StopWhen

__all__ = ["CHECK_EVERY_S", "MIN_OPERATIONS", "WINDOW_S", "StopWatch"]

WINDOW_S = 10.0
MIN_OPERATIONS = 20
CHECK_EVERY_S = 0.25


class StopWatch:
    """Watches ``conditions``; calls ``fire(reason, history time ns)`` once, when one is met."""

    def __init__(
        self,
        conditions: StopWhen,
        history: HistoryWriter,
        fire: Callable[[str, int], None],
        *,
        load_started_ns: int,
        ignored: Container[object] = (),
    ) -> None:
        self.conditions = conditions
        self.history = history
        self.fire = fire
        self.load_started_ns = load_started_ns
        self.ignored = ignored
        """Processes that are not practitioners (the live verifier's read-backs)."""
        self.fired: str | None = None
        self._damage: Counter[str] = Counter()
        self._invoked: dict[object, int] = {}
        self._done: deque[tuple[int, int, bool]] = deque()  # (completion, latency ns, failed)
        self._checker: gevent.Greenlet | None = None

    @property
    def follows_ops(self) -> bool:
        """Whether a window condition needs the practitioners' ops (:meth:`observe`)."""
        return self.conditions.error_rate is not None or self.conditions.p99_latency is not None

    def start(self) -> None:
        if self.follows_ops:
            self.history.listen(self.observe)
            self._checker = gevent.spawn(self._check_every)

    def stop(self) -> None:
        if self._checker is not None:
            self._checker.kill(block=True, timeout=5)
            self._checker = None

    def observe(self, op: Op) -> None:
        process = op.process
        if process.__class__ is not int or process in self.ignored:
            return
        if op.type == "invoke":
            self._invoked[process] = op.time
            return
        began = self._invoked.pop(process, None)
        if began is not None:
            self._done.append((op.time, op.time - began, op.type != "ok"))

    def damage(self, found: LiveDamage) -> None:
        """A live detection: a damage condition may be reached."""
        self._damage[found.kind] += 1
        limit = self.conditions.damage.get(found.kind)
        if limit is not None and self._damage[found.kind] >= limit:
            at = found.detected_at_ns
            self._fire(
                f"stop_when {found.kind}: {limit} reached: {found.kind} {found.key} "
                f"at {self._load_s(at):.1f} s",
                at,
            )

    def check(self) -> None:
        """The window conditions, over the operations completed in the last WINDOW_S."""
        now = self.history.now()
        done = self._done
        while done and done[0][0] < now - WINDOW_S * 1e9:
            done.popleft()
        if len(done) < MIN_OPERATIONS or self.fired is not None:
            return
        rate = self.conditions.error_rate
        if rate is not None:
            failed = sum(1 for _, _, bad in done if bad)
            if failed / len(done) >= rate:
                self._fire(
                    f"stop_when error_rate: {rate:g} reached: {failed} of {len(done)} operations "
                    f"failed in the last {WINDOW_S:g} s, at {self._load_s(now):.1f} s",
                    now,
                )
                return
        limit = self.conditions.p99_latency
        if limit is not None:
            latencies = sorted(latency for _, latency, _ in done)
            p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)] / 1e9
            if p99 >= limit:
                self._fire(
                    f"stop_when p99_latency: {limit:g} s reached: p99 {p99:.2f} s over the last "
                    f"{WINDOW_S:g} s, at {self._load_s(now):.1f} s",
                    now,
                )

    def _check_every(self) -> None:
        while self.fired is None:
            gevent.sleep(CHECK_EVERY_S)
            self.check()

    def _fire(self, reason: str, at: int) -> None:
        if self.fired is None:
            self.fired = reason
            self.fire(reason, at)

    def _load_s(self, at_ns: int) -> float:
        return max(0.0, (at_ns - self.load_started_ns) / 1e9)
