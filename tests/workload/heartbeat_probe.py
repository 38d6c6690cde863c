"""A Locust master that sends one real worker (``worker_main``, in a process of its own) the setup
of a large practice, and watches the heartbeats while the worker builds it. Prints one JSON
object. Run in its own process: importing Locust monkey-patches the standard library.

    python -m tests.workload.heartbeat_probe --practitioners 60000 --out DIR

Both sides run with Locust's heartbeat interval shortened (``--interval``; Locust's is 1 s) and
the worker quits after ``--master-timeout`` seconds without the master's heartbeats (Locust's is
60 s), so a build that holds the gevent loop for a couple of seconds shows: the master marks the
worker missing (no heartbeat for 4 intervals), and the worker, once built, quits.
``--worker`` is the worker's side (the probe starts it).
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401  (first: gevent's monkey patching)
# isort: on

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import locust.runners as runners
from locust.env import Environment

from ackguard.harness.services.ports import free_port
from ackguard.harness.workers import HELLO, READY, SETUP
from ackguard.harness.workload import Directory, PatientEntry, PractitionerEntry

SCENARIO = """name: heartbeat-probe
seed: 3
duration: 60s
practitioners: {practitioners}
users: 10
patients_per_practitioner: 1
consultations_per_practitioner: 1
consultation_steps: create_only
"""
HELLO_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 300.0
POLL_S = 0.02


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--practitioners", type=int, default=60_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--master-timeout", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds watched after ready")
    parser.add_argument("--worker", metavar="HOST:PORT", help="be the worker of this master")
    args = parser.parse_args()
    runners.HEARTBEAT_INTERVAL = args.interval  # read by Locust's heartbeat loops at each beat
    if args.worker is not None:
        runners.MASTER_HEARTBEAT_TIMEOUT = args.master_timeout
        from ackguard.harness.worker_cli import worker_main

        raise SystemExit(worker_main(args.worker, args.out))
    print(json.dumps(_watch(args)))


def _watch(args: argparse.Namespace) -> dict[str, Any]:
    environment = Environment(user_classes=[])
    port = free_port()
    master = environment.create_master_runner("127.0.0.1", port)
    hellos: list[str] = []
    ready: list[dict[str, Any]] = []
    beats = {"build": 0, "after": 0}
    phase = ["join"]

    def on_hello(environment: Any = None, msg: Any = None, **_: Any) -> None:
        hellos.append(msg.node_id)

    def on_ready(environment: Any = None, msg: Any = None, **_: Any) -> None:
        ready.append(msg.data or {})

    def on_beat(client_id: str = "", **_: Any) -> None:  # the master got the worker's heartbeat
        if phase[0] in beats:
            beats[phase[0]] += 1

    master.register_message(HELLO, on_hello)
    master.register_message(READY, on_ready)
    environment.events.heartbeat_sent.add_listener(on_beat)  # type: ignore[no-untyped-call]
    argv = [sys.executable, "-m", "tests.workload.heartbeat_probe", "--out", str(args.out)]
    argv += ["--interval", str(args.interval), "--master-timeout", str(args.master_timeout)]
    worker = subprocess.Popen([*argv, "--worker", f"127.0.0.1:{port}"])
    missing = {"build": False, "after": False}
    try:
        _until(lambda: bool(hellos) or worker.poll() is not None, HELLO_TIMEOUT_S)
        if not hellos:
            return {"error": f"the worker did not join (exit {worker.poll()})"}
        client_id = hellos[0]
        master.send_message(SETUP, _setup(args.practitioners), client_id=client_id)
        phase[0] = "build"
        started = time.monotonic()

        def watch() -> bool:
            node = master.clients.get(client_id)
            if node is None or node.state == runners.STATE_MISSING:
                missing[phase[0]] = True
            return worker.poll() is not None

        _until(lambda: watch() or bool(ready), READY_TIMEOUT_S)
        build_s = time.monotonic() - started
        phase[0] = "after"
        settle_until = time.monotonic() + args.settle
        _until(lambda: watch() or time.monotonic() > settle_until, args.settle + 60.0)
        quit_by_itself = worker.poll() is not None
    finally:
        master.quit()
        try:
            code = worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            code = worker.wait()
    return {
        "ready": ready[0] if ready else None,
        "heartbeats_during_build": beats["build"],
        "heartbeats_after": beats["after"],
        "missing_during_build": missing["build"],
        "missing_after": missing["after"],
        "worker_quit_by_itself": quit_by_itself,
        "worker_exit": code,
        "build_s": round(build_s, 2),  # for the reader only
    }


def _until(done: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        gevent.sleep(POLL_S)


def _setup(practitioners: int) -> dict[str, Any]:
    """What :class:`~harness.workers.DistributedLoad` sends: worker 0 of 2 of a practice whose
    directory holds made-up ids (the worker only pairs them with the practice it builds)."""
    directory = Directory(
        [PractitionerEntry(f"pr-{i}", f"{i:011d}", "Dr X", "x") for i in range(practitioners)],
        [PatientEntry(f"pa-{i}", "P", "1980-01-01", "1") for i in range(practitioners)],
    )
    now_ns = time.monotonic_ns()
    return {
        "k": 0,
        "of": 2,
        "scenario": SCENARIO.format(practitioners=practitioners),
        "source": "heartbeat-probe.yaml",
        "source_dir": ".",
        "seed": 3,
        "duration": 60.0,
        "users": 5,
        "service_url": "http://127.0.0.1:9",  # never called: no user is started
        "directory": directory.to_json(),
        "started_ns": now_ns,
        "started_wall_ns": time.time_ns(),
        "stream": False,
        "first_free_process": 10**9 + practitioners,
    }


if __name__ == "__main__":
    main()
