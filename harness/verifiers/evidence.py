"""The evidence check: what a verdict rests on, and why it is ``unknown`` without it.

A verifier proves that no acknowledged record was lost *in the history it was given*. That proof
is only worth something when the chaos really happened and the history is whole. *Evidence* is:

- every scheduled fault window that ran started and healed (the ``nemesis`` ops of the history),
  and a scenario with faults had at least one window;
- the run ended normally (``run.json`` status ``completed``: not interrupted, no harness error,
  not still running or dead);
- no Locust worker was lost mid-run (``run.json`` ``workers_lost``: its last ops may be missing,
  so the history counts as having a hole);
- at least ``min_acknowledged`` writes (creates and updates) were acknowledged;
- the history is whole: not empty, no damaged line, and it ends with the harness's closing
  ``end`` op (written after the final read), its index matching the lines before it.

Each gap is a *reason* in plain words ("fault toxic-0 never started: this run has no proxy") and
makes the verdict unknown. Verdicts combine as false > unknown > true, so a real loss stays false
even in an interrupted run; but a history with a hole cannot prove a phantom or a corrupt field
(the missing part may hold the write that explains it): there, only what a part of the history
still proves (a record acknowledged and absent from a complete final read, a key stored twice)
keeps a verdict false. A torn last line (the harness was killed mid-write) is tolerated and said.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ackguard.harness.faults.schedule import plan
from ackguard.harness.final_read import FinalRead
from ackguard.harness.history import NEMESIS, HistoryReading, Op
from ackguard.harness.run_dir import RunInfo, harness_alive
from ackguard.harness.scenario import FaultSpec
from ackguard.harness.verifiers.index import HistoryIndex
from ackguard.harness.verifiers.result import Result, Valid, Verdict, combine, verifier_reasons

__all__ = ["PROVEN_BY_A_PART", "Evidence", "RunFacts", "check_evidence", "judge"]

PROVEN_BY_A_PART: Mapping[str, frozenset[str]] = {"records": frozenset({"lost", "duplicate"})}
"""Anomaly kinds, per verifier, that stand even when part of the history is missing: an
acknowledgement that was recorded and a final read that lacks the record prove a loss whatever
the missing part held; a phantom or a damaged field may be explained by it."""

_LISTED_LINES = 5


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the evidence check reads about one run. ``index`` is ``None`` when the history
    could not be grouped, ``run`` when ``run.json`` is missing; ``scenario_error`` says why the
    stored scenario (its faults, its threshold) could not be read."""

    reading: HistoryReading
    index: HistoryIndex | None
    final_read: FinalRead | None
    run: RunInfo | None
    faults: Sequence[FaultSpec] = ()
    min_acknowledged: int = 1
    scenario_error: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """The outcome of :func:`check_evidence`. Every reason makes the verdict unknown; notes are
    said and change nothing. ``history_whole`` is false when part of the history is missing."""

    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    history_whole: bool
    summary: Mapping[str, object] = field(default_factory=dict)

    @property
    def valid(self) -> Valid:
        return "unknown" if self.reasons else True


def check_evidence(facts: RunFacts) -> Evidence:
    """Every rule of the module docstring over ``facts``."""
    reasons: list[str] = []
    notes: list[str] = []
    run_reason = _run_status(facts.run)
    if run_reason is not None:
        reasons.append(run_reason)
    lost_workers = () if facts.run is None else facts.run.workers_lost
    reasons.extend(lost_workers)  # each in words: "worker 2 of 2 was lost at 12.3 s (...)"
    if facts.scenario_error is not None:
        reasons.append(
            f"the run's scenario could not be read ({facts.scenario_error}): its faults and "
            "evidence threshold are not known"
        )
    still_running = facts.run is not None and facts.run.status == "running"
    stopped_by = facts.run.stopped_by if facts.run is not None else None
    if stopped_by is not None:  # by design, like the end of the planned duration: no reason
        notes.append(f"the load was stopped early by a stop condition: {stopped_by}")
    history, whole = _history(facts, reasons, notes, still_running)
    # A lost worker's last ops may be missing (a remote worker's not yet streamed): a hole.
    whole = whole and not lost_workers
    faults = _faults(facts, reasons, whole)
    acknowledged = None if facts.index is None else facts.index.acknowledged_writes
    if acknowledged is not None and acknowledged < facts.min_acknowledged:
        reasons.append(_too_few(acknowledged, facts.min_acknowledged))
    final = facts.final_read
    summary: dict[str, object] = {
        "run_status": None if facts.run is None else facts.run.status,
        "stopped_by": stopped_by,
        "faults": faults,
        "acknowledged_writes": acknowledged,
        "min_acknowledged": facts.min_acknowledged,
        "final_read": {
            "present": final is not None,
            "complete": None if final is None else final.complete,
            "records": None if final is None else final.size,
            "source": None if final is None else final.source,
        },
        "history": history,
        "reasons": list(reasons),
        "notes": list(notes),
    }
    return Evidence(tuple(reasons), tuple(notes), whole, summary)


