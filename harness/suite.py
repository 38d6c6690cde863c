"""``ackguard suite``: run scenarios one after another and judge each against its expectation.

A scenario's *outcome* in a suite is ``OK`` (its verdict is what was expected: an expected FAIL
that failed is OK), ``MISMATCH`` (a verdict, not the expected one), ``UNKNOWN`` (no verdict to
compare: unknown though PASS or FAIL was expected, interrupted, or the harness failed) or
``NOT RUN`` (the suite was stopped before it). A scenario without any expectation is expected to
PASS. The exit code: 0 when every outcome is OK, 2 when any is UNKNOWN or NOT RUN (an incomplete
suite, Ctrl-C included), else 1 when any is a MISMATCH.

Every scenario is loaded and checked before the first one starts. Each runs in this process as
``ackguard run`` does; after each, the suite's ``junit.xml`` and ``suite.html`` are written again,
so a suite killed half-way still leaves what it found.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Literal, TypeAlias

from ackguard.harness.scenario import Scenario, ScenarioError, catalogue, load_scenario
from ackguard.harness.scenario_fields import parse_duration
from ackguard.harness.suite_file import SuiteEntry, collect_entries, expect_word
from ackguard.harness.verifiers.result import Valid

__all__ = [
    "OUTCOMES",
    "Outcome",
    "Planned",
    "ScenarioOutcome",
    "SuiteError",
    "outcome_of",
    "plan_from_options",
    "plan_suite",
    "suite_command",
    "suite_exit_code",
    "summary_line",
]

Outcome: TypeAlias = Literal["OK", "MISMATCH", "UNKNOWN", "NOT RUN"]
OUTCOMES: tuple[Outcome, ...] = ("OK", "MISMATCH", "UNKNOWN", "NOT RUN")
EXIT_OK, EXIT_MISMATCH, EXIT_UNKNOWN = 0, 1, 2
_NOT_JUDGED = ("interrupted", "error")
"""Run statuses whose verdict a suite does not take as an answer."""


class SuiteError(ValueError):
    """The suite cannot start: every bad argument or scenario, one per line."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A scenario loaded and checked, with what the suite expects of it."""

    label: str
    entry: SuiteEntry
    scenario: Scenario
    expected: Valid

    @property
    def command(self) -> str:
        """The ``ackguard run`` line that replays this scenario alone."""
        replay = ["--duration", f"{self.scenario.duration:g}s", "--seed", str(self.scenario.seed)]
        return shlex.join(["ackguard", "run", self.entry.scenario, *replay])


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """How one scenario of the suite ended."""

    label: str
    scenario: str
    expected: Valid
    verdict: Valid | None
    outcome: Outcome
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    run_dir: Path | None = None
    report: Path | None = None
    duration_s: float = 0.0
    seed: int | None = None
    command: str = ""


def outcome_of(verdict: Valid | None, expected: Valid, status: str) -> Outcome:
    """The suite's judgement of one run (``verdict`` None: it did not run)."""
    if verdict is None:
        return "NOT RUN"
    if status in _NOT_JUDGED:
        return "UNKNOWN"
    if verdict == expected:
        return "OK"
    return "UNKNOWN" if verdict == "unknown" else "MISMATCH"


def suite_exit_code(outcomes: Iterable[Outcome]) -> int:
    """0 all OK; 2 anything UNKNOWN or NOT RUN (or nothing at all); else 1 for a MISMATCH."""
    seen = list(outcomes)
    if not seen or any(o in ("UNKNOWN", "NOT RUN") for o in seen):
        return EXIT_UNKNOWN
    return EXIT_MISMATCH if "MISMATCH" in seen else EXIT_OK


