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
from typing import Any

from ackguard.harness.final_read import META_FILE as FINAL_READ_META
from ackguard.harness.verifiers.result import VERDICT_FILE, Valid, Verdict, load_verdict

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


@dataclass(frozen=True, slots=True)
class Practitioner:
    id: str
    rpps: str
    name: str
    specialty: str


@dataclass(frozen=True, slots=True)
class Patient:
    id: str
    name: str
    national_id: str


@dataclass(frozen=True, slots=True)
class Directory:
    practitioners: Mapping[str, Practitioner] = field(default_factory=dict)
    patients: Mapping[str, Patient] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FinalReadMeta:
    """``final_read.json``: where the final read came from, and when it began (s since start)."""

    source: str
    complete: bool
    records: int
    error: str | None
    time_s: float | None


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
            problems.append(f"{name} could not be read: {exc}")
            return None

    info = attempt(RUN_FILE, lambda: _run_info(_json(run_dir / RUN_FILE)))
    directory = attempt(DIRECTORY_FILE, lambda: _directory(_json(run_dir / DIRECTORY_FILE)))
    verdict = attempt(VERDICT_FILE, lambda: load_verdict(run_dir))
    reasons = attempt(VERDICT_FILE, lambda: _reasons(_json(run_dir / VERDICT_FILE))) or ()
    final_read = attempt(FINAL_READ_META, lambda: _final_read(_json(run_dir / FINAL_READ_META)))
    scenario_text = attempt(
        SCENARIO_FILE, lambda: (run_dir / SCENARIO_FILE).read_text(encoding="utf-8")
    )
    return RunData(
        path=run_dir,
        name=run_dir.resolve().name,
        info=info,
        directory=directory,
        verdict=verdict,
        reasons=reasons,
        final_read=final_read,
        scenario_text=scenario_text,
        has_history=HISTORY_FILE in present,
        missing=tuple(name for name in KNOWN_FILES if name not in present),
        problems=tuple(problems),
    )


def _json(path: Path) -> Mapping[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, Mapping):
        raise ValueError("not a JSON object")
    return data


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _reasons(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Older verdict files have no ``reasons``: an empty tuple, and the page falls back."""
    found = data.get("reasons") or ()
    return tuple(str(reason) for reason in found) if isinstance(found, list | tuple) else ()


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _run_info(data: Mapping[str, Any]) -> RunInfo:
    cohorts = []
    for entry in data.get("cohorts") or []:
        window = entry.get("window")
        start, until = (
            (_time(window.get("from")), _time(window.get("until"))) if window else (None, None)
        )
        cohorts.append(
            Cohort(
                name=str(entry.get("name", "")),
                defect=str(entry.get("defect", "")),
                window=(start, until) if start and until else None,
                practitioner_ids=frozenset(str(p) for p in entry.get("practitioner_ids") or ()),
            )
        )
    expected = data.get("expected")
    return RunInfo(
        scenario=_optional_str(data.get("scenario")),
        description=_optional_str(data.get("description")),
        seed=_optional_int(data.get("seed")),
        started_at=_time(data.get("started_at")),
        ended_at=_time(data.get("ended_at")),
        duration_s=_optional_float(data.get("duration_s")),
        status=_optional_str(data.get("status")),
        error=_optional_str(data.get("error")),
        command=_optional_str(data.get("command")),
        versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
        time_scale=_optional_float(data.get("time_scale")),
        sim_start=_optional_str(data.get("sim_start")),
        expected=expected if expected in (True, False, "unknown") else None,
        cohorts=tuple(cohorts),
        harness_pid=_optional_int(data.get("harness_pid")),
    )


def _directory(data: Mapping[str, Any]) -> Directory:
    practitioners = {
        str(p["id"]): Practitioner(
            str(p["id"]),
            str(p.get("rpps", "")),
            str(p.get("name", "")),
            str(p.get("specialty", "")),
        )
        for p in data.get("practitioners") or []
    }
    patients = {
        str(p["id"]): Patient(str(p["id"]), str(p.get("name", "")), str(p.get("national_id", "")))
        for p in data.get("patients") or []
    }
    return Directory(practitioners, patients)


def _final_read(data: Mapping[str, Any]) -> FinalReadMeta:
    time_ns = data.get("time")
    return FinalReadMeta(
        source=str(data.get("source", "")),
        complete=bool(data.get("complete")),
        records=int(data.get("records") or 0),
        error=_optional_str(data.get("error")),
        time_s=time_ns / 1e9 if isinstance(time_ns, int | float) else None,
    )
