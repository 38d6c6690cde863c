"""``render_run``: a run directory into ``report.html``, ``junit.xml`` and ``impact.csv``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.verifiers.result import Result
from reports.charts import timeline_svg
from reports.history_scan import scan_history
from reports.impact import DATA_LOSS_KINDS, DamagedRecord, Impact, assess, damaged_records
from reports.impact_csv import write_impact_csv
from reports.junit import write_junit
from reports.page import render_template
from reports.rundata import RunData, load_run
from reports.timeline import Timeline, build_timeline
from reports.words import SHOWN_CLASSES, verdict_class, verdict_words

__all__ = ["MAX_TABLE_ROWS", "RenderedRun", "render_run"]

MAX_TABLE_ROWS = 500
"""Damaged records shown in the page; impact.csv always has all of them."""


@dataclass(frozen=True, slots=True)
class RenderedRun:
    """The files :func:`render_run` wrote."""

    html: Path
    junit: Path
    impact_csv: Path


@dataclass(frozen=True, slots=True)
class _ResultView:
    result: Result
    valid: str
    css: str
    quantile_names: tuple[str, ...]
    latencies: tuple[tuple[str, Mapping[str, float]], ...]


def render_run(run_dir: Path) -> RenderedRun:
    """Render the run directory's report files next to its data; return their paths.

    Raises :class:`reports.RunDirError` when ``run_dir`` is not a readable run directory."""
    run = load_run(run_dir)
    timeline = build_timeline(scan_history(run.history_path), run.info) if run.has_history else None
    faults = timeline.faults if timeline else ()
    records = damaged_records(run, run.verdict, faults) if run.verdict else []
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
    html.write_text(_page(run, timeline, records, impact), encoding="utf-8")
    return RenderedRun(
        html=html,
        junit=write_junit(run, run_dir / "junit.xml"),
        impact_csv=write_impact_csv(records, run_dir / "impact.csv"),
    )


def _page(
    run: RunData, timeline: Timeline | None, records: list[DamagedRecord], impact: Impact | None
) -> str:
    verdict = run.verdict
    counts = verdict.counts if verdict else {}
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
        "verdict_words": verdict_words(verdict, run.missing),
        "verdict_cls": verdict_class(verdict.valid if verdict else None),
        "expectation": _expectation(run),
        "counts": [
            (name, counts.get(name) if verdict else None, _is_bad(name, counts.get(name, 0)))
            for name in SHOWN_CLASSES
        ],
        "timeline": timeline,
        "end_s": timeline.end_s if timeline else 0.0,
        "chart_svg": chart,
        "faults": timeline.faults if timeline else (),
        "impact": impact,
        "records": records[:MAX_TABLE_ROWS],
        "records_total": len(records),
        "results": [_result_view(r) for r in verdict.results] if verdict else [],
        "generated": datetime.now(UTC),
    }
    return render_template("report.html.j2", context)


def _is_bad(name: str, count: int) -> bool:
    return count > 0 and name in ("lost", "corrupt", "phantom", "duplicate")


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


def _result_view(result: Result) -> _ResultView:
    found: list[tuple[str, object]] = []
    for name, value in result.extra.items():  # {"stable_latency_ms": {q: ms}} or one level deeper
        if isinstance(value, Mapping) and not _is_quantiles(value):
            found += [(f"{name} {inner}", quantiles) for inner, quantiles in value.items()]
        else:
            found.append((name, value))
    latencies = tuple(
        (name, {str(q): float(v) for q, v in value.items()})
        for name, value in found
        if isinstance(value, Mapping) and _is_quantiles(value)
    )
    names = tuple(dict.fromkeys(q for _, values in latencies for q in values))
    valid = json.dumps(result.valid) if isinstance(result.valid, bool) else "unknown"
    return _ResultView(
        result=result,
        valid=valid,
        css={"pass": "ok", "fail": "bad"}.get(verdict_class(result.valid), "unk"),
        quantile_names=tuple(sorted(names, key=_quantile_order)),
        latencies=latencies,
    )


def _is_quantiles(value: object) -> bool:
    """Latency quantiles as verifiers report them: ``{"0.5": 12.0, "0.95": 40.1, ...}``."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
        and all(_quantile_order(str(q)) < 10 for q in value)
    )


def _quantile_order(name: str) -> float:
    try:
        return float(name)
    except ValueError:
        return 10.0