def plan_suite(
    entries: Sequence[SuiteEntry], *, duration: float | None = None, seed: int | None = None
) -> list[Planned]:
    """Every entry loaded and checked (the entry's duration and seed before the command
    line's). Raises :class:`SuiteError` naming every scenario that cannot run."""
    if not entries:
        raise SuiteError(
            "no scenario to run: name scenarios, files, a folder, a suite file or give --catalogue"
        )
    problems: list[str] = []
    planned: list[Planned] = []
    seen: dict[str, int] = {}
    for entry in entries:
        try:
            scenario = load_scenario(
                entry.scenario,
                duration=entry.duration if entry.duration is not None else duration,
                seed=entry.seed if entry.seed is not None else seed,
            )
        except ScenarioError as exc:
            problems.append(f"{exc}" + (f" (named at {entry.where})" if entry.where else ""))
            continue
        count = seen[scenario.name] = seen.get(scenario.name, 0) + 1
        label = scenario.name if count == 1 else f"{scenario.name} #{count}"
        expected = next(e for e in (entry.expect, scenario.expect, True) if e is not None)
        planned.append(Planned(label, entry, scenario, expected))
    if problems:
        raise SuiteError("\n".join(problems))
    return planned


def summary_line(done: ScenarioOutcome, width: int = 30) -> str:
    """``name  verdict  expected  outcome  counts  report`` for one scenario."""
    verdict = "-" if done.verdict is None else expect_word(done.verdict)
    where = done.report or done.run_dir or "no run directory"
    return (
        f"{done.label:{width}} {verdict:7} expected {expect_word(done.expected):7} "
        f"{done.outcome:8} {_counts_words(done)}  {where}"
    )


def _counts_words(done: ScenarioOutcome) -> str:
    from ackguard.reports.words import damage_counts

    if done.verdict is None:
        return "not run"
    counts = done.counts
    parts = [f"{counts.get('acknowledged', 0):,} acknowledged records"]
    damage = damage_counts(counts)
    parts += [f"{n:,} {kind}" for kind, n in damage.items()] or ["no damage"]
    if counts.get("indeterminate", 0):
        parts.append(f"{counts['indeterminate']:,} operations indeterminate")
    return ", ".join(parts)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _run_one(planned: Planned, runs_dir: Path, progress: Callable[[str], None]) -> ScenarioOutcome:
    """Run one scenario as ``ackguard run`` does, render its report, judge it."""
    from ackguard.harness.run import run_scenario
    from ackguard.harness.summary import summary, verdict_reasons

    started = time.monotonic()
    base = _not_run(planned, "")
    try:
        ran = run_scenario(
            planned.scenario, runs_dir=runs_dir, command=planned.command, progress=progress
        )
    except Exception as exc:  # no verdict: this scenario is unknown, the suite goes on
        reason = f"harness error: {type(exc).__name__}: {exc}"
        progress(f"suite: {planned.label}: {reason}")
        return replace(
            base,
            verdict="unknown",
            outcome="UNKNOWN",
            status="error",
            reasons=(reason,),
            duration_s=time.monotonic() - started,
        )
    status = ran.status
    try:
        report = _render(ran.run_dir, progress)
    except KeyboardInterrupt:  # the verdict is in verdict.json; the suite stops after it
        report, status = None, "interrupted"
    progress(summary(ran.run_dir, ran.verdict, ran.status, report))
    reasons = verdict_reasons(ran.verdict)
    if status == "interrupted":
        reasons = ("interrupted: the suite was stopped during this run", *reasons)
    return replace(
        base,
        verdict=ran.verdict.valid,
        outcome=outcome_of(ran.verdict.valid, planned.expected, status),
        status=status,
        counts=dict(ran.verdict.counts),
        reasons=reasons,
        run_dir=ran.run_dir,
        report=report,
        duration_s=time.monotonic() - started,
    )


def _render(run_dir: Path, progress: Callable[[str], None]) -> Path | None:
    from ackguard import reports

    try:
        return Path(reports.render_run(run_dir).html)
    except Exception as exc:  # the verdict stands even if the page cannot be drawn
        progress(f"ackguard: the report of {run_dir} could not be rendered: {exc}")
        return None


def _not_run(planned: Planned, why: str) -> ScenarioOutcome:
    scenario = planned.scenario
    return ScenarioOutcome(
        label=planned.label,
        scenario=scenario.name,
        expected=planned.expected,
        verdict=None,
        outcome="NOT RUN",
        status="not run",
        reasons=(why,) if why else (),
        seed=scenario.seed,
        command=planned.command,
    )


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # a CI job cancelled between runs stops like Ctrl-C


