"""Processes a run starts and breaks: a managed child in its own process group with a
ready-file handshake, and the small ``/proc`` helpers that let faults signal the children of a
process the harness started (PostgreSQL's backends) without ever touching anyone else's.

Every child is started through :func:`spawn`, which hands its process group to the harness's
parent-death watch (``harness.services.lifeline``): it goes when the harness goes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ackguard.harness.services import lifeline

__all__ = [
    "ManagedProcess",
    "ProcessRef",
    "ProcessStartError",
    "children_of",
    "group_members",
    "log_tail",
    "signal_all",
    "spawn",
    "wait_gone",
    "wait_stopped",
]

_POLL_S = 0.02


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# -- /proc ------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, start time in clock ticks, process group) of ``pid``, or None when it does
    not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces and ')'
    return fields[0], int(fields[1]), int(fields[19]), int(fields[2])


@dataclass(frozen=True, slots=True)
class ProcessRef:
    """A process as it was when seen: PID plus start time, so that a PID reused by somebody
    else after our process died is never signalled."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        seen = _stat(pid)
        return cls(pid, seen[2] if seen is not None else -1)

    def state(self) -> str | None:
        """The kernel's one-letter state (R, S, T, Z...), None once this process is gone."""
        seen = _stat(self.pid)
        if seen is None or seen[2] != self.start_time:
            return None
        return seen[0]

    def signal(self, sig: int) -> bool:
        """Send ``sig`` if this very process still exists. True when sent."""
        if self.state() in (None, "Z", "X"):
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True


def _live_where(matches: Callable[[tuple[str, int, int, int]], bool]) -> list[ProcessRef]:
    found: list[ProcessRef] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        seen = _stat(int(entry.name))
        if seen is not None and seen[0] not in ("Z", "X") and matches(seen):
            found.append(ProcessRef(int(entry.name), seen[2]))
    return found


def children_of(pid: int) -> list[ProcessRef]:
    """The live processes whose parent is ``pid`` (one scan of /proc)."""
    return _live_where(lambda seen: seen[1] == pid)


def group_members(pgid: int) -> list[ProcessRef]:
    """The live processes of process group ``pgid`` (one scan of /proc)."""
    return _live_where(lambda seen: seen[3] == pgid)


def signal_all(processes: Iterable[ProcessRef], sig: int) -> None:
    for process in processes:
        process.signal(sig)


def wait_gone(processes: Sequence[ProcessRef], timeout: float) -> bool:
    """Wait until every process has exited (a zombie counts as gone). False on timeout."""
    deadline = time.monotonic() + timeout
    while any(p.state() not in (None, "Z", "X") for p in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S)
    return True


def wait_stopped(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` is stopped by a signal (or gone). False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _stat(pid)
        if seen is None or seen[0] in ("T", "t", "Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)


# -- starting children ------------------------------------------------------------------------
def spawn(
    argv: Sequence[str],
    *,
    output: IO[bytes] | int | None,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], ProcessRef]:
    """Start ``argv`` as the leader of a new session and process group, stdin closed, stdout
    and stderr to ``output``, watched by the lifeline from before it runs its program. Raises
    what Popen raises (a command not found is FileNotFoundError)."""
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=None if env is None else dict(env),
        start_new_session=True,
        preexec_fn=lifeline.lifeline.announcing_preexec(),
        **popen,
    )
    ref = ProcessRef.of(process.pid)
    lifeline.watch(ref, announced=True)
    return process, ref


# -- the managed child ------------------------------------------------------------------------
class ProcessStartError(RuntimeError):
    """The child exited, or did not write its ready file in time (the message quotes its log)."""


class ManagedProcess:
    """A child process in its own process group (so signals reach its children too), its output
    appended to ``log_path``. When ``ready_file`` is given, ``start`` waits until the child has
    written one JSON object to it and returns that object."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path,
        ready_file: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = log_path
        self.ready_file = ready_file
        self.ready_timeout = ready_timeout
        self.ready: dict[str, object] = {}
        """What the child wrote to its ready file at the last start."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._ref: ProcessRef | None = None
        self._log: IO[bytes] | None = None
        self._paused = False
        self.last_exit_code: int | None = None
        """How the last child that ended ended (negative: killed by that signal)."""

    @property
    def pid(self) -> int | None:
        """The child's PID (also its process group's id) while it has not exited."""
        return self._proc.pid if self.alive and self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._exited()

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self) -> dict[str, object]:
        """Start the child (no-op while it runs) and wait for its ready file; raise
        ProcessStartError with the end of its log if it exits first or takes longer than
        ``ready_timeout`` seconds (it is then killed)."""
        if self.alive:
            return self.ready
        self._release()
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        try:
            self._proc, self._ref = spawn(self.argv, output=self._log, cwd=self.cwd, env=self.env)
        except OSError:
            self._release()
            raise
        self._paused = False
        self.ready = self._wait_ready() if self.ready_file is not None else {}
        return self.ready

    def _wait_ready(self) -> dict[str, object]:
        assert self.ready_file is not None and self._proc is not None
        deadline = time.monotonic() + self.ready_timeout
        while True:
            ready = self._read_ready(self.ready_file)
            if ready is not None:
                return ready
            if self._exited():
                code = self._proc.wait()
                self._release()
                raise ProcessStartError(
                    f"{self.argv[0]} exited with code {code} before it was ready; "
                    f"end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ProcessStartError(
                    f"{self.argv[0]} did not write {self.ready_file} within "
                    f"{self.ready_timeout:g} s; end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(_POLL_S)

    @staticmethod
    def _read_ready(path: Path) -> dict[str, object] | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            value = json.loads(text.strip().splitlines()[0]) if text.strip() else None
        except json.JSONDecodeError:
            return None  # half written: read again
        return value if isinstance(value, dict) else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the child's process group. After SIGKILL, waits (at most 10 s) for
        the child to exit and reaps it. A paused child is continued so it can act on ``sig``."""
        if not self.alive:
            return
        self._signal_group(sig)
        if self._paused:
            self.resume()
        if sig == signal.SIGKILL:
            self._wait_exit(10.0)
            self._release()

    def pause(self) -> None:
        """SIGSTOP the process group: connections are accepted by the kernel, never answered."""
        if self.alive and not self._paused:
            self._signal_group(signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._signal_group(signal.SIGCONT)

    def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL after ``timeout`` seconds; reap. Never leaves the
        group's processes behind."""
        if self.alive:
            self.kill(signal.SIGTERM)
            if not self._wait_exit(timeout):
                self._signal_group(signal.SIGKILL)
                self._wait_exit(10.0)
        self._release()

    def restart(self) -> dict[str, object]:
        """Terminate if running (no-op after a kill), then start and wait until ready."""
        self.terminate()
        return self.start()

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.terminate()

    # -- internals -----------------------------------------------------------------------------
    def _exited(self) -> bool:
        """Whether the child exited, without reaping it: while it is an unreaped zombie its
        process group id cannot be reused, so signalling the group stays safe."""
        assert self._proc is not None
        if self._proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._exited():
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def _signal_group(self, sig: int) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _release(self) -> None:
        """The leader has exited: kill what is left of its group, reap it, close the log."""
        if self._proc is not None and self._exited():
            self._signal_group(signal.SIGKILL)  # stragglers; the unreaped leader pins the pgid
            self.last_exit_code = self._proc.wait()
            self._proc = None
            if self._ref is not None:
                lifeline.forget(self._ref)
                self._ref = None
        if self._proc is None and self._log is not None:
            self._log.close()
            self._log = None
        self._paused = False
