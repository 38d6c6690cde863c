"""What the runs index needs from a run's history: operations, acknowledged writes, their p99.

One pass over ``history.jsonl`` (:func:`reports.history_scan.scan_history`, the columnar scan the
report uses) gives every op's process, type, ``f`` and time. A client process runs one op at a
time, so an op's completion is the next line of the same process after its invoke; an
*acknowledged write* is a create or update whose completion is ``ok``, and its latency is the
time from that invoke to that ``ok``.

The figures are cached in ``index-cache.json`` inside the run directory, keyed by the history's
size and modification time: an index of hundreds of nightly runs reads each history once, and a
run still being written (its history grows) is scanned again.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ackguard.reports.history_scan import TYPE_CODES, Columns, scan_history
from ackguard.reports.rundata import HISTORY_FILE

__all__ = [
    "CACHE_FILE",
    "HistoryFigures",
    "figures_of",
    "history_figures",
    "history_stamp",
    "remember_figures",
    "scan_figures",
]

CACHE_FILE = "index-cache.json"
_CACHE_VERSION = 1  # bump when the figures or their meaning change: old caches are ignored
_WRITES = ("create", "update")  # harness.summary.WRITES: what a practitioner writes
_INVOKE, _OK = TYPE_CODES["invoke"], TYPE_CODES["ok"]


@dataclass(frozen=True, slots=True)
class HistoryFigures:
    """``operations``: client ops invoked (faults excluded). ``acknowledged_writes``: creates and
    updates answered ``ok``. ``write_p99_ms``: the 99th percentile of their latency in ms, None
    when there is none."""

    operations: int
    acknowledged_writes: int
    write_p99_ms: float | None


def history_figures(run_dir: Path) -> HistoryFigures | None:
    """The figures of ``run_dir``'s history, from the cache when the history has not changed;
    ``None`` when the run has no readable history."""
    history = run_dir / HISTORY_FILE
    key = history_stamp(run_dir)
    if key is None:
        return None
    cached = _read_cache(run_dir / CACHE_FILE, key)
    if cached is not None:
        return cached
    try:
        figures = scan_figures(history)
    except OSError:
        return None
    _write_cache(run_dir / CACHE_FILE, key, figures)
    return figures


def scan_figures(history: Path) -> HistoryFigures:
    """Compute the figures from ``history`` (no cache)."""
    return figures_of(scan_history(history))


def history_stamp(run_dir: Path) -> dict[str, int] | None:
    """What the cache is keyed by: the history's size and modification time (None: no history).
    Taken before the history is read, so a history that grows meanwhile is read again later."""
    try:
        stat = (run_dir / HISTORY_FILE).stat()
    except OSError:
        return None
    return {"version": _CACHE_VERSION, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def remember_figures(run_dir: Path, stamp: dict[str, int] | None, figures: HistoryFigures) -> None:
    """Cache ``figures``, computed from the history as it was at ``stamp``, for the runs index
    (the report has the columns at hand: the index then need not read the history again)."""
    if stamp is not None:
        _write_cache(run_dir / CACHE_FILE, stamp, figures)


def figures_of(columns: Columns) -> HistoryFigures:
    """The figures of a scanned history."""
    order, process, kind = columns.by_process()  # the client ops
    is_write = np.array([name in _WRITES for name in columns.f_names] or [False], np.bool_)
    operations = int(np.count_nonzero(kind == _INVOKE))
    paired = (process[1:] == process[:-1]) & (kind[:-1] == _INVOKE) & (kind[1:] == _OK)
    invoke_at, ok_at = order[:-1][paired], order[1:][paired]
    writes = is_write[columns.f[ok_at]]
    acknowledged = int(np.count_nonzero((kind == _OK) & is_write[columns.f[order]]))
    latency_ms = (columns.time[ok_at[writes]] - columns.time[invoke_at[writes]]) / 1e6
    p99 = float(np.percentile(latency_ms, 99)) if latency_ms.size else None
    return HistoryFigures(operations, acknowledged, p99)


def _read_cache(path: Path, key: dict[str, int]) -> HistoryFigures | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    figures = data.get("figures")
    if not isinstance(figures, dict):
        return None
    operations, acknowledged = figures.get("operations"), figures.get("acknowledged_writes")
    p99 = figures.get("write_p99_ms")
    if not (_count(operations) and _count(acknowledged)):
        return None
    if p99 is not None and not (isinstance(p99, int | float) and math.isfinite(p99)):
        return None
    assert isinstance(operations, int) and isinstance(acknowledged, int)
    return HistoryFigures(operations, acknowledged, None if p99 is None else float(p99))


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _write_cache(path: Path, key: dict[str, int], figures: HistoryFigures) -> None:
    """Best effort: a run directory we may read but not write (another user's) is not an error."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps({"key": key, "figures": asdict(figures)}) + "\n"
    try:
        # 0600 whatever the umask, as every file of a run directory (a library caller may not
        # have set the command line's umask).
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
