"""Where the parts of a verification run: one after the other in this process (tests), or part
0 here and each other part in a fresh interpreter of its own, answering over two pipes.

Not multiprocessing: its spawn and forkserver children run the caller's main script again (a
script without a main guard would run twice), its fork copies other threads' locks mid-use, and
its duplex pipes are sockets, which gevent (under which ``ackguard run`` verifies) makes
non-blocking. A part's interpreter gets the caller's ``sys.path`` first, then its
:class:`~harness.verifiers.part_check.PartCheck`, then questions until told to stop.
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
from collections.abc import Collection, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ackguard.harness.services.lifeline import parent_death_preexec
from ackguard.harness.verifiers.index import RecordState
from ackguard.harness.verifiers.part_check import PartCheck, PartOutcome
from ackguard.harness.verifiers.records import Notes, Owner

__all__ = ["InProcess", "Processes", "serve"]


class InProcess:
    """The parts one after the other, in this process (tests; one core)."""

    def __init__(self, checks: Sequence[PartCheck]) -> None:
        self.checks = checks

    def outcomes(self) -> list[PartOutcome]:
        return [check.check() for check in self.checks]

    def owners(self, digests: Collection[str]) -> Notes:
        return _union([check.owners(digests) for check in self.checks])

    def states(self, keys: Collection[str]) -> list[RecordState]:
        return [state for check in self.checks for state in check.states(keys)]

    def close(self) -> None:
        pass


class Processes:
    """Part 0 in this process, each other part in a fresh interpreter of its own (not
    multiprocessing, whose spawn runs the caller's main script again in each child and whose
    fork copies other threads' locks mid-use), answering over two pipes until told to stop. A
    part that dies makes the verdict unknown, never partial."""

    def __init__(self, checks: Sequence[PartCheck]) -> None:
        self.here = checks[0]
        self.pipes: list[_Channel] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        for check in checks[1:]:
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
            pipe.send(check)

    def outcomes(self) -> list[PartOutcome]:
        mine = self.here.check()  # while the others check theirs
        return [mine, *(self._answer(pipe) for pipe in self.pipes)]

    def owners(self, digests: Collection[str]) -> Notes:
        return _union([self.here.owners(digests), *self._ask("owners", set(digests))])

    def states(self, keys: Collection[str]) -> list[RecordState]:
        found = self._ask("states", set(keys))
        return [*self.here.states(keys), *(state for states in found for state in states)]

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


# A part's interpreter: its pipes' descriptors in argv; first the parent's sys.path, then the
# PartCheck, then questions until "done".
_WORKER = (
    "import sys; from multiprocessing.connection import Connection; "
    "inbox = Connection(int(sys.argv[1]), writable=False); "
    "outbox = Connection(int(sys.argv[2]), readable=False); "
    "sys.path[:0] = inbox.recv(); "
    "from ackguard.harness.verifiers.part_processes import serve; serve(inbox, outbox)"
)


def serve(inbox: Connection, outbox: Connection) -> None:
    """A part's process: check the part it is sent, then answer until told to stop."""
    pipe = _Channel(inbox, outbox)
    check: PartCheck = pipe.recv()
    outcome = check.check()
    outcome.usage = _usage()
    pipe.send(outcome)
    while True:
        kind, payload = pipe.recv()
        if kind == "owners":
            pipe.send(check.owners(payload))
        elif kind == "states":
            pipe.send(check.states(payload))
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
    spent = resource.getrusage(resource.RUSAGE_SELF)
    return spent.ru_utime + spent.ru_stime, spent.ru_maxrss
