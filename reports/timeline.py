"""The run over time: throughput, errors and latency per time bucket, and the fault windows.

Latency is the duration of one op from its ``invoke`` to its completion: a client process runs one
op at a time, so an op's completion is the next line of the same process after its invoke.
Everything is aggregated into at most :data:`MAX_BUCKETS` buckets so a run of a million ops
draws as fast as a short one.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ackguard.harness.history import Op
from ackguard.reports.history_scan import TYPE_CODES, Columns
from ackguard.reports.rundata import RunInfo

__all__ = ["FaultWindow", "OpStats", "Timeline", "build_timeline", "faults_active"]

MAX_BUCKETS = 240
_NICE_WIDTHS_S = (
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    43200,
    86400,
)
_INVOKE, _OK, _FAIL, _INFO = (TYPE_CODES[t] for t in ("invoke", "ok", "fail", "info"))

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """When a fault was active, in seconds since the run started. ``stop_s`` is ``None`` when
    the history never shows it healed (still active at the end, or healing failed)."""

    name: str
    kind: str
    description: str
    start_s: float
    stop_s: float | None
    source: str  # "history" (nemesis ops) or "run.json cohort" (a defect scoped to a cohort)
    note: str = ""

    def active_at(self, seconds: float) -> bool:
        return self.start_s <= seconds and (self.stop_s is None or seconds <= self.stop_s)


@dataclass(frozen=True, slots=True)
class OpStats:
    """Counts and latency quantiles (ms) of one kind of op (``f``)."""

    f: str
    invoked: int
    ok: int
    fail: int
    info: int
    pending: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Timeline:
    bucket_s: float
    starts_s: FloatArray
    ok_per_s: FloatArray
    fail_per_s: FloatArray
    info_per_s: FloatArray
    p50_ms: FloatArray  # NaN in buckets where nothing completed
    p95_ms: FloatArray
    p99_ms: FloatArray
    end_s: float
    operations: int  # client ops invoked
    op_stats: tuple[OpStats, ...]
    faults: tuple[FaultWindow, ...]
    writers: frozenset[str]  # practitioners with at least one acknowledged write
    patients: frozenset[str]
    skipped_lines: int
    damaged_lines: tuple[int, ...] = ()
    torn_last_line: bool = False


def build_timeline(columns: Columns, info: RunInfo | None) -> Timeline:
    times = columns.time
    end_ns = int(times.max()) if times.size else 0
    end_s = max(end_ns / 1e9, (info.duration_s or 0.0) if info else 0.0)
    bucket_s = _bucket_width(end_s)
    # A last bucket shorter than a quarter joins the one before; rates use each bucket's real
    # width, so the run's ragged end neither spikes nor dips.
    count = max(1, math.ceil(end_s / bucket_s - 0.25))
    widths = np.full(count, bucket_s)
    widths[-1] = max(end_s - (count - 1) * bucket_s, bucket_s * 0.25)
    client = columns.process >= 0
    bucket = np.minimum((times // int(bucket_s * 1e9)).astype(np.int64), count - 1)

    def rate(code: int) -> FloatArray:
        hits = np.bincount(bucket[client & (columns.type == code)], minlength=count)
        per_second: FloatArray = hits.astype(np.float64) / widths
        return per_second

    done_time, duration_ms, done_f, done_type = _op_durations(columns)
    quantiles = _bucket_quantiles(
        np.minimum(done_time // int(bucket_s * 1e9), count - 1), duration_ms, count
    )
    return Timeline(
        bucket_s=bucket_s,
        starts_s=np.arange(count, dtype=np.float64) * bucket_s,
        ok_per_s=rate(_OK),
        fail_per_s=rate(_FAIL),
        info_per_s=rate(_INFO),
        p50_ms=quantiles[:, 0],
        p95_ms=quantiles[:, 1],
        p99_ms=quantiles[:, 2],
        end_s=end_s,
        operations=int(np.count_nonzero(client & (columns.type == _INVOKE))),
        op_stats=_op_stats(columns, client, duration_ms, done_f, done_type),
        faults=tuple(
            sorted([*_fault_windows(columns.nemesis), *_cohort_windows(info, end_s)], key=_start)
        ),
        writers=columns.writers,
        patients=columns.patients,
        skipped_lines=columns.skipped_lines,
        damaged_lines=columns.damaged_lines,
        torn_last_line=columns.torn_last_line,
    )


def faults_active(faults: tuple[FaultWindow, ...], seconds: float | None) -> tuple[str, ...]:
    if seconds is None:
        return ()
    return tuple(dict.fromkeys(w.name for w in faults if w.active_at(seconds)))


def _start(window: FaultWindow) -> float:
    return window.start_s


def _bucket_width(end_s: float) -> float:
    for width in _NICE_WIDTHS_S:
        if end_s / width <= MAX_BUCKETS:
            return float(width)
    return float(math.ceil(end_s / MAX_BUCKETS))


def _op_durations(
    columns: Columns,
) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[np.int16], npt.NDArray[np.int8]]:
    """Completion time, duration (ms), f and type of every completed client op."""
    order, proc, kind = columns.by_process()
    paired = (proc[1:] == proc[:-1]) & (kind[:-1] == _INVOKE) & (kind[1:] != _INVOKE)
    invoke_at, done_at = order[:-1][paired], order[1:][paired]
    durations = (columns.time[done_at] - columns.time[invoke_at]).astype(np.float64) / 1e6
    return columns.time[done_at], durations, columns.f[done_at], columns.type[done_at]


def _quantiles(values: FloatArray) -> tuple[float, float, float]:
    if values.size == 0:
        return (math.nan, math.nan, math.nan)
    p50, p95, p99 = np.percentile(values, (50, 95, 99))
    return (float(p50), float(p95), float(p99))


def _bucket_quantiles(
    bucket: npt.NDArray[np.int64], durations: FloatArray, count: int
) -> FloatArray:
    result = np.full((count, 3), math.nan)
    if bucket.size and bucket.min() >= np.iinfo(np.int16).min:  # below count: at most 16 bits
        order = np.argsort(bucket.astype(np.int16), kind="stable")  # a radix sort
    else:
        order = np.argsort(bucket, kind="stable")
    bucket, durations = bucket[order], durations[order]
    edges = np.searchsorted(bucket, np.arange(count + 1))
    for index in range(count):
        if edges[index + 1] > edges[index]:
            result[index] = _quantiles(durations[edges[index] : edges[index + 1]])
    return result


def _op_stats(
    columns: Columns,
    client: npt.NDArray[np.bool_],
    duration_ms: FloatArray,
    done_f: npt.NDArray[np.int16],
    done_type: npt.NDArray[np.int8],
) -> tuple[OpStats, ...]:
    names = len(columns.f_names)
    # Client ops counted by (f, type) in one pass, and completions grouped by f by one sort.
    kinds = columns.f[client].astype(np.int64) * 4 + columns.type[client].clip(0)
    table = np.bincount(kinds, minlength=4 * names).reshape(-1, 4)
    by_f = np.argsort(done_f, kind="stable")  # 16 bits: a radix sort
    edges = np.searchsorted(done_f[by_f], np.arange(names + 1))
    stats = []
    for code, name in enumerate(columns.f_names):
        counts = table[code]
        if not counts.any():
            continue
        invoked = int(counts[_INVOKE])
        p50, p95, p99 = _quantiles(duration_ms[by_f[edges[code] : edges[code + 1]]])
        completed = int(counts[_OK] + counts[_FAIL] + counts[_INFO])
        stats.append(
            OpStats(
                name,
                invoked,
                int(counts[_OK]),
                int(counts[_FAIL]),
                int(counts[_INFO]),
                max(0, invoked - completed),
                p50,
                p95,
                p99,
            )
        )
    return tuple(sorted(stats, key=lambda s: -s.invoked))


def _fault_windows(ops: tuple[Op, ...]) -> list[FaultWindow]:
    """Pair each fault's start (invoke) with its stop (completion); a stop that ended ``info``
    means healing failed, so the fault counts as active until the end."""
    open_starts: defaultdict[str, deque[tuple[Op, str]]] = defaultdict(deque)
    stopping: dict[str, Op] = {}
    windows: list[FaultWindow] = []
    for op in ops:
        value = op.value if isinstance(op.value, dict) else {}
        name = str(value.get("fault") or "fault")
        if op.f == "start" and op.type == "invoke":
            open_starts[name].append((op, ""))
        elif op.f == "start" and op.type == "info" and open_starts[name]:
            first, _ = open_starts[name].pop()
            open_starts[name].append((first, "start indeterminate"))
        elif op.f == "stop" and op.type == "invoke":
            stopping[name] = op
        elif op.f == "stop" and op.type in ("ok", "info", "fail") and open_starts[name]:
            start, note = open_starts[name].popleft()
            healed = op.type == "ok"
            windows.append(
                _window(
                    start,
                    op.time / 1e9 if healed else None,
                    note or ("" if healed else "healing failed"),
                )
            )
    for name, starts in open_starts.items():
        for start, note in starts:
            stop_note = "stop begun, never completed" if name in stopping else "never stopped"
            windows.append(_window(start, None, ", ".join(filter(None, (note, stop_note)))))
    return sorted(windows, key=lambda w: w.start_s)


def _window(start: Op, stop_s: float | None, note: str) -> FaultWindow:
    value = start.value if isinstance(start.value, dict) else {}
    return FaultWindow(
        name=str(value.get("fault") or "fault"),
        kind=str(value.get("kind") or ""),
        description=str(value.get("description") or ""),
        start_s=start.time / 1e9,
        stop_s=stop_s,
        source="history",
        note=note,
    )


def _cohort_windows(info: RunInfo | None, end_s: float) -> tuple[FaultWindow, ...]:
    """Defects the service ran with for a cohort (``run.json``), with their wall-clock window."""
    if info is None:
        return ()
    windows = []
    for cohort in info.cohorts:
        if cohort.window is not None and info.started_at is not None:
            start = (cohort.window[0] - info.started_at).total_seconds()
            stop: float | None = (cohort.window[1] - info.started_at).total_seconds()
        else:
            start, stop = 0.0, max(end_s, 0.0)
        windows.append(
            FaultWindow(
                name=f"defect:{cohort.defect}",
                kind="defect",
                description=f"service defect {cohort.defect} for cohort {cohort.name} "
                f"({len(cohort.practitioner_ids)} practitioners)",
                start_s=start,
                stop_s=stop,
                source="run.json cohort",
                note="" if cohort.window else "no window: active for the whole run",
            )
        )
    return tuple(windows)
