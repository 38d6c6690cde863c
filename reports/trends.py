"""Trends per scenario for the runs index: each scenario's runs in time order, what changed.

A scenario is the ``scenario`` name in ``run.json``. For each run the trend shows its verdict,
every record class its verdict counts (a class the verdict file lacks shows as a dash, never as
0), its acknowledged writes and their p99 latency, and a *change* ("PASS → FAIL") when its
verdict differs from the previous finished run of the same scenario. A run still going (its
banner kind is ``running``) is shown but neither gets nor causes a change: it has no verdict yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from ackguard.harness.verifiers.result import CLASSES
from ackguard.reports.words import DAMAGE_CLASSES, DASH

if TYPE_CHECKING:
    from ackguard.reports.index import IndexRow

__all__ = ["SHOWN_RUNS", "ScenarioTrend", "TrendRun", "scenario_trends", "sparkline"]

SHOWN_RUNS = 50
"""The newest runs of a scenario its trend table and sparkline show; the run list has them all."""
_VERDICT_COLOURS = {
    "pass": "#1b7f4b",
    "fail": "#b3121f",
    "unknown": "#c25e00",
    "none": "#c25e00",
    "interrupted": "#7a4f9a",
    "error": "#5c6770",
    "running": "#9aa5ae",
}
_BAR_COLOUR, _LINE_COLOUR = "#b3121f", "#1d3557"
_STEP, _HEIGHT, _STRIP, _PAD = 16, 64, 10, 3  # px: per run, whole chart, verdict strip, margins
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TrendRun:
    """One run in a scenario's trend. ``verdict`` is the banner's kind (pass, fail, unknown,
    interrupted, error, running, none), ``word`` its first word (PASS, FAIL, UNKNOWN...)."""

    name: str
    started: datetime | None
    verdict: str
    word: str
    counts: Mapping[str, int] | None  # every class the verdict counts; None without a verdict
    acknowledged_writes: int | None
    write_p99_ms: float | None
    change: str | None  # "PASS → FAIL": the verdict differs from the previous finished run's
    has_report: bool

    @property
    def when(self) -> str:
        return self.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if self.started else DASH

    @property
    def damage(self) -> int:
        """Records in violation: the sum of the damage classes (see :func:`is_damage`)."""
        return sum(n for name, n in (self.counts or {}).items() if is_damage(name))


@dataclass(frozen=True, slots=True)
class ScenarioTrend:
    scenario: str
    runs: tuple[TrendRun, ...]  # oldest first, all of them
    classes: tuple[str, ...]  # the count columns: every class of CLASSES, then any other counted

    @property
    def damage_columns(self) -> frozenset[str]:
        return frozenset(name for name in self.classes if is_damage(name))

    @property
    def latest(self) -> TrendRun:
        return self.runs[-1]

    @property
    def shown(self) -> tuple[TrendRun, ...]:
        """The newest :data:`SHOWN_RUNS` runs, newest first (the table's order)."""
        return tuple(reversed(self.runs[-SHOWN_RUNS:]))

    @property
    def hidden(self) -> int:
        return max(0, len(self.runs) - SHOWN_RUNS)

    @property
    def changes(self) -> int:
        return sum(1 for run in self.runs if run.change)

    @property
    def sparkline(self) -> Markup:
        return sparkline(self.runs[-SHOWN_RUNS:])


def is_damage(name: str) -> bool:
    """A class of records in violation: the known ones and any class a newer verifier adds
    (a count that is not one of the plain tallies of :data:`CLASSES`)."""
    return name in DAMAGE_CLASSES or name not in CLASSES


def scenario_trends(rows: Sequence[IndexRow]) -> tuple[ScenarioTrend, ...]:
    """One trend per scenario, the scenario whose latest run is newest first."""
    groups: dict[str, list[IndexRow]] = {}
    for row in sorted(rows, key=lambda r: (r.started or _EPOCH, r.name)):
        groups.setdefault(row.scenario, []).append(row)
    trends = [_trend(name, group) for name, group in groups.items()]
    trends.sort(key=lambda t: (t.latest.started or _EPOCH, t.scenario), reverse=True)
    return tuple(trends)


def _trend(scenario: str, rows: list[IndexRow]) -> ScenarioTrend:
    runs: list[TrendRun] = []
    previous: str | None = None
    for row in rows:
        change = None
        if row.verdict != "running":
            if previous is not None and previous != row.word:
                change = f"{previous} → {row.word}"
            previous = row.word
        runs.append(
            TrendRun(
                name=row.name,
                started=row.started,
                verdict=row.verdict,
                word=row.word,
                counts=row.counts,
                acknowledged_writes=row.acknowledged_writes,
                write_p99_ms=row.write_p99_ms,
                change=change,
                has_report=row.has_report,
            )
        )
    counted = {name for row in rows for name in (row.counts or {})}
    extra = sorted(counted.difference(CLASSES))
    return ScenarioTrend(scenario, tuple(runs), (*CLASSES, *extra))


def sparkline(runs: Sequence[TrendRun]) -> Markup:
    """A small inline SVG, one column per run (oldest left): a square coloured by the verdict,
    a bar of the records in violation and a line of the acknowledged writes' p99 latency, each
    scaled to its own maximum. Every column has a tooltip; nothing is fetched."""
    width = _PAD * 2 + _STEP * max(len(runs), 1)
    top, bottom = _STRIP + 2 * _PAD, _HEIGHT - _PAD
    span = bottom - top
    most_damage = max((run.damage for run in runs), default=0) or 1
    slowest = max((run.write_p99_ms or 0.0 for run in runs), default=0.0) or 1.0
    parts = [
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{_HEIGHT}" viewBox="0 0 {width} {_HEIGHT}" role="img" '
        'aria-label="verdicts, records in violation and p99 write latency per run">',
        f'<line x1="0" y1="{bottom}" x2="{width}" y2="{bottom}" stroke="#d9dde1"/>',
    ]
    points: list[tuple[float, float]] = []
    for index, run in enumerate(runs):
        x = _PAD + index * _STEP
        colour = _VERDICT_COLOURS.get(run.verdict, "#5c6770")
        parts.append(
            f"<g><title>{escape(_tooltip(run))}</title>"
            f'<rect class="v-{escape(run.verdict)}" x="{x + 1}" y="{_PAD}" width="{_STEP - 2}" '
            f'height="{_STRIP}" fill="{colour}"/>'
        )
        if run.damage:
            height = max(1.0, span * run.damage / most_damage)
            parts.append(
                f'<rect x="{x + 2}" y="{bottom - height:.1f}" width="{_STEP - 4}" '
                f'height="{height:.1f}" fill="{_BAR_COLOUR}" opacity="0.75"/>'
            )
        parts.append("</g>")
        if run.write_p99_ms is not None:
            y = bottom - span * run.write_p99_ms / slowest
            points.append((x + _STEP / 2, y))
    if len(points) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{_LINE_COLOUR}" stroke-width="1.2"/>'
        )
    parts.extend(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="{_LINE_COLOUR}"/>' for x, y in points
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _tooltip(run: TrendRun) -> str:
    started = run.when if run.started else run.name
    p99 = DASH if run.write_p99_ms is None else f"{run.write_p99_ms:,.1f} ms"
    words = f"{started}: {run.word}"
    if run.change:
        words += f" ({run.change})"
    return f"{words}, {run.damage:,} records in violation, p99 write {p99}"