def plan_from_options(options: argparse.Namespace) -> tuple[str, list[Planned]]:
    """The suite's name and its checked plan from ``ackguard suite``'s arguments. Raises
    :class:`SuiteError` or :class:`ScenarioError` saying what is wrong."""
    try:
        seconds = parse_duration(options.duration) if options.duration is not None else None
    except ValueError as exc:
        raise SuiteError(f"--duration: {exc}") from None
    names = list(catalogue()) if options.catalogue else []
    name, entries = collect_entries(options.scenarios, catalogue_names=names)
    default = "catalogue" if options.catalogue and not options.scenarios else "suite"
    return name or default, plan_suite(entries, duration=seconds, seed=options.seed)


def suite_command(options: argparse.Namespace) -> int:
    """The ``ackguard suite`` handler (arguments as ``harness.cli`` parses them)."""
    try:
        name, plan = plan_from_options(options)
    except (ScenarioError, SuiteError) as exc:
        print(f"ackguard suite: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    runs_dir: Path = options.runs_dir
    started = datetime.now(UTC)
    junit: Path = options.junit or _suite_dir(runs_dir, started) / "junit.xml"
    junit.parent.mkdir(parents=True, exist_ok=True)
    return _run_plan(name, plan, runs_dir, junit, started)


def _run_plan(
    name: str, plan: list[Planned], runs_dir: Path, junit: Path, started: datetime
) -> int:
    width = max(len(p.label) for p in plan)
    total = sum(p.scenario.duration for p in plan)
    _say(f"{name}: {len(plan)} scenarios, {total:g}s of load; junit: {junit}")
    done: list[ScenarioOutcome] = []
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        for index, planned in enumerate(plan, 1):
            _say(f"suite: [{index}/{len(plan)}] {planned.label}: {planned.command}")
            try:
                outcome = _run_one(planned, runs_dir, _say)
            except KeyboardInterrupt:
                outcome = _not_run(planned, "interrupted before its run started")
            done.append(outcome)
            print(summary_line(outcome, width), flush=True)
            _write(name, done, plan, junit, started)
            if outcome.status == "interrupted" or outcome.outcome == "NOT RUN":
                break
    except KeyboardInterrupt:
        pass  # between two runs: the rest is reported as not run
    finally:
        signal.signal(signal.SIGTERM, previous)
    stopped = len(done) < len(plan)
    for planned in plan[len(done) :]:
        done.append(_not_run(planned, "not run: the suite was stopped before it"))
        print(summary_line(done[-1], width), flush=True)
    _write(name, done, plan, junit, started)
    _index(runs_dir)
    code = suite_exit_code(o.outcome for o in done)
    tally = ", ".join(f"{sum(o.outcome == k for o in done)} {k}" for k in OUTCOMES)
    print(f"{name}: {tally}{' (stopped)' if stopped else ''}; exit {code}")
    print(f"junit: {junit}\npage: {junit.parent / 'suite.html'}")
    return code


def _write(
    name: str, done: list[ScenarioOutcome], plan: list[Planned], junit: Path, started: datetime
) -> None:
    """junit.xml and suite.html as they stand: the scenarios still to run are listed as such."""
    from ackguard.reports.suite_junit import write_suite_junit
    from ackguard.reports.suite_page import write_suite_page

    shown = [*done, *(_not_run(p, "pending") for p in plan[len(done) :])]
    write_suite_junit(name, shown, junit, started=started)
    write_suite_page(name, shown, junit.parent / "suite.html", started=started)


def _index(runs_dir: Path) -> None:
    from ackguard import reports

    try:
        reports.render_index(runs_dir)
    except Exception as exc:  # the suite's verdicts stand without the index
        _say(f"ackguard: the runs index could not be rendered: {exc}")


def _suite_dir(runs_dir: Path, started: datetime) -> Path:
    """``<runs-dir>/suite-<timestamp>``, a new folder (never another suite's)."""
    stamp = started.strftime("%Y%m%dT%H%M%S")
    runs_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        candidate = runs_dir / (f"suite-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            candidate.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"cannot create a suite directory in {runs_dir}")
