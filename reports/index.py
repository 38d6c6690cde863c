"""``runs/index.html``: every run in the runs folder, newest first, with a trend chart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ackguard.harness.verifiers.result import VERDICT_FILE
from ackguard.reports.banner import banner
from ackguard.reports.charts import TrendPoint, trend_svg
from ackguard.reports.page import render_template
from ackguard.reports.rundata import HISTORY_FILE, RUN_FILE, RunDirError, load_run
from ackguard.reports.words import damage_counts

__all__ = ["IndexRow", "render_index"]

_INVOKE_MARK = b'"type":"invoke"'
_NEMESIS_INVOKE_MARK = b'"process":"nemesis","type":"invoke"'


@dataclass(frozen=True, slots=True)
class IndexRow:
    name: str
    started: datetime | None
    scenario: str
    status: str
    verdict: str  # the banner's kind: pass, fail, unknown, interrupted, error, running, none
    words: str
    operations: int | None
    damage: Mapping[str, int] | None  # records in violation per class; None without a verdict
    has_report: bool
    expected_matched: bool | None


def render_index(runs_dir: Path) -> Path:
    """Write ``runs_dir/index.html`` listing each sub-folder holding a run.json or verdict.json."""
    if not runs_dir.is_dir():
        raise RunDirError(f"{runs_dir} is not a directory")
    rows = [row for path in sorted(runs_dir.iterdir()) if (row := _row(path)) is not None]
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
    return IndexRow(
        name=run.name,
        started=info.started_at if info else None,
        scenario=run.title,
        status=(info.status if info else None) or "unknown",
        verdict=shown.kind,
        words=shown.headline,
        operations=_operations(path / HISTORY_FILE),
        damage=damage_counts(verdict.counts) if verdict else None,
        has_report=(path / "report.html").is_file(),
        expected_matched=(verdict.valid == run.expected)
        if verdict and run.expected is not None
        else None,
    )


def _operations(history: Path) -> int | None:
    """Client operations invoked, counted on the raw bytes (no parsing) so the index stays fast."""
    if not history.is_file():
        return None
    invokes = nemesis = 0
    tail = b""
    with history.open("rb") as source:
        while block := source.read(16 << 20):
            data = tail + block
            cut = data.rfind(b"\n") + 1
            invokes += data[:cut].count(_INVOKE_MARK)
            nemesis += data[:cut].count(_NEMESIS_INVOKE_MARK)
            tail = data[cut:]
    return invokes - nemesis