def judge(verdict: Verdict, evidence: Evidence) -> Verdict:
    """``verdict`` (the verifiers' answer) combined with ``evidence``: false > unknown > true,
    after the verifiers' false answers that a missing part of the history could explain were
    made unknown. The reasons are the evidence's, then each unknown verifier's."""
    results = verdict.results
    if not evidence.history_whole:
        results = tuple(_on_a_part(r) for r in results)
    valid = combine([*(r.valid for r in results), evidence.valid])
    reasons = (*evidence.reasons, *verifier_reasons(results))
    return replace(
        verdict, valid=valid, results=results, reasons=reasons, evidence=evidence.summary
    )


def _on_a_part(result: Result) -> Result:
    if result.valid is not False:
        return result
    proven = PROVEN_BY_A_PART.get(result.name, frozenset())
    if any(a.kind in proven for a in result.anomalies):
        return result
    kinds = sorted({a.kind for a in result.anomalies})
    reason = (
        f"its {len(result.anomalies)} anomalies ({', '.join(kinds)}) may be explained by the "
        "part of the history that is missing"
    )
    return replace(result, valid="unknown", reason=reason)


def _run_status(run: RunInfo | None) -> str | None:
    if run is None:
        return "the run has no readable run.json: how it ended is not known"
    if run.status == "completed":
        return None
    if run.status == "interrupted":
        after, total = run.interrupted_after_s, run.load_duration_s
        if after is None:
            return "the run was interrupted before its load started"
        of = "" if total is None else f" of {total:g} s"
        return f"the run was interrupted after {after:.0f} s{of}"
    if run.status == "error":
        return f"the harness failed: {run.error or 'no error was recorded'}"
    if run.status == "running":
        alive = harness_alive(run)
        if alive is None:
            return "the run never finished: run.json still says running and names no harness"
        if alive:
            return "the run is still going"
        return "the harness died before the run ended (killed?)"
    return f"the run ended with an unknown status {run.status!r}"


def _history(
    facts: RunFacts, reasons: list[str], notes: list[str], still_running: bool
) -> tuple[dict[str, object], bool]:
    reading = facts.reading
    pending = None if facts.index is None else facts.index.pending
    marker = reading.end_marker
    summary: dict[str, object] = {
        "lines": reading.lines,
        "damaged_lines": reading.damaged_lines[:100],
        "torn_last_line": reading.torn_last_line,
        "end_marker": marker is not None,
        "pending": pending,
        "last_time": reading.last_time,
    }
    if reading.torn_last_line:
        notes.append("the last line of the history was torn (harness killed?): ignored")
    if reading.lines == 0 or (reading.lines == 1 and reading.torn_last_line):
        reasons.append("the history is empty: nothing was recorded")
        return summary, False
    whole = True
    if reading.damaged_lines:
        reasons.append(_damaged(reading.damaged_lines))
        whole = False
    if marker is None:
        if not still_running:  # the run's status already says why the end is missing
            reasons.append(_cut_short(facts, pending))
        return summary, False
    line, op = marker
    if op.index != line - 1:
        missing = op.index - (line - 1)
        what = f"{missing} lines are missing" if missing > 0 else f"{-missing} lines were added"
        reasons.append(f"the history does not hold what the run recorded: {what} before its end")
        whole = False
    return summary, whole


def _damaged(lines: Sequence[int]) -> str:
    if len(lines) == 1:
        where = f"line {lines[0]} of the history is damaged"
    else:
        shown = ", ".join(str(n) for n in lines[:_LISTED_LINES])
        more = f" and {len(lines) - _LISTED_LINES} more" if len(lines) > _LISTED_LINES else ""
        where = f"{len(lines)} lines of the history are damaged (lines {shown}{more})"
    return f"{where}: ignored, so the verdict cannot rest on the history"


