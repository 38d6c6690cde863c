"""``runs/index.html``: trends per scenario (:mod:`reports.trends`), then every run in the runs
folder, newest first, with a chart of them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ackguard.harness.verifiers.result import VERDICT_FILE, Verdict
from ackguard.reports.banner import banner
from ackguard.reports.charts import TrendPoint, trend_svg
from ackguard.reports.latency import history_figures
from ackguard.reports.page import render_template
from ackguard.reports.rundata import RUN_FILE, RunDirError, load_run
from ackguard.reports.trends import scenario_trends
from ackguard.reports.words import damage_counts

__all__ = ["IndexRow", "render_index"]


@dataclass(frozen=True, slots=True)
class IndexRow:
    name: str
    started: datetime | None
    scenario: str
    status: str
    verdict: str  # the banner's kind: pass, fail, unknown, interrupted, error, running, none
    word: str  # the banner's first word: PASS, FAIL, UNKNOWN, INTERRUPTED...
    words: str
    operations: int | None
    damage: Mapping[str, int] | None  # records in violation per class; None without a verdict
    counts: Mapping[str, int] | None  # every count of verdict.json; None without a verdict
    acknowledged_writes: int | None  # creates and updates answered ok (history)
    write_p99_ms: float | None  # their p99 latency
    has_report: bool
    expected_matched: bool | None


def render_index(runs_dir: Path) -> Path:
    """Write ``runs_dir/index.html`` listing each sub-folder holding a run.json or verdict.json
    (hidden ones excepted: ``ackguard prune`` renames a run to a hidden name before deleting it)."""
    if not runs_dir.is_dir():
        raise RunDirError(f"{runs_dir} is not a directory")
    rows = [
        row
        for path in sorted(runs_dir.iterdir())
        if not path.name.startswith(".") and (row := _row(path)) is not None
    ]
    rows.sort(key=lambda r: (r.started or datetime.min.replace(tzinfo=UTC), r.name))
    points = [
        TrendPoint(
            label=r.started.strftime("%m-%d %H:%M") if r.started else r.name[:13],
            operations=r.operations or 0,
            damage=r.damage or {},
            verdict={"pass": "true", "fail": "false", "none": "none"}.get(r.verdict, "unknown"),
        )
        for r in rows
    ]
    page = render_template(
        "index.html.j2",
        {
            "runs_dir": runs_dir,
            "rows": list(reversed(rows)),
            "trends": scenario_trends(rows),
            "trend_svg": trend_svg(points) if rows else None,
            "generated": datetime.now(UTC),
        },
    )
    path = runs_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _row(path: Path) -> IndexRow | None:
    if not path.is_dir() or not ((path / RUN_FILE).is_file() or (path / VERDICT_FILE).is_file()):
        return None
    try:
        run = load_run(path)
    except RunDirError:
        return None
    verdict = run.verdict
    info = run.info
    shown = banner(run)
    figures = history_figures(path)
    return IndexRow(
        name=run.name,
        started=info.started_at if info else None,
        scenario=run.title,
        status=(info.status if info else None) or "unknown",
        verdict=shown.kind,
        word=shown.word,
        words=shown.headline,
        operations=figures.operations if figures else None,
        damage=damage_counts(verdict.counts) if verdict else None,
        counts=_counts(verdict.counts) if verdict else None,
        acknowledged_writes=figures.acknowledged_writes if figures else _acknowledged(verdict),
        write_p99_ms=figures.write_p99_ms if figures else None,
        has_report=(path / "report.html").is_file(),
        expected_matched=(verdict.valid == run.expected)
        if verdict and run.expected is not None
        else None,
    )


def _counts(counts: Mapping[str, object]) -> dict[str, int]:
    """Every whole-number count of the verdict (a hand-edited or newer file may hold others)."""
    return {
        name: value
        for name, value in counts.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }


def _acknowledged(verdict: Verdict | None) -> int | None:
    """Without a history: the acknowledged writes the verdict's evidence counted, if any."""
    value = verdict.evidence.get("acknowledged_writes") if verdict else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
