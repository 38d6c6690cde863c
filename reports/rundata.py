"""Everything a report reads from a run directory, loaded without the harness running.

A run cut short may lack any of its files; each one that is missing or unreadable is named in
:attr:`RunData.missing` / :attr:`RunData.problems` so the page can say what it could not show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

from ackguard.harness.final_read import META_FILE as FINAL_READ_META
from ackguard.harness.run_files import (
    DirectoryFile,
    FinalReadMeta,
    PatientRow,
    PractitionerRow,
    RunFile,
    RunFileError,
    Span,
    read_file,
)
from ackguard.harness.verifiers.result import VERDICT_FILE, Valid, Verdict

__all__ = [
    "Cohort",
    "Directory",
    "FinalReadMeta",
    "Patient",
    "Practitioner",
    "RunData",
    "RunDirError",
    "RunInfo",
    "load_run",
]

HISTORY_FILE = "history.jsonl"
RUN_FILE = "run.json"
DIRECTORY_FILE = "directory.json"
SCENARIO_FILE = "scenario.yaml"
KNOWN_FILES = (RUN_FILE, HISTORY_FILE, VERDICT_FILE, FINAL_READ_META, DIRECTORY_FILE, SCENARIO_FILE)


class RunDirError(Exception):
    """The path is not a readable run directory (absent, not a folder, or none of its files)."""


@dataclass(frozen=True, slots=True)
class Cohort:
    """Practitioners a scoped defect touches (``run.json`` cohorts); window in wall clock."""

    name: str
    defect: str
    window: tuple[datetime, datetime] | None
    practitioner_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """``run.json``; every field optional because a run killed early writes it only once."""

    scenario: str | None = None
    description: str | None = None
    seed: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    status: str | None = None
    error: str | None = None
    command: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    time_scale: float | None = None
    sim_start: str | None = None
    expected: Valid | None = None
    cohorts: tuple[Cohort, ...] = ()
    harness_pid: int | None = None

    def wall(self, seconds: float | None) -> datetime | None:
        """The wall-clock moment ``seconds`` after the run started (the history's origin)."""
        if seconds is None or self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=seconds)


Practitioner: TypeAlias = PractitionerRow
Patient: TypeAlias = PatientRow


@dataclass(frozen=True, slots=True)
class Directory:
    """``directory.json`` by server id."""

    practitioners: Mapping[str, Practitioner] = field(default_factory=dict)
    patients: Mapping[str, Patient] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunData:
    path: Path
    name: str
    info: RunInfo | None
    directory: Directory | None
    verdict: Verdict | None
    reasons: tuple[str, ...]  # verdict.json "reasons": why it is not a plain pass, in words
    final_read: FinalReadMeta | None
    scenario_text: str | None
    has_history: bool
    missing: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def expected(self) -> Valid | None:
        if self.info is not None and self.info.expected is not None:
            return self.info.expected
        return self.verdict.expected if self.verdict is not None else None

    @property
    def title(self) -> str:
        return (self.info.scenario if self.info and self.info.scenario else None) or self.name


def load_run(run_dir: Path) -> RunData:
    """Read what the run directory holds; raise :class:`RunDirError` if it holds nothing."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory")
    try:
        present = {name for name in KNOWN_FILES if (run_dir / name).is_file()}
    except OSError as exc:
        raise RunDirError(f"{run_dir} cannot be read: {exc}") from exc
    if not present:
        raise RunDirError(
            f"{run_dir} is not a run directory (none of {', '.join(KNOWN_FILES)} is there)"
        )
    problems: list[str] = []

    def attempt(name: str, load: Any) -> Any:
        if name not in present:
            return None
        try:
            return load()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            detail = exc.detail if isinstance(exc, RunFileError) else exc
            problems.append(f"{name} could not be read: {detail}")
            return None

    info = attempt(RUN_FILE, lambda: _run_info(read_file(run_dir / RUN_FILE, RunFile)))
    directory = attempt(
        DIRECTORY_FILE, lambda: _directory(read_file(run_dir / DIRECTORY_FILE, DirectoryFile))
    )
    verdict_json = attempt(VERDICT_FILE, lambda: _json_object(run_dir / VERDICT_FILE))
    verdict = (
        attempt(VERDICT_FILE, lambda: Verdict.from_json(verdict_json))
        if verdict_json is not None
        else None
    )
    final_read = attempt(
        FINAL_READ_META, lambda: read_file(run_dir / FINAL_READ_META, FinalReadMeta)
    )
    scenario_text = attempt(
        SCENARIO_FILE, lambda: (run_dir / SCENARIO_FILE).read_text(encoding="utf-8")
    )
    return RunData(
        path=run_dir,
        name=run_dir.resolve().name,
        info=info,
        directory=directory,
        verdict=verdict,
        reasons=_reasons(verdict_json) if verdict is not None else (),
        final_read=final_read,
        scenario_text=scenario_text,
        has_history=HISTORY_FILE in present,
        missing=tuple(name for name in KNOWN_FILES if name not in present),
        problems=tuple(problems),
    )


def _json_object(path: Path) -> Mapping[str, Any]:
    data = json.loads(path.read_bytes())  # json, not msgspec: verdicts may hold NaN
    if not isinstance(data, Mapping):
        raise ValueError("not a JSON object")
    return data


def _reasons(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The verdict's reasons as the file says them: older verdict files have none, and the
    page then falls back to the verifiers' own."""
    found = data.get("reasons") or ()
    return tuple(str(reason) for reason in found) if isinstance(found, list | tuple) else ()


def _time(moment: datetime | None) -> datetime | None:
    """A moment of ``run.json``; one written without an offset is UTC (as the harness writes)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _span(span: Span | None) -> tuple[datetime, datetime] | None:
    if span is None or not span.start or not span.until:
        return None
    start, until = (datetime.fromisoformat(text) for text in (span.start, span.until))
    return (_time(start) or start, _time(until) or until)


def _run_info(data: RunFile) -> RunInfo:
    return RunInfo(
        scenario=data.scenario,
        description=data.description,
        seed=data.seed,
        started_at=_time(data.started_at),
        ended_at=_time(data.ended_at),
        duration_s=data.duration_s,
        status=data.status,
        error=data.error,
        command=data.command,
        versions=data.versions,
        time_scale=data.time_scale,
        sim_start=data.sim_start,
        expected=data.expected,
        cohorts=tuple(
            Cohort(c.name, c.defect, _span(c.window), frozenset(c.practitioner_ids))
            for c in data.cohorts
        ),
        harness_pid=data.harness_pid,
    )


def _directory(data: DirectoryFile) -> Directory:
    return Directory(
        {p.id: p for p in data.practitioners},
        {p.id: p for p in data.patients},
    )
