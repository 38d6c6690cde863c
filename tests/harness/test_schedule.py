"""The fault schedule: windows computed from the scenario, replayable from the seed."""

from __future__ import annotations

import random
from itertools import pairwise

from ackguard.harness.faults.schedule import occurrences
from ackguard.harness.scenario import ScheduleSpec


def test_at_gives_one_window() -> None:
    found = occurrences(ScheduleSpec("at", 10.0, 3.0), 60.0, random.Random(1), 0)
    assert [(o.start, o.stop) for o in found] == [(10.0, 13.0)]


def test_every_repeats_until_the_horizon_and_clips_the_last_window() -> None:
    found = occurrences(ScheduleSpec("every", 8.0, 2.0, interval=12.0), 60.0, random.Random(1), 0)
    assert [o.start for o in found] == [8.0, 20.0, 32.0, 44.0, 56.0]
    assert found[-1].stop == 58.0
    capped = occurrences(
        ScheduleSpec("every", 0.0, 1.0, interval=5.0, count=2), 60.0, random.Random(1), 0
    )
    assert len(capped) == 2


def test_random_gaps_are_bounded_and_replay_with_the_seed() -> None:
    spec = ScheduleSpec("random", 0.0, 1.0, low=2.0, high=4.0)
    first = occurrences(spec, 100.0, random.Random("s"), 0)
    again = occurrences(spec, 100.0, random.Random("s"), 0)
    other = occurrences(spec, 100.0, random.Random("t"), 0)
    assert first == again and first != other
    for before, after in pairwise(first):
        assert 2.0 <= after.start - before.stop <= 4.0
