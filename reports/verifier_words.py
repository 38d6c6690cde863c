"""Each verifier's answer in plain words: its outcome, its counts with their unit, and its read
latencies with what they measure (they are not detection delays).

The ``read_your_writes`` latencies follow Jepsen's ``set-full``: for a record reads saw for good,
the *stable latency* is how long after the record became known (acknowledged, or first seen)
the last read that missed it began; for a record reads lost, the *lost latency* is how long
after it became known the last read that still saw it began. 0 ms everywhere is the good news
that no read missed a record (stable), or that reads never saw it at all (lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ackguard.harness.verifiers.result import Result
from ackguard.reports.banner import result_reason

__all__ = ["QUANTILE_WORDS", "LatencyRow", "ResultView", "result_view"]

OUTCOME_WORDS = {True: ("passed", "ok"), False: ("violation found", "bad")}
COUNT_WORDS = {
    "attempted": "records attempted",
    "acknowledged": "records acknowledged",
    "intact": "records intact",
    "lost": "records lost",
    "corrupt": "records corrupt",
    "recovered": "records recovered (indeterminate, then found)",
    "phantom": "phantom records (never attempted)",
    "duplicate": "keys with more than one record",
    "misattributed": "answers or records about another patient's record",
    "unexpected": "records present although their create was refused",
    "indeterminate": "operations indeterminate",
    "failed": "operations failed",
    "stable": "records reads kept seeing",
    "read_lost": "records reads stopped seeing",
    "never_read": "records never read back",
    "stale": "records a read missed for a while",
    "corrupt_reads": "reads that returned a damaged field",
}
"""What each count counts, with its unit (records, operations, reads)."""
QUANTILE_WORDS = {"0": "min", "0.5": "median", "0.95": "95th pct", "0.99": "99th pct", "1": "max"}
_LATENCIES = {
    "stable": (
        "records reads saw for good: from acknowledgement to the start of the last read that "
        "missed it",
        "No read missed an acknowledged record that reads saw: 0 ms at every quantile.",
    ),
    "lost": (
        "records reads lost: from acknowledgement to the start of the last read that still saw it",
        "Reads never saw these records after their acknowledgement: 0 ms at every quantile.",
    ),
}


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """One latency distribution: what it measures, its quantiles (ms), or a sentence instead
    when every quantile is 0 or there is no value at all."""

    measures: str
    quantiles: Mapping[str, float]
    sentence: str


@dataclass(frozen=True, slots=True)
class ResultView:
    name: str
    outcome: str
    css: str
    counts: tuple[tuple[str, int], ...]  # (what is counted, with its unit; how many)
    why: str
    quantile_names: tuple[str, ...]
    latencies: tuple[LatencyRow, ...]


def result_view(result: Result) -> ResultView:
    valid = result.valid
    outcome, css = OUTCOME_WORDS[valid] if isinstance(valid, bool) else ("could not tell", "unk")
    reason = result_reason(result) if result.valid == "unknown" else result.error
    latencies = tuple(_latency_row(name, values) for name, values in _latencies(result.extra))
    names = {q for row in latencies for q in row.quantiles}
    return ResultView(
        name=result.name,
        outcome=outcome,
        css=css,
        counts=tuple(
            (COUNT_WORDS.get(name, name.replace("_", " ")), int(n))
            for name, n in result.counts.items()
        ),
        why=str(reason) if reason else "",
        quantile_names=tuple(sorted(names, key=_quantile_order)),
        latencies=latencies,
    )


def _latencies(extra: Mapping[str, object]) -> list[tuple[str, Mapping[str, float]]]:
    """Latency quantiles as verifiers report them: ``{"stable_latencies": {"0.5": 12.0, ...}}``,
    or one level deeper (``{"latencies": {"stable": {...}}}``)."""
    found: list[tuple[str, Mapping[str, float]]] = []
    for name, value in extra.items():
        if not isinstance(value, Mapping) or "latenc" not in name:
            continue
        if _is_quantiles(value) or not value:
            found.append((name, {str(q): float(v) for q, v in value.items()}))
        else:
            found += [
                (f"{name} {inner}", {str(q): float(v) for q, v in quantiles.items()})
                for inner, quantiles in value.items()
                if isinstance(quantiles, Mapping) and _is_quantiles(quantiles)
            ]
    return found


def _latency_row(name: str, quantiles: Mapping[str, float]) -> LatencyRow:
    kind = next((k for k in _LATENCIES if name.startswith(k)), None)
    measures, all_zero = _LATENCIES[kind] if kind else (name.replace("_", " "), "")
    if not quantiles:
        return LatencyRow(measures, {}, "No such record.")
    if all_zero and not any(quantiles.values()):
        return LatencyRow(measures, {}, all_zero)
    return LatencyRow(measures, quantiles, "")


def _is_quantiles(value: Mapping[object, object]) -> bool:
    return (
        bool(value)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
        and all(_quantile_order(str(q)) <= 1 for q in value)
    )


def _quantile_order(name: str) -> float:
    try:
        return float(name)
    except ValueError:
        return 10.0
