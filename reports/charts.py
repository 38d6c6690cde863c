"""Charts as inline SVG, drawn with matplotlib's object API on an explicit Agg canvas.

No pyplot: nothing global is touched, so importing this module has no side effect and drawing
is safe in any process. Text from the system under test (fault names) is drawn with math text
parsing off, and matplotlib escapes it in the SVG.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter
from matplotlib.typing import RcKeyType

from ackguard.reports.timeline import Timeline

__all__ = ["TrendPoint", "timeline_svg", "trend_svg"]

_RC: dict[RcKeyType, object] = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, system fonts
    "svg.hashsalt": "ackguard",  # stable ids, so the same run draws the same bytes
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_FAULT_COLOURS = ("#f4a261", "#e76f51", "#9b5de5", "#2a9d8f", "#e9c46a", "#8d99ae")
_LEGEND: dict[str, object] = {
    "loc": "upper left",
    "bbox_to_anchor": (1.0, 1.0),
    "fontsize": 8,
    "frameon": False,
}
_FAULT_LEGEND_COLUMNS = 4
_SPARSE_POINTS = 80  # fewer buckets with latencies than this: draw each point as a dot
_DAMAGE_COLOURS = {
    "lost": "#c1121f",
    "corrupt": "#f77f00",
    "duplicate": "#6a4c93",
    "phantom": "#457b9d",
    "misattributed": "#8d0801",
    "unexpected": "#e9c46a",
}
_SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    label: str
    operations: int
    damage: Mapping[str, int]  # damage class -> records, every class the verdict counts
    verdict: str  # "true", "false", "unknown", "none"


def timeline_svg(
    timeline: Timeline, ack_times_s: Sequence[float], detection_times_s: Sequence[float]
) -> str:
    """Three panels over the run: ok ops/s, fail/info per s, latency p50/p95/p99; fault windows
    shaded and named in a legend below; acknowledged losses (▼) and their detection (◆) marked."""
    with rc_context(_RC):
        names = len({window.name for window in timeline.faults})
        legend_rows = math.ceil(names / _FAULT_LEGEND_COLUMNS)
        figure = Figure(figsize=(11, 5.4 + 0.22 * legend_rows), layout="constrained")
        FigureCanvasAgg(figure)
        throughput, errors, latency = figure.subplots(3, 1, sharex=True)
        x = timeline.starts_s + timeline.bucket_s / 2
        throughput.plot(x, timeline.ok_per_s, color="#1d3557", linewidth=1.2, label="ok ops/s")
        throughput.set_ylabel("ok ops/s")
        throughput.set_ylim(bottom=0)
        errors.plot(x, timeline.fail_per_s, color="#c1121f", linewidth=1.1, label="fail/s")
        errors.plot(x, timeline.info_per_s, color="#f77f00", linewidth=1.1, label="info/s")
        errors.set_ylabel("errors/s")
        errors.set_ylim(bottom=0)
        errors.legend(**_LEGEND)
        for values, colour, label in (
            (timeline.p50_ms, "#457b9d", "p50"),
            (timeline.p95_ms, "#e63946", "p95"),
            (timeline.p99_ms, "#6a040f", "p99"),
        ):
            sparse = np.count_nonzero(np.isfinite(values)) <= _SPARSE_POINTS
            latency.plot(
                x,
                values,
                color=colour,
                linewidth=1.0,
                label=label,
                marker="o" if sparse else None,
                markersize=3,
            )  # lone buckets show
        latency.set_ylabel("latency ms")
        if np.nanmax(timeline.p99_ms, initial=0.0) > 20 * max(
            np.nanmin(timeline.p50_ms, initial=math.inf), 1e-3
        ):
            latency.set_yscale("log")  # a few slow ops must not flatten the rest
            latency.yaxis.set_major_formatter(FuncFormatter(_plain))
            latency.yaxis.set_minor_formatter(NullFormatter())
        else:
            latency.set_ylim(bottom=0)
        latency.legend(**_LEGEND)
        latency.set_xlabel(f"seconds since the run started (buckets of {timeline.bucket_s:g} s)")
        end = max(timeline.end_s, timeline.bucket_s, *ack_times_s, *detection_times_s)
        for axes in (throughput, errors, latency):
            axes.set_xlim(0, end)
            axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        _shade_faults(figure, timeline, (throughput, errors, latency), end)
        _mark(throughput, ack_times_s, timeline.bucket_s, "v", "#c1121f", "loss acknowledged")
        _mark(throughput, detection_times_s, timeline.bucket_s, "D", "#6a040f", "loss detected")
        throughput.legend(**_LEGEND)
        return _svg(figure)


def _plain(value: float, _position: float) -> str:
    return f"{value:g}"


def _shade_faults(figure: Figure, timeline: Timeline, panels: Sequence[Axes], end: float) -> None:
    """Shade each window on every panel; name the faults in a legend under the chart, never
    on it, so that windows close together cannot print their names over each other."""
    colours: dict[str, str] = {}
    unhealed: set[str] = set()
    for window in timeline.faults:
        colour = colours.setdefault(window.name, _FAULT_COLOURS[len(colours) % len(_FAULT_COLOURS)])
        stop = end if window.stop_s is None else window.stop_s
        if window.stop_s is None:
            unhealed.add(window.name)
        alpha = 0.12 if window.source == "history" else 0.07
        for axes in panels:
            axes.axvspan(
                max(window.start_s, 0.0),
                max(stop, window.start_s),
                color=colour,
                alpha=alpha,
                linewidth=0,
            )
    if not colours:
        return
    handles = [Patch(color=colour, alpha=0.35, linewidth=0) for colour in colours.values()]
    labels = [name + (" (not healed)" if name in unhealed else "") for name in colours]
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), _FAULT_LEGEND_COLUMNS),
        fontsize=8,
        frameon=False,
        title="fault windows (shaded)",
        title_fontsize=8,
    )


def _mark(
    axes: Axes, times_s: Sequence[float], bucket_s: float, marker: str, colour: str, label: str
) -> None:
    """One marker per bucket that holds any such moment, so thousands of losses stay small."""
    if not times_s:
        return
    buckets = np.unique(np.floor(np.asarray(times_s, dtype=np.float64) / bucket_s))
    x = (buckets + 0.5) * bucket_s
    axes.plot(
        x,
        np.zeros_like(x),
        linestyle="none",
        marker=marker,
        markersize=5,
        color=colour,
        clip_on=False,
        label=label,
    )


def trend_svg(points: Sequence[TrendPoint]) -> str:
    """Runs in date order: operations (marker colour: verdict) and the records in violation,
    one stacked bar per run with every damage class the verdicts count."""
    colours = {"true": "#2a9d8f", "false": "#c1121f", "unknown": "#f77f00", "none": "#8d99ae"}
    classes = list(dict.fromkeys(name for p in points for name, n in p.damage.items() if n))
    with rc_context(_RC):
        figure = Figure(figsize=(11, 3.2), layout="constrained")
        FigureCanvasAgg(figure)
        operations, damage = figure.subplots(1, 2)
        x = np.arange(len(points))
        marker_colours = [colours.get(p.verdict, "#8d99ae") for p in points]
        operations.plot(x, [p.operations for p in points], color="#1d3557", linewidth=1)
        operations.scatter(x, [p.operations for p in points], c=marker_colours, s=18, zorder=3)
        operations.set_title("operations per run (colour: verdict)", fontsize=9)
        bottom = np.zeros(len(points))
        for n, name in enumerate(classes):
            heights = np.array([p.damage.get(name, 0) for p in points], dtype=np.float64)
            colour = _DAMAGE_COLOURS.get(name, _FAULT_COLOURS[n % len(_FAULT_COLOURS)])
            damage.bar(x, heights, bottom=bottom, color=colour, label=name)
            bottom += heights
        damage.set_title("records in violation, by class", fontsize=9)
        if classes:
            damage.legend(**_LEGEND)
        for axes in (operations, damage):
            axes.set_ylim(bottom=0)
            step = max(1, len(points) // 12)
            axes.set_xticks(
                x[::step], [p.label for p in points][::step], rotation=30, ha="right", fontsize=7
            )
        return _svg(figure)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: drop the XML declaration and DOCTYPE
