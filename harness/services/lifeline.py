"""The harness's side of its parent-death watch (see ``harness.services.watchdog``).

The first time a process asks for it, a watchdog process is started in a session of its own
with a pipe on its stdin; the write end stays in this process only (closed in every child when
it runs its program). Every process group the harness starts is announced on it, by the child
itself between fork and exec so that it is never unwatched, and forgotten when it ends
normally. If this process dies, however it dies, the pipe reaches end of file and the watchdog
kills what is left, with the processes those groups started, daemons included.

``PR_SET_PDEATHSIG`` is kept for the short commands that are not process-group leaders
(``initdb``): on the run's groups it would kill a leader before the watchdog could see which
daemons it had started.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ackguard.harness.services.process import ProcessRef

__all__ = [
    "Lifeline",
    "forget",
    "keep",
    "lifeline",
    "parent_death_preexec",
    "remove_on_death",
    "watch",
]

_PR_SET_PDEATHSIG = 1
_WATCHDOG = Path(__file__).with_name("watchdog.py")


class Lifeline:
    """One watchdog per process, started on first use and restarted (with everything announced
    so far) if somebody killed it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None  # the watchdog
        self._fd = -1  # the write end of its stdin
        self._owner = 0  # the PID that started the watchdog: a forked child must not use it
        self._announced: dict[str, None] = {}  # "watch ..." and "remove ..." lines, in order

    @property
    def pid(self) -> int | None:
        """The watchdog's PID while it runs."""
        with self._lock:
            return self._pid if self._running() else None

    def start(self) -> None:
        """Start the watchdog if this process has none running."""
        with self._lock:
            self._ensure()

    def announce(self, line: str, *, undo: str | None = None) -> None:
        """Send one line; ``undo`` names an earlier line this one cancels (kept for replay)."""
        with self._lock:
            if undo is not None:
                self._announced.pop(undo, None)
            else:
                self._announced[line] = None
            fd = self._ensure()
            try:
                _write_all(fd, line.encode("utf-8", "surrogateescape") + b"\n")
            except OSError:  # the watchdog was killed: start another, which gets a replay
                self._forget_watchdog()
                self._ensure()

    def announcing_preexec(self) -> Callable[[], None]:
        """A ``preexec_fn`` by which a new child announces its own process group to the
        watchdog before it runs its program: no instant where it lives unwatched. The parent
        then calls :meth:`record` with the same line (kept for a replay)."""
        with self._lock:
            fd = self._ensure()

        def preexec() -> None:
            pid = os.getpid()
            try:
                with open(f"/proc/{pid}/stat", "rb") as stat:
                    raw = stat.read()
                start = raw[raw.rfind(b")") + 2 :].split()[19]
                os.write(fd, b"watch %d %s\n" % (pid, start))
            except (OSError, IndexError):
                pass  # the parent announces it again (record) if the watchdog was restarted

        return preexec

    def record(self, line: str) -> None:
        """Keep ``line``, which a child already sent, for a replay; if the watchdog died in
        the meantime, start another one (which gets every line kept so far)."""
        with self._lock:
            self._announced[line] = None
            self._ensure()

    def close(self, timeout: float = 10.0) -> None:
        """End the watch on purpose: the watchdog kills whatever announced group is still
        alive, then exits. Used by tests; a harness simply exits."""
        with self._lock:
            self._announced.clear()
            if self._pid is None or self._owner != os.getpid():
                return
            pid = self._pid
            self._forget_watchdog()
            deadline = time.monotonic() + timeout
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
                    time.sleep(0.02)

    def _running(self) -> bool:
        if self._pid is None or self._owner != os.getpid():
            return False
        try:
            return os.waitpid(self._pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:  # reaped by somebody else: it is gone all the same
            return False

    def _forget_watchdog(self) -> None:
        if self._fd >= 0 and self._owner == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._pid, self._fd = None, -1

    def _ensure(self) -> int:
        """The write end of a running watchdog's pipe (started, with a replay, if needed)."""
        if self._running():
            return self._fd
        self._forget_watchdog()
        read_end, write_end = os.pipe()  # neither is inherited by the children we start
        try:
            pid = os.posix_spawn(
                sys.executable,
                # By path and isolated: it imports nothing but the standard library, so nothing
                # half-edited or slow in the package can keep it from starting.
                [sys.executable, "-I", str(_WATCHDOG)],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, read_end, 0),
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
                setsid=True,  # out of reach of a Ctrl-C or a signal to our group
            )
        finally:
            os.close(read_end)
        self._pid, self._fd, self._owner = pid, write_end, os.getpid()
        replay = b"".join(
            line.encode("utf-8", "surrogateescape") + b"\n" for line in self._announced
        )
        with contextlib.suppress(OSError):
            _write_all(write_end, replay)
        return write_end


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


lifeline = Lifeline()
"""This process's watch."""


def watch(process: ProcessRef, *, announced: bool = False) -> None:
    """Kill the process group led by ``process`` if the harness dies. ``announced``: the child
    already said so itself (``Lifeline.announcing_preexec``)."""
    line = f"watch {process.pid} {process.start_time}"
    if announced:
        lifeline.record(line)
    else:
        lifeline.announce(line)


def forget(process: ProcessRef) -> None:
    """The group led by ``process`` ended normally."""
    line = f"watch {process.pid} {process.start_time}"
    lifeline.announce(f"forget {process.pid} {process.start_time}", undo=line)


def remove_on_death(directory: os.PathLike[str] | str) -> None:
    """Delete ``directory`` (after the groups are gone) if the harness dies."""
    lifeline.announce(f"remove {os.fspath(directory)}")


def keep(directory: os.PathLike[str] | str) -> None:
    """``directory`` was removed normally: nothing to do for it any more."""
    path = os.fspath(directory)
    lifeline.announce(f"keep {path}", undo=f"remove {path}")


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


_PRCTL = _prctl()


def parent_death_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies, or None where
    that does not apply. The kernel sends it when the *thread* that forked the child ends, so
    it is offered only to children started from the main thread, which lives as long as the
    process (Locust's greenlets all run on it)."""
    prctl = _PRCTL
    parent = os.getpid()
    if prctl is None or threading.get_native_id() != parent:
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call above
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec
