"""Where the parts of a verification run: one after the other in this process (tests), or each
in a fresh interpreter, answering over two pipes, while this process only asks and merges: it
holds no index and no final record, and the parts' interpreters end without freeing theirs.

In waves (more parts than processes, for memory), a process checks its parts one after the
other and keeps no index: each part's answers are kept in its outcome before its index goes
(:meth:`~harness.verifiers.part_check.PartCheck.check_and_drop`), and the question of who wrote
a value builds them again (:meth:`~harness.verifiers.part_check.PartCheck.owners_again`). Parts
in waves read a split history (:mod:`harness.verifiers.history_split`): each process first
splits a range of it (:meth:`Processes.splits`), and checks its parts once every range is split
(:meth:`Processes.go`).

Not multiprocessing: its spawn and forkserver children run the caller's main script again (a
script without a main guard would run twice), its fork copies other threads' locks mid-use, and
its duplex pipes are sockets, which gevent (under which ``ackguard run`` verifies) makes
non-blocking. A part's interpreter gets the caller's ``sys.path`` first, then its
:class:`~harness.verifiers.part_check.PartCheck`, then questions until told to stop.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import subprocess
import sys
from collections.abc import Collection, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ackguard.harness.services.lifeline import parent_death_preexec
from ackguard.harness.verifiers.history_split import RangeSplit, SplitJob
from ackguard.harness.verifiers.index import RecordState
from ackguard.harness.verifiers.part_check import PartCheck, PartOutcome
from ackguard.harness.verifiers.records import Notes, Owner

__all__ = ["InProcess", "Processes", "serve"]


class InProcess:
    """The parts one after the other, in this process (tests; one core); ``waves``: each index
    dropped once its part is checked (``keys``: records whose states are asked for later)."""

    def __init__(
        self,
        checks: Sequence[PartCheck],
        *,
        waves: bool = False,
        keys: Collection[str] = (),
        splits: Sequence[SplitJob] = (),
    ) -> None:
        self.checks = checks
        self.to_split = splits
        self.local = _Local(checks, waves, keys)

    def splits(self) -> list[RangeSplit]:
        return [job.run() for job in self.to_split]

    def go(self, proceed: bool, final_counts: list[int] | None = None) -> None:
        for check in self.checks:
            check.final_counts = final_counts

    def outcomes(self) -> list[PartOutcome]:
        return self.local.outcomes()

    def owners(self, digests: Collection[str]) -> Notes:
        return self.local.owners(digests)

    def states(self, keys: Collection[str]) -> list[RecordState]:
        return self.local.states(keys)

    def close(self) -> None:
        pass


class _Local:
    """The parts of one process: checked, then asked; in waves, from what each kept."""

    def __init__(self, checks: Sequence[PartCheck], waves: bool, keys: Collection[str]) -> None:
        self.checks = checks
        self.waves = waves
        self.keys = set(keys)
        self.kept: dict[str, RecordState] = {}  # waves: the states kept, by key

    def outcomes(self) -> list[PartOutcome]:
        if not self.waves:
            return [check.check() for check in self.checks]
        outcomes = [check.check_and_drop(self.keys) for check in self.checks]
        for outcome in outcomes:
            self._keep(outcome.states)
        return outcomes

    def owners(self, digests: Collection[str]) -> Notes:
        if not self.waves:
            return _union([check.owners(digests) for check in self.checks])
        found: list[Notes] = []
        for check in self.checks:
            notes, states = check.owners_again(digests)
            found.append(notes)
            self._keep(states)
        return _union(found)

    def states(self, keys: Collection[str]) -> list[RecordState]:
        if not self.waves:
            return [state for check in self.checks for state in check.states(keys)]
        return [self.kept[key] for key in keys if key in self.kept]

    def _keep(self, states: Sequence[RecordState]) -> None:
        for state in states:
            self.kept.setdefault(state.key, state)


class Processes:
    """The parts in ``processes`` fresh interpreters (by default one per part; with fewer,
    process ``p`` checks parts ``p``, ``p + processes``...), not multiprocessing, whose spawn
    runs the caller's main script again in each child and whose fork copies other threads'
    locks mid-use; they answer over two pipes until told to stop. A part that dies makes the
    verdict unknown, never partial."""

    def __init__(
        self,
        checks: Sequence[PartCheck],
        processes: int | None = None,
        *,
        waves: bool = False,
        keys: Collection[str] = (),
        splits: Sequence[SplitJob] = (),
    ) -> None:
        """``splits``: the ranges of a history to split first, range ``p`` by process ``p``
        (:meth:`splits`), the checks waiting for :meth:`go`."""
        count = len(checks) if processes is None else max(1, min(processes, len(checks)))
        self.to_split = splits
        self.count = count
        groups = [list(checks[p::count]) for p in range(count)]
        self.pipes: list[_Channel] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        for p, group in enumerate(groups):
            down_read, down_write = os.pipe()  # plain blocking descriptors, even under gevent
            up_read, up_write = os.pipe()
            worker = subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(down_read), str(up_write)],
                pass_fds=(down_read, up_write),
                stdin=subprocess.DEVNULL,
                preexec_fn=parent_death_preexec(),  # it goes when this process goes
            )
            os.close(down_read)
            os.close(up_write)
            pipe = _Channel(
                Connection(up_read, writable=False), Connection(down_write, readable=False)
            )
            self.pipes.append(pipe)
            self.workers.append(worker)
            pipe.send(sys.path)  # so that it imports what this process imports
            pipe.send(splits[p] if p < len(splits) else None)
            pipe.send((group, waves, set(keys)))

    def splits(self) -> list[RangeSplit]:
        """Each job's range split, job ``p`` by process ``p``."""
        return [self._answer(pipe) for pipe in self.pipes[: len(self.to_split)]]

    def go(self, proceed: bool, final_counts: list[int] | None = None) -> None:
        """After :meth:`splits`: every process checks its parts now, or none does;
        ``final_counts``: each range's records of the split final read (``None``: a range was
        not split, the parts read the whole file)."""
        for pipe in self.pipes:
            pipe.send((proceed, final_counts))

    def outcomes(self) -> list[PartOutcome]:
        """Every part's outcome, in part order."""
        groups: list[list[PartOutcome]] = [self._answer(pipe) for pipe in self.pipes]
        count = self.count
        parts = sum(len(group) for group in groups)
        return [groups[n % count][n // count] for n in range(parts)]

    def owners(self, digests: Collection[str]) -> Notes:
        return _union(self._ask("owners", set(digests)))

    def states(self, keys: Collection[str]) -> list[RecordState]:
        return [state for states in self._ask("states", set(keys)) for state in states]

    def _ask(self, kind: str, payload: object) -> list[Any]:
        for pipe in self.pipes:
            pipe.send((kind, payload))
        return [self._answer(pipe) for pipe in self.pipes]

    def _answer(self, pipe: _Channel) -> Any:
        try:
            return pipe.recv()
        except EOFError:
            raise RuntimeError("a verifying process ended without an answer") from None

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):  # it is gone already
                pipe.send(("done", None))
            pipe.close()
        for worker in self.workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


class _Channel:
    """Two one-way pipes, the parent's end or the part's."""

    def __init__(self, inbox: Connection, outbox: Connection) -> None:
        self.inbox = inbox
        self.outbox = outbox

    def send(self, message: object) -> None:
        self.outbox.send(message)

    def recv(self) -> Any:
        return self.inbox.recv()

    def close(self) -> None:
        self.inbox.close()
        self.outbox.close()


# A part's interpreter: its pipes' descriptors in argv; first the parent's sys.path, then its
# range to split (or None), its PartChecks (whether in waves, the keys asked for), then questions
# until "done". Then it ends without the interpreter's teardown, which would free its index's
# millions of objects one by one while the parent waits for it (about 1.5 s at 10M operations);
# it has nothing left to flush.
_WORKER = (
    "import os, sys; from multiprocessing.connection import Connection; "
    "inbox = Connection(int(sys.argv[1]), writable=False); "
    "outbox = Connection(int(sys.argv[2]), readable=False); "
    "sys.path[:0] = inbox.recv(); "
    "from ackguard.harness.verifiers.part_processes import serve; serve(inbox, outbox); "
    "os._exit(0)"
)


def serve(inbox: Connection, outbox: Connection) -> None:
    """A part's process: split the range it is sent, if any, and once told to go on, check the
    parts it is sent, then answer until told to stop."""
    # No cyclic collection in this process: what it builds (indexes, answers) makes no cycle,
    # and a collection after each part walked every object of it (0.1 s a part at 1M ops);
    # the process ends with os._exit, so nothing is left to collect.
    gc.disable()
    pipe = _Channel(inbox, outbox)
    job: SplitJob | None = pipe.recv()
    checks, waves, keys = pipe.recv()
    if job is not None:
        pipe.send(job.run())
    split = job is not None or any(check.files for check in checks)
    if split:  # every range split, by the others too: go on?
        proceed, final_counts = pipe.recv()
        if proceed is not True:
            return
        for check in checks:
            check.final_counts = final_counts
    local = _Local(checks, waves, keys)
    outcomes = local.outcomes()
    if outcomes:
        outcomes[-1].usage = _usage()  # the process's, once
    pipe.send(outcomes)
    while True:
        kind, payload = pipe.recv()
        if kind == "owners":
            pipe.send(local.owners(payload))
        elif kind == "states":
            pipe.send(local.states(payload))
        else:
            return


def _union(found: Sequence[Notes]) -> dict[tuple[str, str], dict[str, Owner]]:
    """Who wrote each value, over every part (the parts hold disjoint records)."""
    owners: dict[tuple[str, str], dict[str, Owner]] = {}
    for part in found:
        for value, whose in part.items():
            owners.setdefault(value, {}).update(whose)
    return owners


def _usage() -> tuple[float, int]:
    """CPU seconds and peak resident memory (kB) of this process. The peak is the kernel's
    VmHWM of this program: ``ru_maxrss`` survives exec, so in a part's process it would also
    count the parent's pages it shared between its fork and its exec (a whole final read)."""
    spent = resource.getrusage(resource.RUSAGE_SELF)
    peak = spent.ru_maxrss
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1])
                    break
    except (OSError, ValueError, IndexError):
        pass
    return spent.ru_utime + spent.ru_stime, peak
