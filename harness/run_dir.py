"""The run directory ``runs/<timestamp>-<scenario>/`` and its ``run.json``.

``run.json`` is written when the run starts (status ``running``) and again when it ends, so a
harness killed mid-run still leaves a directory that ``ackguard verify`` and the report can read.
"""

from __future__ import annotations

import json
import platform
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from harness.scenario import Scenario

__all__ = ["RunMeta", "make_run_dir", "versions"]


def make_run_dir(runs_dir: Path, scenario_name: str) -> Path:
    """A new folder named after the UTC start time and the scenario; never reuses one."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for attempt in range(1000):
        suffix = "" if attempt == 0 else f"-{attempt}"
        candidate = runs_dir / f"{stamp}-{scenario_name}{suffix}"
        try:
            candidate.mkdir(mode=0o700)
        except FileExistsError:
            continue
        candidate.chmod(0o700)  # patient-like data: private whatever the umask
        return candidate.resolve()
    raise RuntimeError(f"cannot create a run directory in {runs_dir}")


def versions(database: str) -> dict[str, str]:
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in ("ackguard", "locust", "sqlalchemy", "faker", "fastapi", "uvicorn"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["database"] = database
    return found


@dataclass
class RunMeta:
    """What ``run.json`` holds; see the run directory contract in DESIGN.md."""

    scenario: Scenario
    command: str
    database: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    status: str = "running"
    sim_start: datetime | None = None
    cohorts: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None

    def write(self, run_dir: Path) -> None:
        ended = self.ended_at
        data = {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "seed": self.scenario.seed,
            "started_at": self.started_at.isoformat(),
            "ended_at": ended.isoformat() if ended else None,
            "duration_s": (ended - self.started_at).total_seconds() if ended else None,
            "status": self.status,
            "error": self.error,
            "command": self.command,
            "versions": versions(self.database),
            "time_scale": self.scenario.time_scale,
            "sim_start": self.sim_start.isoformat() if self.sim_start else None,
            "expected": self.scenario.expect,
            "practitioners": self.scenario.practitioners,
            "cohorts": self.cohorts,
        }
        tmp = run_dir / "run.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(run_dir / "run.json")
