"""The run directory ``runs/<timestamp>-<scenario>/`` and its ``run.json``.

``run.json`` is written when the run starts (status ``running``) and again when it ends, so a
harness killed mid-run still leaves a directory that ``ackguard verify`` and the report can read.
Its ``status`` is one of :data:`STATUSES`; ``harness_pid`` is the process that ran the harness, so
a run still ``running`` whose harness is gone is known to have died.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeAlias

from ackguard.harness.scenario import Scenario

__all__ = [
    "STATUSES",
    "RunInfo",
    "RunMeta",
    "RunStatus",
    "harness_alive",
    "load_run_info",
    "make_run_dir",
    "versions",
]

RunStatus: TypeAlias = Literal["running", "completed", "interrupted", "error"]
STATUSES: tuple[RunStatus, ...] = ("running", "completed", "interrupted", "error")
RUN_FILE = "run.json"


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
    status: RunStatus = "running"
    sim_start: datetime | None = None
    cohorts: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None
    harness_pid: int = field(default_factory=os.getpid)
    load_started_at: datetime | None = None
    interrupted_at: datetime | None = None  # the first Ctrl-C or SIGTERM
    stopped_by: dict[str, object] | None = None  # the stop condition that ended the load early
    service_url: str | None = None
    """The service as practitioners reach it (through the fault proxy when the scenario routes
    the service there): a test running beside the load talks to it."""
    workers: int = 0
    """Locust worker processes that drove the practitioners (0: the harness drove them)."""
    workers_lost: list[str] = field(default_factory=list)
    """How each worker lost mid-run was lost, in words: each makes the verdict unknown."""

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
            "harness_pid": self.harness_pid,
            "load_duration_s": self.scenario.duration,
            "load_started_at": _iso(self.load_started_at),
            "interrupted_at": _iso(self.interrupted_at),
            "stopped_by": self.stopped_by,
            "service_url": self.service_url,
            "command": self.command,
            "versions": versions(self.database),
            "time_scale": self.scenario.time_scale,
            "sim_start": self.sim_start.isoformat() if self.sim_start else None,
            "expected": self.scenario.expect,
            "practitioners": self.scenario.practitioners,
            "cohorts": self.cohorts,
            "workers": self.workers,
            "workers_lost": self.workers_lost,
        }
        tmp = run_dir / "run.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(run_dir / "run.json")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the verdict needs from ``run.json``: how the run ended and when its load ran."""

    status: str
    error: str | None
    harness_pid: int | None
    seed: int | None
    load_duration_s: float | None
    started_at: datetime | None
    load_started_at: datetime | None
    interrupted_at: datetime | None
    ended_at: datetime | None
    stopped_by: str | None = None
    """Why a stop condition ended the load early (``stop_when``), or None."""
    workers_lost: tuple[str, ...] = ()
    """Locust workers lost mid-run, in words (``run.json`` ``workers_lost``)."""

    @property
    def interrupted_after_s(self) -> float | None:
        """Seconds of load before the interruption; ``None`` if the load never started."""
        if self.load_started_at is None or self.interrupted_at is None:
            return None
        return max(0.0, (self.interrupted_at - self.load_started_at).total_seconds())


def load_run_info(run_dir: Path) -> RunInfo | None:
    """``run.json`` of ``run_dir``, or ``None`` when there is none or it cannot be read."""
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return RunInfo(
        status=str(data.get("status")),
        error=_str(data.get("error")),
        harness_pid=_int(data.get("harness_pid")),
        seed=_int(data.get("seed")),
        load_duration_s=_float(data.get("load_duration_s")),
        started_at=_moment(data.get("started_at")),
        load_started_at=_moment(data.get("load_started_at")),
        interrupted_at=_moment(data.get("interrupted_at")),
        ended_at=_moment(data.get("ended_at")),
        stopped_by=_str((data.get("stopped_by") or {}).get("reason"))
        if isinstance(data.get("stopped_by"), dict)
        else None,
        workers_lost=tuple(str(line) for line in data.get("workers_lost") or ()),
    )


def harness_alive(info: RunInfo) -> bool | None:
    """Whether the harness that ran ``info``'s run is still running: ``None`` when run.json has
    no PID. A PID reused by a process that started after the run is not the harness."""
    pid = info.harness_pid
    if pid is None:
        return None
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive, and maybe the harness run by another user
    started = _process_start(pid)
    if started is not None and info.started_at is not None:
        return started <= info.started_at.timestamp() + 1.0
    return True


def _process_start(pid: int) -> float | None:
    """The epoch time ``pid`` started, from /proc (Linux); ``None`` elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces
    try:
        ticks = int(fields[19])  # field 22 of stat: start time in clock ticks since boot
    except (IndexError, ValueError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
