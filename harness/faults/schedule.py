"""The fault schedule: when each fault of a scenario starts and heals, recorded in the history.

Occurrence times are computed up front from the scenario (``at``, ``every``, ``random`` drawn from
the seed), so the same scenario and seed give the same schedule. One runner thread walks the
merged timeline; every start and stop is a ``nemesis`` operation in the history. :meth:`heal_all`
stops whatever is still broken; the orchestrator calls it before the final read and on Ctrl-C.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ackguard.harness.faults.base import Fault
from ackguard.harness.history import NEMESIS, HistoryWriter
from ackguard.harness.scenario import FaultSpec, ScheduleSpec

__all__ = ["FaultRunner", "Occurrence", "occurrences", "plan"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One window of one fault, in seconds since the load started."""

    fault_index: int
    start: float
    stop: float


def occurrences(
    schedule: ScheduleSpec, horizon: float, rng: random.Random, index: int
) -> list[Occurrence]:
    """The windows of one fault that start before ``horizon`` (the run's load duration)."""
    found: list[Occurrence] = []
    at = schedule.start
    limit = schedule.count if schedule.count is not None else 100_000
    if schedule.mode == "random":
        at = schedule.start + rng.uniform(schedule.low, schedule.high)
    while at < horizon and len(found) < limit:
        found.append(Occurrence(index, at, min(at + schedule.duration, horizon)))
        if schedule.mode == "at":
            break
        if schedule.mode == "every":
            at += schedule.interval
        else:
            at += schedule.duration + rng.uniform(schedule.low, schedule.high)
    return found


def plan(specs: Sequence[FaultSpec], seed: int, horizon: float) -> list[Occurrence]:
    """Every window of every fault in ``specs``, by start time: the schedule a run with this
    seed and load duration follows (and what the evidence check compares the history with)."""
    rng = random.Random(f"{seed}:faults")
    found = [occ for i, s in enumerate(specs) for occ in occurrences(s.schedule, horizon, rng, i)]
    return sorted(found, key=lambda o: o.start)


class FaultRunner:
    """Runs built faults on their schedule in a background thread."""

    def __init__(
        self,
        faults: Sequence[tuple[FaultSpec, Fault]],
        history: HistoryWriter,
        *,
        seed: int,
        horizon: float,
    ) -> None:
        self._faults = list(faults)
        self._history = history
        self._seed, self._horizon = seed, horizon
        self.timeline = plan([spec for spec, _ in self._faults], seed, horizon)
        self._active: set[int] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None
        self._origin = 0.0
        self.errors: list[str] = []

    @property
    def active(self) -> list[str]:
        with self._lock:
            return [self._faults[i][0].name for i in sorted(self._active)]

    @property
    def started(self) -> bool:
        return self._thread is not None

    def fresh_copy(self) -> FaultRunner:
        """The same schedule, not started yet (a new test started from the web UI)."""
        return FaultRunner(self._faults, self._history, seed=self._seed, horizon=self._horizon)

    def start(self) -> None:
        """Start the schedule. Windows due at 0 s start here, before this returns, and windows
        that last to the end of the load are left for :meth:`heal_all` once the load stopped:
        a window covering the whole load covers its first request and its last."""
        self._origin = time.monotonic()
        events = sorted(
            [(o.start, 1, o.fault_index) for o in self.timeline]
            + [(o.stop, 0, o.fault_index) for o in self.timeline]
        )  # at equal times a stop goes first, so back-to-back windows heal before they recur
        due = 0
        while due < len(events) and events[due][0] <= 0 and events[due][1]:
            self._begin(events[due][2])
            due += 1
        later = [e for e in events[due:] if e[1] or e[0] < self._horizon]
        self._thread = threading.Thread(
            target=self._run, args=(later,), name="ackguard-faults", daemon=True
        )
        self._thread.start()

    def _run(self, events: list[tuple[float, int, int]]) -> None:
        for at, is_start, index in events:
            if self._cancelled.wait(max(0.0, self._origin + at - time.monotonic())):
                return
            if is_start:
                self._begin(index)
            else:
                self._end(index)

    def _begin(self, index: int) -> None:
        spec, fault = self._faults[index]
        value = {"fault": spec.name, "kind": spec.kind, "description": fault.description}
        self._history.record(NEMESIS, "invoke", "start", value=value)
        with self._lock:
            self._active.add(index)
        try:
            fault.start()
        except Exception as exc:  # a fault that cannot start is reported, not fatal to the run
            self.errors.append(f"{spec.name}: start failed: {exc}")
            self._history.record(NEMESIS, "info", "start", value=value, error=str(exc))
            return
        self._history.record(NEMESIS, "ok", "start", value=value)

    def _end(self, index: int) -> None:
        with self._lock:
            if index not in self._active:
                return
            self._active.discard(index)
        spec, fault = self._faults[index]
        value = {"fault": spec.name, "kind": spec.kind, "description": fault.description}
        self._history.record(NEMESIS, "invoke", "stop", value=value)
        try:
            fault.stop()
        except Exception as exc:
            self.errors.append(f"{spec.name}: heal failed: {exc}")
            self._history.record(NEMESIS, "info", "stop", value=value, error=str(exc))
            return
        self._history.record(NEMESIS, "ok", "stop", value=value)

    def heal_all(self, timeout: float = 30.0) -> None:
        """Cancel what has not started yet and heal every fault that is active; idempotent."""
        self._cancelled.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for index in list(self._active):
            self._end(index)
