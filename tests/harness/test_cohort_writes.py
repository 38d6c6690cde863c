"""Who a windowed cohort defect should touch, read from a history the harness's writer wrote:
cohort members with an acknowledged non-empty note on a consultation inside the practice window,
and nobody else (outside the cohort, before or at the window's end, unacknowledged, empty)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ackguard.harness.cohort_writes import consultation_times, writers_in_window
from ackguard.harness.history import HistoryWriter

START = datetime.fromisoformat("2026-01-05T08:30:00+01:00")
WINDOW = (START, START + timedelta(hours=18))
NOTE = {"visit_reason": "d1", "exam_report": None}
EMPTY = {"visit_reason": None, "exam_report": None}


def _consultation(
    history: HistoryWriter, key: str, who: str, at: datetime, outcome: str, fields: object
) -> None:
    value = {"practitioner_id": who, "patient_id": f"{who}-1", "started_at": at.isoformat()}
    history.record(1, "invoke", "create", key=key, value={**value, "fields": fields})
    history.record(1, outcome, "create", key=key, value={**value, "fields": fields})  # type: ignore[arg-type]


def test_only_cohort_members_acknowledged_inside_the_window_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = HistoryWriter(path)
    minute = timedelta(minutes=1)
    _consultation(history, "k-in", "p-in", START, "ok", NOTE)  # the window's first moment
    _consultation(history, "k-before", "p-before", START - minute, "ok", NOTE)
    _consultation(history, "k-at-end", "p-end", WINDOW[1], "ok", NOTE)  # until is excluded
    _consultation(history, "k-other", "p-other", START + minute, "ok", NOTE)  # not in the cohort
    _consultation(history, "k-failed", "p-failed", START + minute, "fail", NOTE)
    _consultation(history, "k-empty", "p-empty", START + minute, "ok", EMPTY)
    _consultation(history, "k-late", "p-late", START + 2 * minute, "ok", EMPTY)
    update = {"id": "r1", "practitioner_id": "p-late", "patient_id": "p-late-1", "fields": NOTE}
    history.record(1, "invoke", "update", key="k-late", value=update)
    history.record(1, "ok", "update", key="k-late", value=update)  # its note came in an update
    history.finish(status="completed")
    members = {"p-in", "p-before", "p-end", "p-failed", "p-empty", "p-late"}

    practice = consultation_times(path)
    assert practice["k-before"] == START - minute and len(practice) == 7
    assert writers_in_window(path, members, WINDOW, practice) == {"p-in", "p-late"}
    assert writers_in_window(path, members | {"p-other"}, WINDOW, practice) == {
        "p-in",
        "p-late",
        "p-other",
    }
