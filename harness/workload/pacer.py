"""Long builds that let other work run meanwhile.

A Locust worker builds the whole practice, then its share of the agents, before it answers
ready: at 300,000 practitioners, seconds on a quiet core and minutes on a loaded one. All that
time it must go on exchanging heartbeats with its master, on the same gevent loop: the master
marks a worker missing after 3 s without one (and forgets it after a minute), and a worker that
hears nothing from its master for 60 s quits.

A build takes a :data:`Pause` and calls it once per unit of work (a practitioner built, an entry
read, an agent made). The default does nothing. A :class:`Pacer` calls its ``yield_`` when a
slice of wall time has passed since it last did: few yields on a quiet machine, more on a loaded
one, where each unit takes longer. Pure: the caller decides what yielding means (in a worker, a
short gevent sleep).
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["SLICE_S", "Pacer", "Pause", "no_pause"]

Pause = Callable[[], None]
"""Called once per unit of a long build; it may let other work run before it returns."""

SLICE_S = 0.05
"""The longest a paced build runs before it yields, in seconds of wall time: heartbeats are a
second apart, so 20 chances a second leave them on time even when the process gets only part
of a core."""


def no_pause() -> None:
    """The default: a build that runs straight through."""


class Pacer:
    """A :data:`Pause` that calls ``yield_`` once ``slice_s`` seconds of ``clock`` have passed
    since its last yield (or its creation). ``yields`` counts the calls."""

    def __init__(
        self,
        yield_: Callable[[], object],
        slice_s: float = SLICE_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not slice_s > 0:
            raise ValueError(f"slice_s {slice_s}: a slice is a positive number of seconds")
        self._yield = yield_
        self._clock = clock
        self.slice_s = slice_s
        self.yields = 0
        self._due = clock() + slice_s

    def __call__(self) -> None:
        if self._clock() < self._due:
            return
        self._yield()
        self.yields += 1
        self._due = self._clock() + self.slice_s  # from the yield's end: a slice of own work
