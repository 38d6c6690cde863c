"""The fault schedule: when each fault of a scenario starts and heals, recorded in the history.

Occurrence times are computed up front from the scenario (``at``, ``every``, ``random`` drawn from
the seed), so the same scenario and seed give the same schedule. One runner thread walks the
merged timeline; every start and stop is a ``nemesis`` operation in the history. :meth:`heal_all`
stops whatever is still broken; the orchestrator calls it before the final read and on Ctrl-C.
:meth:`fire` adds one window of a fault now (the web UI's "fire now"); :meth:`states` says where
each window stands (the web UI's Chaos tab).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from ackguard.harness.faults.base import Fault
from ackguard.harness.history import NEMESIS, HistoryWriter
from ackguard.harness.scenario import FaultSpec, ScheduleSpec

__all__ = ["FaultRunner", "Occurrence", "WindowState", "WindowView", "occurrences", "plan"]

WindowState = Literal[
    "pending",
    "starting",
    "active",
    "failed to start",
    "healing",
    "healed",
    "heal failed",
    "skipped",
]
"""Where one window stands. ``skipped``: it was still pending when every fault was healed (the
load ended first, or someone healed everything)."""


class WindowView(TypedDict):
    """One window as :meth:`FaultRunner.states` shows it (times: s since the load started)."""

    window: int
    fault: str
    kind: str
    start: float
    stop: float
    state: WindowState
    fired: bool
    error: str | None


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
        self._active: dict[int, int] = {}  # fault index -> the window it runs for
        self._states: list[WindowState] = ["pending"] * len(self.timeline)
        self._errors: dict[int, str] = {}
        self._fired: dict[int, threading.Event] = {}  # window -> set to end it early
        self._fired_threads: list[threading.Thread] = []
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
    def faults(self) -> list[tuple[FaultSpec, Fault]]:
        """The scenario's faults with what acts for each, in scenario order."""
        return list(self._faults)

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
            [(o.start, 1, o.fault_index, w) for w, o in enumerate(self.timeline)]
            + [(o.stop, 0, o.fault_index, w) for w, o in enumerate(self.timeline)]
        )  # at equal times a stop goes first, so back-to-back windows heal before they recur
        due = 0
        while due < len(events) and events[due][0] <= 0 and events[due][1]:
            self._begin(events[due][2], events[due][3])
            due += 1
        later = [e for e in events[due:] if e[1] or e[0] < self._horizon]
        self._thread = threading.Thread(
            target=self._run, args=(later,), name="ackguard-faults", daemon=True
        )
        self._thread.start()

    def _run(self, events: list[tuple[float, int, int, int]]) -> None:
        for at, is_start, index, window in events:
            if self._cancelled.wait(max(0.0, self._origin + at - time.monotonic())):
                return
            if is_start:
                self._begin(index, window)
            else:
                self._end(index, window)

    def _set(self, windows: list[int], state: WindowState, error: str | None = None) -> None:
        with self._lock:
            for window in windows:
                self._states[window] = state
                if error is not None:
                    self._errors[window] = error

    def _begin(self, index: int, window: int) -> None:
        spec, fault = self._faults[index]
        value: dict[str, object] = {
            "fault": spec.name,
            "kind": spec.kind,
            "description": fault.description,
        }
        if window in self._fired:
            value["fired"] = True  # started on request (the web UI), not by the schedule
        self._history.record(NEMESIS, "invoke", "start", value=value)
        with self._lock:
            self._active[index] = window
        self._set([window], "starting")
        try:
            fault.start()
        except Exception as exc:  # a fault that cannot start is reported, not fatal to the run
            self.errors.append(f"{spec.name}: start failed: {exc}")
            self._set([window], "failed to start", str(exc))
            self._history.record(NEMESIS, "info", "start", value=value, error=str(exc))
            return
        self._set([window], "active")
        self._history.record(NEMESIS, "ok", "start", value=value)

    def _end(self, index: int, window: int | None = None) -> None:
        """Heal fault ``index``; with ``window``, only if that window is the one it runs for
        (a window fired and healed early must not end a later window of the same fault)."""
        with self._lock:
            if index not in self._active or window not in (None, self._active[index]):
                return
            del self._active[index]
            ending = [
                w
                for w, o in enumerate(self.timeline)
                if o.fault_index == index and self._states[w] in ("starting", "active")
            ]
        self._set(ending, "healing")
        spec, fault = self._faults[index]
        value = {"fault": spec.name, "kind": spec.kind, "description": fault.description}
        self._history.record(NEMESIS, "invoke", "stop", value=value)
        try:
            fault.stop()
        except Exception as exc:
            self.errors.append(f"{spec.name}: heal failed: {exc}")
            self._set(ending, "heal failed", str(exc))
            self._history.record(NEMESIS, "info", "stop", value=value, error=str(exc))
            return
        self._set(ending, "healed")
        self._history.record(NEMESIS, "ok", "stop", value=value)

    def heal_all(self, timeout: float = 30.0) -> None:
        """Cancel what has not started yet and heal every fault that is active; idempotent.
        Windows fired later with :meth:`fire` still run (the web UI's "heal everything" does
        not end the session)."""
        self._cancelled.set()
        for stop in list(self._fired.values()):
            stop.set()
        for thread in [self._thread, *self._fired_threads]:
            if thread is not None:
                thread.join(timeout)
        for index in list(self._active):
            self._end(index)
        self._set([w for w, s in enumerate(self._states) if s == "pending"], "skipped")

    def fire(self, name: str) -> int:
        """Start one window of the fault ``name`` now, for its scenario duration, recorded in
        the history like a scheduled one; returns the window's number in :meth:`states`.
        ``KeyError``: no such fault. ``RuntimeError``: the schedule has not started, or that
        fault is active already (a second start would not be a second window)."""
        index = next((i for i, (s, _) in enumerate(self._faults) if s.name == name), None)
        if index is None:
            raise KeyError(name)
        duration = self._faults[index][0].schedule.duration
        with self._lock:
            if self._thread is None:
                raise RuntimeError("the load has not started")
            if index in self._active:
                raise RuntimeError(f"{name} is active already")
            at = time.monotonic() - self._origin
            window = len(self.timeline)
            self.timeline.append(Occurrence(index, at, at + duration))
            self._states.append("pending")
            self._fired[window] = stop = threading.Event()
        thread = threading.Thread(
            target=self._fire, args=(index, window, duration, stop), daemon=True
        )
        self._fired_threads.append(thread)
        thread.start()
        return window

    def _fire(self, index: int, window: int, duration: float, stop: threading.Event) -> None:
        self._begin(index, window)
        stop.wait(duration)
        self._end(index, window)

    def states(self) -> list[WindowView]:
        """Every window so far, scheduled and fired, in the order they were planned: the fault,
        its start and planned stop (seconds since the load started), its state and error."""
        with self._lock:
            return [
                WindowView(
                    window=w,
                    fault=self._faults[o.fault_index][0].name,
                    kind=self._faults[o.fault_index][0].kind,
                    start=round(o.start, 3),
                    stop=round(o.stop, 3),
                    state=self._states[w],
                    fired=w in self._fired,
                    error=self._errors.get(w),
                )
                for w, o in enumerate(self.timeline)
            ]
