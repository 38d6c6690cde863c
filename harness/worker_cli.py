"""``ackguard worker --master HOST:PORT``: a Locust worker that drives a share of a run's
practitioners (the conversation is described in :mod:`.workers`).

Started by ``ackguard run --workers N`` on this machine (with ``--shard-dir``: the run directory,
where it writes its history shard), or by hand on another machine to join a run started with
``--remote-workers`` (its ops then travel to the master in messages). Locust must be imported
before this module (the command line does it).
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from ackguard.harness.history import HistoryWriter
from ackguard.harness.run import workload_config
from ackguard.harness.scenario import parse_scenario
from ackguard.harness.shards import shard_path
from ackguard.harness.workers import ENDED, FLUSH, FLUSHED, HELLO, OPS, READY, SETUP
from ackguard.harness.workload import Directory, HttpTarget, TargetFactory, Workload, load_adapter
from ackguard.harness.workload.pacer import Pacer

__all__ = ["parse_master", "worker_main"]

STREAM_EVERY_S = 0.5
STREAM_BATCH_BYTES = 1 << 20
AGENDAS_EVERY_S = 0.5
YIELD_S = 0.001
"""How long the practice's build sleeps when it yields: a sleep of 0 may resume it before the
event loop has polled the master's socket; any positive sleep waits for the loop's next turn."""


def parse_master(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); ValueError naming the problem."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"--master {text!r}: expected HOST:PORT, e.g. 127.0.0.1:5557")
    return host.strip("[]"), int(port_text)


class _Share:
    """This worker's practitioners, its history shard and, for a remote worker, the stream of
    the shard's new lines to the master."""

    def __init__(self, runner: WorkerRunner, environment: Environment, shard_dir: Path | None):
        self.runner = runner
        self.environment = environment
        self.shard_dir = shard_dir
        self.history: HistoryWriter | None = None
        self._sent = 0
        self._streamer: gevent.Greenlet | None = None
        self._flushing = False
        self.heard = 0
        """The master's heartbeats received so far."""
        self.temporary: Path | None = None
        """A remote worker's shard folder, deleted when the worker ends."""

    def on_setup(self, environment: Any = None, msg: Any = None, **_: Any) -> None:
        """Runs in a greenlet of its own (registered ``concurrent``): the greenlet that received
        the setup goes on receiving the master's heartbeats while the practice is built, and the
        build yields to the loop every slice (:mod:`~harness.workload.pacer`), so this worker's
        heartbeats go out and the master's come in. Otherwise, past 60 s without the master's
        heartbeats, Locust quits this worker; past 3 s without its own, the master marks it
        missing, and forgets it after a minute."""
        try:
            self._setup(msg.data)
        except Exception as exc:  # said to the master, which ends the run with it
            self.runner.send_message(READY, {"error": f"{type(exc).__name__}: {exc}"})
            raise

    def on_heartbeat(self, **_: Any) -> None:
        self.heard += 1

    def _setup(self, data: Any) -> None:
        heard_before = self.heard
        k, of = int(data["k"]), int(data["of"])
        scenario = parse_scenario(
            data["scenario"],
            data["source"],
            duration=float(data["duration"]),
            seed=int(data["seed"]),
            source_dir=Path(data["source_dir"]),
            cross_checks=False,
        )
        config = workload_config(scenario)
        if data["stream"] or self.shard_dir is None:
            folder = self.temporary = Path(tempfile.mkdtemp(prefix="ackguard-worker-"))
            # Another machine's monotonic clock is its own: the origin travels in wall time.
            started_ns = time.monotonic_ns() - (time.time_ns() - int(data["started_wall_ns"]))
        else:
            folder, started_ns = self.shard_dir, int(data["started_ns"])
        self.history = HistoryWriter(shard_path(folder, k), started_ns=started_ns)
        factory: TargetFactory = HttpTarget
        if scenario.target is not None:
            spec = scenario.target
            factory = load_adapter(spec.adapter, base_dir=scenario.source_dir, options=spec.options)
        pacer = Pacer(lambda: gevent.sleep(YIELD_S))
        workload = Workload(
            config,
            self.history,
            factory,
            users=int(data["users"]),
            first_free_process=int(data["first_free_process"]),
            pause=pacer,
        )
        directory = Directory.from_json(data["directory"], pause=pacer)
        workload.attach(str(data["service_url"]), directory, (k, of))
        # The practice, the directory and the agents live as long as this worker: out of the
        # collector's sight, a full collection during the load no longer scans them all (at
        # 300,000 practitioners ~2 s of CPU with the loop, and the heartbeats, held meanwhile).
        gc.freeze()
        self.environment.user_classes = workload.user_classes()
        self.environment.stop_timeout = config.request_timeout_s + 1.0
        if data["stream"] or self.shard_dir is None:
            self._streamer = gevent.spawn(self._stream_forever)
        gevent.spawn(self._say_when_agendas_end, workload)
        # How often the build let the loop run, and the master's heartbeats heard meanwhile.
        heard = self.heard - heard_before
        self.runner.send_message(READY, {"k": k, "yields": pacer.yields, "heard": heard})

    def on_flush(self, environment: Any = None, msg: Any = None, **_: Any) -> None:
        self.runner.stop()  # users stop; an op in flight completes within stop_timeout
        lines = 0
        if self.history is not None:
            self.history.close()
            if self._streamer is not None:
                self._flushing = True  # not killed: a batch half sent would be sent twice
                self._streamer.join(timeout=STREAM_EVERY_S * 4)
                self._stream_new_lines()
            with self.history.path.open("rb") as shard:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: shard.read(1 << 20), b""))
        self.runner.send_message(FLUSHED, {"lines": lines})

    def _say_when_agendas_end(self, workload: Workload) -> None:
        """``ackguard_ended`` once every practitioner of this worker has ended its agenda (never,
        for agendas without an end): the master may then stop the load before its duration."""
        while not self._flushing and not workload.agendas_ended():
            gevent.sleep(AGENDAS_EVERY_S)
        if not self._flushing:
            self.runner.send_message(ENDED, None)

    def _stream_forever(self) -> None:
        while not self._flushing:
            gevent.sleep(STREAM_EVERY_S)
            if not self._flushing:
                self._stream_new_lines()

    def _stream_new_lines(self) -> None:
        """Send the shard's complete lines not sent yet, in batches of about 1 MB."""
        assert self.history is not None
        with self.history.path.open("rb") as shard:
            shard.seek(self._sent)
            while batch := shard.read(STREAM_BATCH_BYTES):
                whole = batch[: batch.rfind(b"\n") + 1]
                if not whole:
                    if len(batch) == STREAM_BATCH_BYTES:  # one line longer than a batch
                        whole = batch + shard.readline()
                    else:
                        return  # a line being written: next time
                self.runner.send_message(OPS, {"lines": whole})
                self._sent += len(whole)
                shard.seek(self._sent)


def worker_main(master: str, shard_dir: Path | None) -> int:
    """Join the master at ``master`` (HOST:PORT) and drive practitioners until it quits."""
    host, port = parse_master(master)
    if shard_dir is not None and not shard_dir.is_dir():
        raise ValueError(f"--shard-dir {shard_dir}: not a folder")
    environment = Environment(user_classes=[])
    runner = environment.create_worker_runner(host, port)
    share = _Share(runner, environment, shard_dir)
    runner.register_message(SETUP, share.on_setup, concurrent=True)
    runner.register_message(FLUSH, share.on_flush)
    heartbeats = environment.events.heartbeat_received
    heartbeats.add_listener(share.on_heartbeat)  # type: ignore[no-untyped-call]
    hello = {"shard_dir": None if shard_dir is None else str(shard_dir), "pid": os.getpid()}
    runner.send_message(HELLO, hello)
    try:
        runner.greenlet.join()
    finally:
        if share.temporary is not None:  # its lines are in the master's run directory now
            shutil.rmtree(share.temporary, ignore_errors=True)
    return 0
