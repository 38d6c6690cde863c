"""The run directory ``runs/<timestamp>-<scenario>/`` and its ``run.json``.

``run.json`` is written when the run starts (status ``running``) and again when it ends, so a
harness killed mid-run still leaves a directory that ``ackguard verify`` and the report can read.
Its ``status`` is one of :data:`STATUSES`; ``harness_pid`` is the process that ran the harness, so
a run still ``running`` whose harness is gone is known to have died.
"""

from __future__ import annotations

import os
import platform
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import msgspec

from ackguard.harness.run_files import (
    STATUSES,
    CohortEntry,
    RunFile,
    RunFileError,
    RunStatus,
    read_file,
    write_file,
)
from ackguard.harness.scenario import Scenario

__all__ = [
    "STATUSES",
    "RunInfo",
    "RunMeta",
    "RunStatus",
    "harness_alive",
    "load_run_info",
    "make_run_dir",
    "read_run_file",
    "versions",
]

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
    """The run as the harness keeps it while it runs; :meth:`write` saves it as ``run.json``
    (:class:`harness.run_files.RunFile`, the one definition of that file)."""

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
        write_file(run_dir / RUN_FILE, self.to_file())

    def to_file(self) -> RunFile:
        """This run as ``run.json`` says it (:class:`harness.run_files.RunFile`)."""
        ended = self.ended_at
        return RunFile(
            scenario=self.scenario.name,
            description=self.scenario.description,
            seed=self.scenario.seed,
            started_at=self.started_at,
            ended_at=ended,
            duration_s=(ended - self.started_at).total_seconds() if ended else None,
            status=self.status,
            error=self.error,
            harness_pid=self.harness_pid,
            load_duration_s=self.scenario.duration,
            load_started_at=self.load_started_at,
            interrupted_at=self.interrupted_at,
            stopped_by=self.stopped_by,
            service_url=self.service_url,
            command=self.command,
            versions=versions(self.database),
            time_scale=self.scenario.time_scale,
            sim_start=self.sim_start.isoformat() if self.sim_start else None,
            expected=self.scenario.expect,
            practitioners=self.scenario.practitioners,
            cohorts=msgspec.convert(self.cohorts, list[CohortEntry]),
            workers=self.workers,
            workers_lost=list(self.workers_lost),
        )


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
    scenario: str | None = None
    """The scenario's name; ``None`` (or empty) in a run.json that does not name it."""

    @property
    def interrupted_after_s(self) -> float | None:
        """Seconds of load before the interruption; ``None`` if the load never started."""
        if self.load_started_at is None or self.interrupted_at is None:
            return None
        return max(0.0, (self.interrupted_at - self.load_started_at).total_seconds())


def load_run_info(run_dir: Path) -> RunInfo | None:
    """``run.json`` of ``run_dir``, or ``None`` when there is none or it cannot be read (a
    :class:`harness.run_files.RunFileError` from :func:`read_run_file` says why)."""
    try:
        data = read_run_file(run_dir)
    except (OSError, RunFileError):
        return None
    stopped = data.stopped_by or {}
    return RunInfo(
        status=str(data.status),
        error=data.error,
        harness_pid=data.harness_pid,
        seed=data.seed,
        load_duration_s=data.load_duration_s,
        started_at=data.started_at,
        load_started_at=data.load_started_at,
        interrupted_at=data.interrupted_at,
        ended_at=data.ended_at,
        stopped_by=None if stopped.get("reason") is None else str(stopped["reason"]),
        workers_lost=tuple(data.workers_lost),
        scenario=data.scenario,
    )


def read_run_file(run_dir: Path) -> RunFile:
    """``run_dir``'s ``run.json``; :class:`harness.run_files.RunFileError` names a bad field."""
    return read_file(run_dir / RUN_FILE, RunFile)


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
