"""``python -I harness/services/watchdog.py``: the parent-death watch of a harness process.

The harness starts it first, in its own session, with a pipe on its stdin whose write end only
the harness holds. Through that pipe the harness announces every process group it starts and
every directory that must not outlive it, one line each::

    watch <pid> <start time>     the process group led by <pid> (start time from /proc)
    forget <pid> <start time>    that group has ended normally
    remove <path>                a directory to delete once the groups are gone
    keep <path>                  that directory was removed normally

Between lines, every half second, it notes the processes those groups have started, so that one
that left its group (a daemon in a session of its own) is still known. When the pipe reaches end
of file, the harness is gone however it died (SIGKILL included): the watchdog SIGKILLs every
announced group still alive and every process of theirs it knows, then deletes the announced
directories and exits. A group whose
leader's PID now belongs to a process with another start time is somebody else's: never touched.

Standard library only: it must start fast and depend on nothing that could fail to import.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Watch", "main"]

_GONE_STATES = ("Z", "X")
_SETTLE_S = 5.0
_REFRESH_S = 0.5
_Table = dict[int, tuple[str, int, int, int]]


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, process group, start time) of ``pid``, None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces and ')'
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def _snapshot() -> _Table:
    found: _Table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            seen = _stat(int(entry.name))
            if seen is not None:
                found[int(entry.name)] = seen
    return found


def _ours(leader: int, start: int, table: _Table) -> bool:
    """Whether group ``leader`` is still the one announced. While any member of a process group
    lives, the kernel never hands its id out as a new PID; so a leader PID held by a process
    with another start time means our group is empty and the number belongs to someone else."""
    seen = table.get(leader)
    return seen is None or seen[3] == start


def _living(processes: Iterable[tuple[int, int]], table: _Table) -> set[int]:
    return {
        pid
        for pid, start in processes
        if (seen := table.get(pid)) is not None and seen[3] == start and seen[0] not in _GONE_STATES
    }


class Watch:
    """What the harness announced, and the processes its groups have started since (seen at
    least once while their parent was alive: a daemon that left the group is still known)."""

    def __init__(self) -> None:
        self.groups: set[tuple[int, int]] = set()
        self.directories: set[str] = set()
        self.seen: set[tuple[int, int]] = set()

    def feed(self, line: str) -> None:
        verb, _, rest = line.partition(" ")
        if verb in ("watch", "forget"):
            with contextlib.suppress(ValueError):
                pid, start = (int(part) for part in rest.split())
                (self.groups.add if verb == "watch" else self.groups.discard)((pid, start))
        elif verb == "remove" and rest:
            self.directories.add(rest)
        elif verb == "keep":
            self.directories.discard(rest)

    def family(self, table: _Table) -> tuple[set[int], set[int]]:
        """(the group leaders still ours, every live process of the run) in ``table``."""
        leaders = {leader for leader, start in self.groups if _ours(leader, start, table)}
        members = {pid for pid, seen in table.items() if seen[2] in leaders}
        members |= _living(self.seen, table)
        children: dict[int, list[int]] = {}
        for pid, seen in table.items():
            children.setdefault(seen[1], []).append(pid)
        pending = list(members)
        while pending:  # descendants, also those that left the group (daemons, setsid)
            for child in children.get(pending.pop(), []):
                if child not in members:
                    members.add(child)
                    pending.append(child)
        return leaders, {pid for pid in members if table[pid][0] not in _GONE_STATES}

    def refresh(self) -> None:
        """Remember the run's live processes (forget those that ended)."""
        table = _snapshot()
        _, members = self.family(table)
        self.seen = {(pid, table[pid][3]) for pid in members}

    def sweep(self) -> list[tuple[int, int]]:
        """SIGKILL the groups still ours and every process of the run. Returns those signalled
        as (pid, start time)."""
        table = _snapshot()
        leaders, members = self.family(table)
        for leader in leaders:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, signal.SIGKILL)
        signalled: list[tuple[int, int]] = []
        for pid in members:
            if _alive(pid, table[pid][3]):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                signalled.append((pid, table[pid][3]))
        return signalled


def _alive(pid: int, start: int) -> bool:
    seen = _stat(pid)
    return seen is not None and seen[3] == start and seen[0] not in _GONE_STATES


def _wait_gone(processes: list[tuple[int, int]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(pid, start) for pid, start in processes):
            return
        time.sleep(0.02)


def _listen(watch: Watch, fd: int) -> None:
    """Read announcements until end of file, looking at the run's processes between them."""
    pending = b""
    while True:
        readable, _, _ = select.select([fd], [], [], _REFRESH_S)
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                watch.feed(line.decode("utf-8", "surrogateescape"))
        watch.refresh()


def main() -> int:
    # A Ctrl-C or hang-up meant for the harness must not take the watch down before it acted.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    watch = Watch()

    def stopped(_sig: int, _frame: object) -> None:
        raise EOFError

    signal.signal(signal.SIGTERM, stopped)  # stopped by somebody: act as if the harness went
    with contextlib.suppress(EOFError):
        _listen(watch, sys.stdin.fileno())
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _wait_gone(watch.sweep(), _SETTLE_S)
    for directory in watch.directories:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
