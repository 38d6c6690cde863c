"""``render_run``: a run directory into ``report.html``, ``junit.xml`` and ``impact.csv``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ackguard.harness.verifiers.result import Verdict
from ackguard.reports.banner import banner
from ackguard.reports.charts import timeline_svg
from ackguard.reports.history_scan import scan_history
from ackguard.reports.impact import (
    DATA_LOSS_KINDS,
    DamagedRecord,
    Impact,
    assess,
    damaged_keys,
    damaged_records,
)
from ackguard.reports.impact_csv import write_impact_csv
from ackguard.reports.junit import write_junit
from ackguard.reports.latency import figures_of, history_stamp, remember_figures
from ackguard.reports.page import render_template
from ackguard.reports.rundata import RunData, load_run
from ackguard.reports.timeline import Timeline, build_timeline
from ackguard.reports.verifier_words import QUANTILE_WORDS, result_view
from ackguard.reports.words import MISATTRIBUTED_WORDS, SHOWN_CLASSES, damage_counts, verdict_class

__all__ = ["MAX_TABLE_ROWS", "RenderedRun", "render_run"]

MAX_TABLE_ROWS = 500
"""Damaged records shown in the page; impact.csv always has all of them."""
_NOT_DAMAGE = ("acknowledged", "intact", "recovered", "indeterminate")


@dataclass(frozen=True, slots=True)
class RenderedRun:
    """The files :func:`render_run` wrote."""

    html: Path
    junit: Path
    impact_csv: Path


def render_run(run_dir: Path) -> RenderedRun:
    """Render the run directory's report files next to its data; return their paths.

    Raises :class:`reports.RunDirError` when ``run_dir`` is not a readable run directory."""
    run = load_run(run_dir)
    stamp = history_stamp(run_dir)
    columns = (
        scan_history(run.history_path, damaged_keys(run.verdict) if run.verdict else ())
        if run.has_history
        else None
    )
    timeline = build_timeline(columns, run.info) if columns is not None else None
    if columns is not None:  # the runs index reads these figures instead of a second pass
        remember_figures(run_dir, stamp, figures_of(columns))
    faults = timeline.faults if timeline else ()
    records = damaged_records(run, run.verdict, faults) if run.verdict else []
    if records and columns is not None:
        times = columns.consultation_times
        records = [replace(r, practice_time=times.get(r.key or "")) for r in records]
    impact = (
        assess(
            run,
            records,
            timeline.writers if timeline else None,
            timeline.patients if timeline else None,
        )
        if run.verdict
        else None
    )
    html = run_dir / "report.html"
    practice = columns.practice_window if columns is not None else None
    html.write_text(_page(run, timeline, practice, records, impact), encoding="utf-8")
    return RenderedRun(
        html=html,
        junit=write_junit(run, run_dir / "junit.xml"),
        impact_csv=write_impact_csv(records, run_dir / "impact.csv"),
    )


def _page(
    run: RunData,
    timeline: Timeline | None,
    practice: tuple[datetime, datetime] | None,
    records: list[DamagedRecord],
    impact: Impact | None,
) -> str:
    verdict = run.verdict
    counts = verdict.counts if verdict else {}
    shown_classes = (*SHOWN_CLASSES, *(c for c in damage_counts(counts) if c not in SHOWN_CLASSES))
    losses = [r for r in records if r.kind in DATA_LOSS_KINDS]
    chart = (
        timeline_svg(
            timeline,
            [r.ack_s for r in losses if r.ack_s is not None],
            [r.detection_s for r in losses if r.detection_s is not None],
        )
        if timeline
        else None
    )
    context: dict[str, Any] = {
        "run": run,
        "info": run.info,
        "banner": banner(run),
        "expectation": _expectation(run),
        "counts": [
            (name, counts.get(name) if verdict else None, _is_bad(name, counts.get(name, 0)))
            for name in shown_classes
        ],
        "damage": damage_counts(counts),
        "practice": practice,
        "timeline": timeline,
        "end_s": timeline.end_s if timeline else 0.0,
        "chart_svg": chart,
        "faults": timeline.faults if timeline else (),
        "impact": impact,
        "records": records[:MAX_TABLE_ROWS],
        "records_total": len(records),
        "results": [result_view(r) for r in verdict.results] if verdict else [],
        "operations": _operations(verdict),
        "quantile_words": QUANTILE_WORDS,
        "misattributed_words": MISATTRIBUTED_WORDS,
        "generated": datetime.now(UTC),
    }
    return render_template("report.html.j2", context)


def _is_bad(name: str, count: int) -> bool:
    return count > 0 and name not in _NOT_DAMAGE


def _operations(verdict: Verdict | None) -> Mapping[str, Mapping[str, int]]:
    """Client operations per kind (invoked, ok, fail, info, pending), as a verifier counted."""
    for result in verdict.results if verdict else ():
        found = result.extra.get("operations")
        if isinstance(found, Mapping) and found:
            return found
    return {}


def _expectation(run: RunData) -> str | None:
    expected = run.expected
    if expected is None:
        return None
    shown = verdict_class(expected).upper()
    if run.verdict is None:
        return f"The scenario expected {shown}; there is no verdict to compare."
    if run.verdict.valid == expected:
        return f"As the scenario expected ({shown})."
    return f"NOT as the scenario expected: it expected {shown}."
