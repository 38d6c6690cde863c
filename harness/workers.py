"""Practitioners across Locust workers: ``ackguard run --workers N``.

The harness is Locust's master. It starts the system, registers everyone, runs the fault
schedule, reads everything back at the end and verifies, as in a run without workers; the
practitioners are driven by ``N`` Locust worker processes (Locust's own MasterRunner and
WorkerRunner). Worker ``k`` of ``N`` (0-based) drives the practitioners whose index mod ``N`` is
``k``; its fresh process ids start at ``(k + 1) * 10**9 + practitioners``, so no two workers
share one, nor with the harness's own (its live verifier's read-backs count from
``practitioners``).

The conversation, besides Locust's own (users are dispatched and stopped by Locust):

1. each worker says ``ackguard_hello`` (with its shard folder when the harness started it);
2. once all have, the master numbers them (in the order of their Locust ids) and sends each
   ``ackguard_setup``: the scenario, the directory it registered, the worker's part, its number
   of users, and the clock origin (the harness's start: as ``time.monotonic_ns`` for a worker on
   this machine, which shares that clock, and in wall-clock terms for one elsewhere);
3. each worker builds its practitioners and answers ``ackguard_ready`` (with how often the
   build yielded to the heartbeats and how many of the master's it heard meanwhile); the load
   starts;
4. a worker whose practitioners have all come to the end of their agendas says
   ``ackguard_ended`` (once); with ``until_agendas_end`` the load stops when every worker has;
5. at the end the master sends ``ackguard_flush``: the worker stops its users (ops in flight
   complete), and answers ``ackguard_flushed`` with the number of lines it wrote.

A worker the harness started writes its shard into the run directory itself
(``history.worker-K.jsonl``: a SIGKILL of the worker loses nothing it recorded). A worker on
another machine (``ackguard worker --master HOST:PORT``; ``--remote-workers``) writes its shard
to a temporary file and streams the new lines to the master in ``ackguard_ops`` messages every
half second, which the master appends to the shard in the run directory. The master merges the
shards into ``history.jsonl`` (:mod:`.shards`) before it heals the faults.

A worker lost during the load (its process ended, it stopped heartbeating, it did not answer the
flush, or its shard lacks lines it wrote) is recorded in ``run.json`` ``workers_lost`` in words,
and the verdict is unknown. The live verifier and the stop conditions follow the shards in the
run directory while the load runs (:class:`~harness.live.feed.ShardFeed`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import gevent
from locust.runners import STATE_MISSING, MasterRunner

from ackguard.harness.services import lifeline
from ackguard.harness.services.ports import free_port
from ackguard.harness.services.process import ProcessRef, spawn
from ackguard.harness.shards import merge_shards, shard_path

if TYPE_CHECKING:
    from ackguard.harness.run import Prepared

__all__ = [
    "ENDED",
    "FLUSH",
    "FLUSHED",
    "HELLO",
    "MAX_WORKERS",
    "OPS",
    "PROCESS_BASE",
    "READY",
    "SETUP",
    "DistributedLoad",
    "workers_problem",
]

HELLO, SETUP, READY = "ackguard_hello", "ackguard_setup", "ackguard_ready"
OPS, FLUSH, FLUSHED = "ackguard_ops", "ackguard_flush", "ackguard_flushed"
ENDED = "ackguard_ended"
MAX_WORKERS = 64
PROCESS_BASE = 10**9
JOIN_TIMEOUT_S = 60.0
"""How long the workers have to join, and to answer heartbeats again once ready."""
READY_S_PER_PRACTITIONER = 0.001
"""Beyond JOIN_TIMEOUT_S, how long the workers have to get ready, per practitioner of the run:
each builds the whole practice (~0.12 ms of CPU a practitioner on a quiet core) and reads the
directory; at 300,000 a loaded 2-core machine takes minutes. Heartbeats go on meanwhile: the
build yields to them every few hundredths of a second."""
FLUSH_TIMEOUT_S = 30.0
"""How long a worker has to stop its users and answer the flush (ops in flight take up to the
environment's stop_timeout)."""
QUIT_TIMEOUT_S = 10.0
MISSING_GRACE_S = 5.0
"""How long a worker Locust marked missing (no heartbeat for 3 s) may stay so before it is lost:
a worker starved of CPU for a moment comes back with nothing lost (its ops are in its shard or
in messages on their way)."""
_TICK_S = 0.2
PROGRESS_EVERY_S = 5.0

Progress = Callable[[str], None]


def workers_problem(workers: int, remote: int = 0) -> str | None:
    """Why ``--workers``/``--remote-workers`` cannot be used, or None."""
    if not 1 <= workers <= MAX_WORKERS:
        return f"--workers {workers}: a number of Locust workers is 1 to {MAX_WORKERS}"
    if not 0 <= remote <= workers:
        return f"--remote-workers {remote}: 0 to --workers ({workers}) of the workers join remotely"
    return None


@dataclass
class _Worker:
    client_id: str
    pid: int | None
    local: bool
    k: int = -1
    ready: bool = False
    error: str | None = None
    missing_since: float | None = None
    flushed: int | None = None
    lost: str | None = None
    agendas_ended: bool = False


class DistributedLoad:
    """The load phase of a run with workers (``run_scenario(workers=N)``): :meth:`run` replaces
    the in-process timed load. ``lost`` says, in words, each worker lost on the way."""

    def __init__(
        self,
        workers: int,
        master_bind: str = "127.0.0.1",
        *,
        remote: int = 0,
        master_port: int | None = None,
    ) -> None:
        problem = workers_problem(workers, remote)
        if problem is not None:
            raise ValueError(problem)
        self.total = workers
        self.local = workers - remote
        self.bind = master_bind
        self.port = master_port
        self.lost: list[str] = []
        self._workers: dict[str, _Worker] = {}
        self._children: list[tuple[subprocess.Popen[bytes], ProcessRef, IO[bytes]]] = []
        self._streams: dict[int, IO[bytes]] = {}
        self._load_started: float | None = None
        self.load_started_at: datetime | None = None
        """When the workers' load began (after they joined and built their practitioners)."""
        self._lock = threading.Lock()

    # -- the phase ----------------------------------------------------------------------------
    def run(self, prepared: Prepared, interrupted: threading.Event, progress: Progress) -> None:
        run_dir = prepared.stack.run_dir
        port = self.port or free_port(self.bind)
        master = prepared.environment.create_master_runner(
            master_bind_host=self.bind, master_bind_port=port
        )
        for kind, handler in (
            (HELLO, self._on_hello),
            (READY, self._on_ready),
            (OPS, lambda msg: self._on_ops(msg, run_dir)),
            (FLUSHED, self._on_flushed),
            (ENDED, self._on_ended),
        ):
            master.register_message(kind, _listener(handler))
        try:
            remote = self.total - self.local
            elsewhere = f"; waiting for {remote} to join from elsewhere" if remote else ""
            local = f"{self.local} local worker{'s' if self.local != 1 else ''}"
            progress(f"Locust master on {self.bind}:{port}: {local}{elsewhere}")
            self._spawn(run_dir, port)
            self._await(lambda: len(self._workers) >= self.total, "join the master")
            self._setup(master, prepared)
            building_s = READY_S_PER_PRACTITIONER * prepared.scenario.practitioners
            self._await(
                lambda: all(w.ready for w in self._workers.values()),
                "get ready",
                JOIN_TIMEOUT_S + building_s,
            )
            # A worker builds in a greenlet that yields to its heartbeats (worker_cli), but one
            # starved of CPU may still be marked missing for a moment; Locust would start the load
            # on the others only, or on none at all.
            self._await(lambda: master.worker_count >= self.total, "answer heartbeats again")
            self._load(master, prepared, interrupted, progress)
        finally:
            try:
                self._flush(master)
            finally:
                self._end_children()
                for stream in self._streams.values():
                    stream.close()
                self._merge(prepared, run_dir)

    def _spawn(self, run_dir: Path, port: int) -> None:
        for i in range(self.local):
            log = (run_dir / f"worker-{i}.log").open("ab")
            argv = [
                sys.executable,
                "-m",
                "ackguard",
                "worker",
                "--master",
                f"127.0.0.1:{port}" if self.bind in ("0.0.0.0", "*") else f"{self.bind}:{port}",
                "--shard-dir",
                str(run_dir),
            ]
            process, ref = spawn(argv, output=log)
            self._children.append((process, ref, log))

    def _await(
        self, done: Callable[[], bool], what: str, timeout_s: float = JOIN_TIMEOUT_S
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            self._check_children(before_load=True)
            for worker in self._workers.values():
                if worker.error is not None:
                    raise RuntimeError(f"a Locust worker could not start: {worker.error}")
            if time.monotonic() > deadline:
                joined = len(self._workers)
                raise RuntimeError(
                    f"the Locust workers did not {what} within {timeout_s:g} s "
                    f"({joined} of {self.total} joined)"
                )
            gevent.sleep(0.05)

    def _setup(self, master: MasterRunner, prepared: Prepared) -> None:
        scenario, history = prepared.scenario, prepared.history
        per_worker = max(1, scenario.users // self.total)
        directory = prepared.workload.directory.to_json()
        started_wall_ns = time.time_ns() - history.now()
        for k, worker in enumerate(sorted(self._workers.values(), key=lambda w: w.client_id)):
            worker.k = k
            data = {
                "k": k,
                "of": self.total,
                "scenario": scenario.text,
                "source": scenario.source,
                "source_dir": str(scenario.source_dir),
                "seed": scenario.seed,
                "duration": scenario.duration,
                "users": per_worker,
                "service_url": prepared.stack.practitioner_url,
                "directory": directory,
                "started_ns": history.started_ns,
                "started_wall_ns": started_wall_ns,
                "stream": not worker.local,
                "first_free_process": (k + 1) * PROCESS_BASE + scenario.practitioners,
            }
            master.send_message(SETUP, data, client_id=worker.client_id)

    def _load(
        self,
        master: MasterRunner,
        prepared: Prepared,
        interrupted: threading.Event,
        progress: Progress,
    ) -> None:
        scenario = prepared.scenario
        users = max(1, scenario.users // self.total) * self.total  # an equal share each
        windows = len(prepared.faults.timeline)
        progress(
            f"load: {users} users on {self.total} workers for {scenario.duration:g}s, "
            f"{windows} fault windows"
        )
        prepared.faults.start()  # first: the windows due at 0 s are in place before any request
        self._load_started = time.monotonic()
        self.load_started_at = datetime.now(UTC)
        master.start(users, spawn_rate=max(users, 1))
        if master.target_user_count != users or master.worker_count < self.total:
            raise RuntimeError(
                f"Locust did not start the load on all {self.total} workers "
                f"({master.worker_count} were ready)"
            )
        deadline = self._load_started + scenario.duration
        next_report = self._load_started + PROGRESS_EVERY_S
        while not interrupted.is_set() and time.monotonic() < deadline:
            if prepared.stop_reason is not None:
                progress(f"load stopped early: {prepared.stop_reason}")
                break
            if scenario.until_agendas_end and all(w.agendas_ended for w in self._by_k()):
                progress("load stopped early: every practitioner's agenda has ended")
                break
            self._check_children(before_load=False)
            self._check_heartbeats(master)
            gevent.sleep(min(_TICK_S, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= next_report:
                next_report += PROGRESS_EVERY_S
                stats = prepared.environment.stats.total
                progress(
                    f"[{time.monotonic() - self._load_started:5.0f}s/{scenario.duration:g}s] "
                    f"requests {stats.num_requests}, failed {stats.num_failures}, "
                    f"{stats.current_rps:.0f}/s on {self.total} workers; "
                    f"faults active: {', '.join(prepared.faults.active) or 'none'}"
                )

    def _flush(self, master: MasterRunner) -> None:
        for worker in self._workers.values():
            if worker.lost is None and worker.k >= 0:
                master.send_message(FLUSH, None, client_id=worker.client_id)
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        waiting = [w for w in self._workers.values() if w.lost is None and w.k >= 0]
        while any(w.flushed is None and w.lost is None for w in waiting):
            self._check_children(before_load=False)  # here a worker that never joined is moot
            self._check_heartbeats(master)
            if time.monotonic() > deadline:
                break
            gevent.sleep(0.05)
        for worker in waiting:
            if worker.flushed is None and worker.lost is None:
                self._lose(worker, "it did not answer at the end of the load")
        master.quit()

    def _end_children(self) -> None:
        """Each worker the harness started quits on Locust's quit; one that does not is killed
        with its process group (by its PID, the group's id)."""
        for process, ref, log in self._children:
            try:
                process.wait(timeout=QUIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                if ref.state() not in (None, "Z", "X"):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            lifeline.forget(ref)
            log.close()

    def _merge(self, prepared: Prepared, run_dir: Path) -> None:
        shards = [shard_path(run_dir, w.k) for w in self._by_k() if w.k >= 0]
        report = merge_shards(prepared.history, [s for s in shards if s.exists()])
        by_path = {shard.path: shard for shard in report.shards}
        for worker in self._by_k():
            shard = by_path.get(shard_path(run_dir, worker.k))
            if worker.lost is not None or worker.flushed is None:
                continue
            found = 0 if shard is None else shard.lines
            if found != worker.flushed or (shard is not None and shard.torn):
                self._lose(
                    worker,
                    f"its history shard holds {found} of the {worker.flushed} lines it wrote",
                    at_end=True,
                )

    # -- losses -------------------------------------------------------------------------------
    def _check_children(self, *, before_load: bool) -> None:
        for process, _ref, _log in self._children:
            code = process.poll()
            if code is None:
                continue
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited ({code})"
            worker = next((w for w in self._workers.values() if w.pid == process.pid), None)
            if worker is None:
                if before_load:
                    raise RuntimeError(f"a Locust worker {how} before it joined the master")
                continue
            if worker.lost is None and not (worker.flushed is not None and code == 0):
                self._lose(worker, f"its process {how}")

    def _check_heartbeats(self, master: MasterRunner) -> None:
        now = time.monotonic()
        for worker in self._workers.values():
            node = master.clients.get(worker.client_id)
            if worker.lost is not None or worker.flushed is not None:
                continue
            if node is None:
                self._lose(worker, "it left the master")
            elif node.state != STATE_MISSING:
                worker.missing_since = None
            elif worker.missing_since is None:
                worker.missing_since = now
            elif now - worker.missing_since > MISSING_GRACE_S:
                self._lose(worker, "it stopped heartbeating", at=worker.missing_since)

    def _lose(
        self, worker: _Worker, how: str, *, at_end: bool = False, at: float | None = None
    ) -> None:
        if worker.lost is not None:
            return
        number = f"worker {worker.k + 1} of {self.total}" if worker.k >= 0 else "a worker"
        if at_end or self._load_started is None:
            when = "at the end of the load" if at_end else "before the load"
        else:
            when = f"at {(at or time.monotonic()) - self._load_started:.1f} s"
        worker.lost = (
            f"{number} was lost {when} ({how}): the history may lack ops of the practitioners "
            "it drove"
        )
        self.lost.append(worker.lost)

    def _by_k(self) -> list[_Worker]:
        return sorted(self._workers.values(), key=lambda w: w.k)

    # -- messages (run on the master's receiving greenlet) ------------------------------------
    def _on_hello(self, msg: Any) -> None:
        data = msg.data or {}
        pids = {process.pid for process, _, _ in self._children}
        local = data.get("shard_dir") is not None and data.get("pid") in pids
        with self._lock:
            if msg.node_id not in self._workers and len(self._workers) < self.total:
                self._workers[msg.node_id] = _Worker(msg.node_id, data.get("pid"), local)

    def _on_ready(self, msg: Any) -> None:
        worker = self._workers.get(msg.node_id)
        if worker is not None:
            worker.error = (msg.data or {}).get("error")
            worker.ready = worker.error is None

    def _on_ops(self, msg: Any, run_dir: Path) -> None:
        worker = self._workers.get(msg.node_id)
        if worker is None or worker.local or worker.k < 0:
            return
        stream = self._streams.get(worker.k)
        if stream is None:
            stream = self._streams[worker.k] = shard_path(run_dir, worker.k).open("ab")
        stream.write(bytes(msg.data["lines"]))
        stream.flush()

    def _on_ended(self, msg: Any) -> None:
        worker = self._workers.get(msg.node_id)
        if worker is not None:
            worker.agendas_ended = True

    def _on_flushed(self, msg: Any) -> None:
        worker = self._workers.get(msg.node_id)
        if worker is not None:
            worker.flushed = int(msg.data["lines"])


def _listener(handler: Callable[[Any], None]) -> Callable[..., None]:
    def listen(environment: Any = None, msg: Any = None, **_: Any) -> None:
        del environment
        handler(msg)

    return listen
