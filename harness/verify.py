"""Verify a run directory from what it stores: the history, the final read and the scenario.

Used at the end of ``ackguard run`` and by ``ackguard verify``. When a run has no final read (the
harness was killed before it), the final state can still be read straight from the database: the
run's own SQLite file, or a URL given on the command line.
"""

from __future__ import annotations

from pathlib import Path

from harness.database_read import read_database
from harness.final_read import FinalRead, load_final_read, write_final_read
from harness.scenario import ScenarioError, parse_scenario
from harness.verifiers import compose_file, verifiers_named
from harness.verifiers.result import Valid, Verdict, write_verdict

__all__ = ["final_read_from_database", "verify_run"]

DEFAULT_VERIFIERS = ("records", "read_your_writes")


def final_read_from_database(url: str, *, time_ns: int | None) -> FinalRead:
    return read_database(url, time_ns=time_ns)


def verify_run(run_dir: Path, *, database_url: str | None = None) -> Verdict:
    """Compose the scenario's verifiers over the stored run, write ``verdict.json``."""
    names, expected = _scenario_settings(run_dir)
    final_read = load_final_read(run_dir)
    if final_read is None:
        url = database_url or _own_database(run_dir)
        if url is not None:
            final_read = final_read_from_database(url, time_ns=None)
            write_final_read(run_dir, final_read)
    history = run_dir / "history.jsonl"
    verdict = compose_file(verifiers_named(names), history, final_read, expected=expected)
    write_verdict(run_dir, verdict)
    return verdict


def _scenario_settings(run_dir: Path) -> tuple[tuple[str, ...], Valid | None]:
    path = run_dir / "scenario.yaml"
    if not path.exists():
        return DEFAULT_VERIFIERS, None
    try:
        scenario = parse_scenario(path.read_text(encoding="utf-8"), str(path))
    except ScenarioError:
        return DEFAULT_VERIFIERS, None
    return scenario.verifiers, scenario.expect


def _own_database(run_dir: Path) -> str | None:
    sqlite_file = run_dir / "consultations.db"
    return f"sqlite:///{sqlite_file.resolve()}" if sqlite_file.exists() else None
