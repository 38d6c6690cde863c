"""Scoped defects: who they touch and when, on the simulated practice clock.

A scenario's defect window (``from: 1h``, ``until: 19h``) is simulated time since the simulated
start. The service applies it to the consultation being written (its ``started_at``), so it holds
whatever pace the simulated clock keeps: across nights and weekends the clock runs faster than
``time_scale``, and a window converted to wall-clock seconds would miss its consultations.

``run.json`` keeps each cohort's ``practice_window`` (simulated) and, once the load has run,
``window``: the wall-clock span in which the practitioners created the consultations the window
covers (read from the history), which is where the report draws the defect on its timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from ackguard.harness.scenario import DefectSpec, Scenario
from ackguard.harness.workload import PractitionerEntry, in_cohort

__all__ = ["cohorts", "defect_entries", "place_cohort_windows"]


def _practice_window(defect: DefectSpec, sim_start: datetime) -> dict[str, str] | None:
    if defect.window is None:
        return None
    start, until = (sim_start + timedelta(seconds=offset) for offset in defect.window)
    return {"from": start.isoformat(), "until": until.isoformat(), "clock": "practice"}


def defect_entries(scenario: Scenario, sim_start: datetime) -> list[dict[str, object]]:
    """The scenario's defects as the service's ``PUT /admin/defects`` takes them."""
    return [
        {
            "name": defect.name,
            "params": dict(defect.params),
            "cohort": defect.cohort.to_json() if defect.cohort else None,
            "window": _practice_window(defect, sim_start),
        }
        for defect in scenario.defects
    ]


def cohorts(
    scenario: Scenario, practitioners: Sequence[PractitionerEntry], sim_start: datetime
) -> list[dict[str, object]]:
    """Who each scoped defect touches, so reports can compare the damage with the cohort."""
    found: list[dict[str, object]] = []
    for index, defect in enumerate(scenario.defects):
        cohort = defect.cohort
        members = [
            p.id
            for p in practitioners
            if cohort is None
            or p.rpps in cohort.rpps
            or (cohort.fraction is not None and in_cohort(p.rpps, cohort.fraction, cohort.salt))
        ]
        found.append(
            {
                "name": f"{defect.name}-{index}",
                "defect": defect.name,
                "practice_window": _practice_window(defect, sim_start),
                "window": None,
                "practitioner_ids": members,
            }
        )
    return found


def place_cohort_windows(
    found: list[dict[str, object]], history: Path, started_at: datetime
) -> None:
    """Fill each cohort's wall-clock ``window`` from the history: the first and the last
    create of a consultation whose practice time lies in the cohort's practice window."""
    bounds: list[tuple[datetime, datetime] | None] = []
    for entry in found:
        practice = entry.get("practice_window")
        if isinstance(practice, dict):
            start = datetime.fromisoformat(str(practice["from"]))
            until = datetime.fromisoformat(str(practice["until"]))
            bounds.append((start, until))
        else:
            bounds.append(None)
    if not any(bounds):
        return
    spans: list[tuple[int, int] | None] = [None for _ in found]
    with history.open("rb") as lines:
        for line in lines:
            if b'"f":"create"' not in line or b'"type":"invoke"' not in line:
                continue
            try:
                op = orjson.loads(line)
                moment = datetime.fromisoformat(op["value"]["started_at"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a torn or foreign line says nothing about the window
            for index, bound in enumerate(bounds):
                if bound is not None and bound[0] <= moment < bound[1]:
                    time_ns, span = int(op["time"]), spans[index]
                    spans[index] = (
                        (time_ns, time_ns) if span is None else (span[0], max(span[1], time_ns))
                    )
    for entry, span in zip(found, spans, strict=True):
        if span is not None:
            entry["window"] = {
                "from": (started_at + timedelta(microseconds=span[0] / 1000)).isoformat(),
                "until": (started_at + timedelta(microseconds=span[1] / 1000)).isoformat(),
            }
