"""The web UI's board: what the Chaos tab shows of a run while it goes on.

It counts the practitioners' writes by outcome as the history records them (a listener of
:meth:`HistoryWriter.listen`, so the counts are those the verifiers will read afterwards) and puts
the live verifier's findings in rows a person can read: who, which patient, which field, how long
after the acknowledgement it was caught.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

from ackguard.harness.history import HistoryWriter, Op
from ackguard.harness.live.damage import LiveDamage

__all__ = ["FIRST_RECORDS", "Board", "damage_summary"]

WRITES = frozenset({"create", "update"})
OUTCOMES = {"ok": "acknowledged", "fail": "failed", "info": "indeterminate"}
FIRST_RECORDS = 20
"""How many live findings the tab lists one by one (the count covers all of them)."""


class Board:
    """Counts of the practitioners' writes by outcome, kept up to date by the history."""

    def __init__(self, history: HistoryWriter | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        if history is not None:
            history.listen(self.on_op)

    def on_op(self, op: Op) -> None:
        """One op of the history: a completed create or update of a practitioner counts once.
        Quick and never raising: it runs on the thread or greenlet that recorded the op."""
        if op.f not in WRITES or op.process.__class__ is not int:
            return
        outcome = OUTCOMES.get(op.type)
        if outcome is None:
            return  # an invoke: the write counts once it completes
        with self._lock:
            self._counts[outcome] += 1

    def writes(self) -> dict[str, int]:
        """``acknowledged``, ``failed`` and ``indeterminate`` writes so far."""
        with self._lock:
            return {name: self._counts[name] for name in OUTCOMES.values()}


def damage_summary(
    found: Sequence[LiveDamage], origin_ns: int = 0, first: int = FIRST_RECORDS
) -> dict[str, object]:
    """The live findings for the tab: the count per kind and the first ``first`` records in
    detection order, acknowledged at seconds since ``origin_ns`` (the history time the load
    started, the fault windows' origin)."""
    snapshot = list(found)  # the live verifier appends while we read
    kinds = Counter(d.kind for d in snapshot)
    return {
        "count": len(snapshot),
        "by_kind": dict(sorted(kinds.items())),
        "first": [
            {
                "kind": d.kind,
                "key": d.key,
                "practitioner": d.practitioner_id,
                "patient": d.patient_id,
                "fields": list(d.fields),
                "acknowledged_s": round((d.acknowledged_at_ns - origin_ns) / 1e9, 3),
                "time_to_detect_s": round(d.time_to_detect_s, 3),
            }
            for d in snapshot[:first]
        ],
    }