def _cut_short(facts: RunFacts, pending: int | None) -> str:
    details = []
    final = facts.final_read
    last = facts.reading.last_time
    if final is not None and final.time is not None and last is not None and final.time > last:
        details.append(f"its last op is {(final.time - last) / 1e9:.1f} s before the final read")
    if pending:
        details.append(f"{pending} ops never completed")
    detail = f" ({', '.join(details)})" if details else ""
    return f"the history was cut short: it has no end marker{detail}"


def _too_few(acknowledged: int, needed: int) -> str:
    if acknowledged == 0:
        return (
            f"no write was acknowledged (the scenario needs at least {needed} as evidence: "
            "min_acknowledged)"
        )
    return (
        f"only {acknowledged} writes were acknowledged, fewer than the {needed} the scenario "
        "needs as evidence (min_acknowledged)"
    )


@dataclass
class _Tally:
    kind: str = ""
    planned: int = 0
    started: int = 0
    healed: int = 0
    open: int = 0  # started ok, not stopped yet
    start_errors: list[str] = field(default_factory=list)
    heal_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "planned": self.planned,
            "started": self.started,
            "healed": self.healed,
            "failed_to_start": len(self.start_errors),
            "failed_to_heal": len(self.heal_errors),
        }


def _faults(facts: RunFacts, reasons: list[str], whole: bool) -> dict[str, object]:
    tallies: dict[str, _Tally] = {spec.name: _Tally(spec.kind) for spec in facts.faults}
    planned_total = _plan(facts, tallies)
    for op in _nemesis_ops(facts.reading.system_ops):
        _count(tallies, op)
    for name, tally in tallies.items():
        reasons.extend(_fault_reasons(name, tally, whole))
    started = sum(t.started for t in tallies.values())
    failures = any(t.start_errors for t in tallies.values())
    if facts.faults and started == 0 and not failures:
        reasons.append(_no_window(facts, planned_total))
    return {
        "planned": planned_total,
        "started": started,
        "healed": sum(t.healed for t in tallies.values()),
        "failed_to_start": sum(len(t.start_errors) for t in tallies.values()),
        "failed_to_heal": sum(len(t.heal_errors) for t in tallies.values()),
        "per_fault": {name: t.to_json() for name, t in tallies.items()},
    }


def _plan(facts: RunFacts, tallies: dict[str, _Tally]) -> int | None:
    run = facts.run
    if not facts.faults:
        return 0
    if run is None or run.seed is None or run.load_duration_s is None:
        return None
    windows = plan(facts.faults, run.seed, run.load_duration_s)
    for window in windows:
        tallies[facts.faults[window.fault_index].name].planned += 1
    return len(windows)


def _nemesis_ops(system_ops: Iterable[tuple[int, Op]]) -> Iterable[Op]:
    return (op for _, op in system_ops if op.process == NEMESIS)


def _count(tallies: dict[str, _Tally], op: Op) -> None:
    value = op.value if isinstance(op.value, dict) else {}
    name = str(value.get("fault", "?"))
    tally = tallies.setdefault(name, _Tally(str(value.get("kind", "?"))))
    if op.type == "invoke":
        return
    error = op.error or "no error was recorded"
    if op.f == "start":
        if op.type == "ok":
            tally.started += 1
            tally.open += 1
        else:
            tally.start_errors.append(error)
    elif op.f == "stop":
        if op.type == "ok":
            tally.healed += 1
            tally.open = max(0, tally.open - 1)
        else:
            tally.heal_errors.append(error)
            tally.open = max(0, tally.open - 1)


def _fault_reasons(name: str, tally: _Tally, whole: bool) -> list[str]:
    found: list[str] = []
    for error in dict.fromkeys(tally.start_errors):
        failed = tally.start_errors.count(error)
        if tally.started == 0:
            found.append(f"fault {name} never started: {error}")
        else:
            windows = failed + tally.started
            found.append(f"fault {name} failed to start in {failed} of {windows} windows: {error}")
    for error in dict.fromkeys(tally.heal_errors):
        found.append(f"fault {name} did not heal: {error}")
    if tally.open and whole:  # in a history cut short, the heal may be in the missing part
        found.append(f"fault {name} was never healed")
    return found


def _no_window(facts: RunFacts, planned: int | None) -> str:
    count = len(facts.faults)
    faults = "its fault" if count == 1 else f"any of its {count} faults"
    duration = None if facts.run is None else facts.run.load_duration_s
    if planned == 0 and duration is not None:
        first = min(spec.schedule.start for spec in facts.faults)
        return (
            f"no fault window: the scenario has faults but none falls inside the {duration:g} s "
            f"load (the first is due at {first:g} s)"
        )
    return f"no fault window: the run never started {faults}"
