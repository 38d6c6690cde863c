"""Verify a run directory from what it stores: the history, the final read, the scenario and
``run.json``.

Used at the end of ``ackguard run`` and by ``ackguard verify``. The verifiers' answer is combined
with the run's evidence (:mod:`harness.verifiers.evidence`): an interrupted, failed or dead run,
a fault that never acted, too few acknowledged writes or a damaged history make it unknown, with
the reasons in words. When a run has no final read (the harness was killed before it), the final
state can still be read straight from the database: the run's own SQLite file, or a URL given on
the command line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ackguard.harness.final_read import (
    final_read_from_database,
    load_final_read,
    own_database_url,
    write_final_read,
)
from ackguard.harness.history import HistoryReading
from ackguard.harness.live.detect import scan_live_reads, time_to_detect
from ackguard.harness.run_dir import RunInfo, load_run_info
from ackguard.harness.scenario import Scenario, ScenarioError, parse_scenario
from ackguard.harness.verifiers import verifiers_named
from ackguard.harness.verifiers.compose import compose_history
from ackguard.harness.verifiers.evidence import RunFacts, check_evidence, judge
from ackguard.harness.verifiers.parallel import default_jobs, default_parts
from ackguard.harness.verifiers.result import Verdict, write_verdict

__all__ = ["final_read_from_database", "verify_run"]

DEFAULT_VERIFIERS = ("records", "read_your_writes")
HISTORY_FILE = "history.jsonl"


def verify_run(
    run_dir: Path,
    *,
    database_url: str | None = None,
    jobs: int | None = None,
    parts: int | None = None,
) -> Verdict:
    """Compose the scenario's verifiers over the stored run, weigh the evidence, write
    ``verdict.json``. ``jobs``: processes checking the records, each a part of them (default:
    :func:`~harness.verifiers.parallel.default_jobs`, by the size of the history); ``parts``:
    more parts than processes are checked in waves, for memory (default:
    :func:`~harness.verifiers.parallel.default_parts`, by the memory available)."""
    run = load_run_info(run_dir)
    scenario, scenario_error = _stored_scenario(run_dir, run)
    names = scenario.verifiers if scenario is not None else DEFAULT_VERIFIERS
    expected = scenario.expect if scenario is not None else None
    final_read = load_final_read(run_dir, records=False)  # parts load their own
    if final_read is None:
        url = database_url or own_database_url(run_dir)
        if url is not None:
            final_read = final_read_from_database(url, time_ns=None)
            write_final_read(run_dir, final_read)
    reading = HistoryReading()
    history = run_dir / HISTORY_FILE
    live_reads = scan_live_reads(history)
    processes = default_jobs(history) if jobs is None else jobs
    composed = compose_history(
        verifiers_named(names),
        history,
        final_read,
        expected,
        reading=reading,
        final_dir=run_dir,
        jobs=processes,
        parts=default_parts(history, processes) if parts is None else parts,
        keys=live_reads.answered.keys(),
    )
    facts = RunFacts(
        reading=reading,
        index=composed.index,
        final_read=composed.final_read,
        run=run,
        faults=scenario.faults if scenario is not None else (),
        min_acknowledged=scenario.min_acknowledged if scenario is not None else 1,
        scenario_error=scenario_error,
    )
    verdict = judge(composed.verdict, check_evidence(facts))
    results, live = time_to_detect(
        verdict.results,
        composed.index,
        live_reads,
        reading.system_ops,
        scenario.live.confirm_after if scenario is not None and scenario.live else 1.0,
    )
    verdict = replace(verdict, results=results, live=live)
    write_verdict(run_dir, verdict)
    return verdict


def _stored_scenario(run_dir: Path, run: RunInfo | None) -> tuple[Scenario | None, str | None]:
    """The scenario the run stored, with the duration and seed the run really had (command-line
    overrides, a random seed), or why it cannot be read (no file: a run from elsewhere, judged on
    its history alone)."""
    path = run_dir / "scenario.yaml"
    if not path.exists():
        return None, None
    duration = run.load_duration_s if run is not None else None
    seed = run.seed if run is not None else None
    try:
        text = path.read_text(encoding="utf-8")
        scenario = parse_scenario(text, str(path), duration=duration, seed=seed, cross_checks=False)
        return scenario, None
    except (ScenarioError, OSError, UnicodeDecodeError) as exc:
        return None, str(exc)
