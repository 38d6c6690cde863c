"""Who a scoped defect should have touched, read from the history alone.

A cohort defect with a practice window (``lost_observations`` from 1h until 19h) damages the
notes of the cohort's consultations that take place inside the window. The practitioners it
must be seen to touch are therefore the cohort members with an acknowledged write of a non-empty
note on such a consultation. The catalogue test (at 3,000 practitioners) and the full-scale
benchmark (at 300,000) both compare the impact list with this set, so it is computed once, here,
with the verifiers' history reader.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

from ackguard.harness.history_read import read_lines_fast

__all__ = ["consultation_times", "writers_in_window"]


def consultation_times(history: Path) -> dict[str, datetime]:
    """The simulated moment of every consultation the practitioners set out to create, by key
    (from the create's invoke, so a create that was never acknowledged has its moment too)."""
    return {
        op.key: datetime.fromisoformat(op.value["started_at"])
        for op in read_lines_fast(history)
        if op.f == "create" and op.type == "invoke"
    }


def writers_in_window(
    history: Path,
    members: Collection[str],
    window: Sequence[datetime],
    practice: dict[str, datetime],
) -> set[str]:
    """Cohort ``members`` with an acknowledged non-empty note (a create or an update) on a
    consultation whose simulated moment is inside ``window`` = (from, until), until excluded."""
    start, until = window
    writers: set[str] = set()
    for op in read_lines_fast(history):
        if op.type != "ok" or op.f not in ("create", "update"):
            continue
        value = op.value
        who = value["practitioner_id"]
        if who in writers or who not in members:
            continue
        if start <= practice[op.key] < until and any(value["fields"].values()):
            writers.add(who)
    return writers
