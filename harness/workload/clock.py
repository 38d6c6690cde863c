"""Simulated time: a run of a minute covers days of practice.

``time_scale`` is simulated seconds per real second (3600: one simulated hour per real second).
Each Locust user keeps one :class:`SimClock` for the practitioners it drives, as a discrete-event
clock: before an action planned at simulated moment ``t`` the user sleeps the real equivalent of
the gap, ``(t - now) / time_scale`` seconds, capped at ``max_idle_s`` so that nights, lunch breaks
and weekends pass in a couple of real seconds instead of hours; then the clock jumps to ``t``.
While practitioners are busy the clock runs at ``time_scale``; across idle gaps it runs faster.
When requests are slower than the schedule (many practitioners per user, a slow service) the user
acts without sleeping and simulated time runs slower than ``time_scale``: the schedule is kept,
the pace is not.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["DEFAULT_MAX_IDLE_S", "SimClock"]

DEFAULT_MAX_IDLE_S = 2.0


class SimClock:
    def __init__(
        self, sim_start: datetime, time_scale: float, *, max_idle_s: float = DEFAULT_MAX_IDLE_S
    ) -> None:
        if sim_start.tzinfo is None:
            raise ValueError("sim_start must be timezone-aware (e.g. Europe/Paris)")
        if time_scale <= 0:
            raise ValueError("time_scale is simulated seconds per real second and must be > 0")
        if max_idle_s < 0:
            raise ValueError("max_idle_s must be >= 0")
        self.sim_start = sim_start
        self.time_scale = time_scale
        self.max_idle_s = max_idle_s
        self.now = sim_start

    def real_delay(self, until: datetime) -> float:
        """Real seconds to wait before the simulated moment ``until`` (0 if it is past)."""
        gap_s = (until - self.now).total_seconds()
        return max(0.0, min(gap_s / self.time_scale, self.max_idle_s))

    def advance_to(self, moment: datetime) -> None:
        """Move the simulated present to ``moment``; the clock never goes back."""
        self.now = max(self.now, moment)
