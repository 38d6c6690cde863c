"""How many practitioner operations per second one Locust process sustains; prints figures.

Starts the consultation service (``python -m ackguard.fakes.consultations`` on a SQLite file in a
temporary directory) unless ``--url`` names a running one, registers the practitioners, then runs
the workload for ``--seconds`` with history recording. By default the simulated clock runs so fast
(``--time-scale 1e7``, ``--max-idle 0``) that practitioners never wait: the figure is the
process's ceiling. With a realistic ``--time-scale`` (3600) it shows whether the users keep up
with the practitioners' agendas (see "simulated time covered").

The service runs on the same machine: on 2 shared cores both compete for CPU and the figures are
pessimistic for the load generator. Its CPU time over the measured seconds is printed beside the
generator's (``--service-pid`` names it when ``--url`` is given): per request, the two figures a
busy machine bends least. ``--json PATH`` writes the figures for ``bench_service.py``, which runs
this benchmark against its own services to set them side by side.

Examples:
    .venv/bin/python bench/bench_workload.py
    .venv/bin/python bench/bench_workload.py --practitioners 3000 --users 100 --time-scale 3600
    .venv/bin/python bench/bench_workload.py --url http://127.0.0.1:8000 --seconds 30
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401  (first: Locust patches the standard library with gevent)

# isort: on
import argparse
import contextlib
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gevent
from locust.env import Environment

from ackguard.harness.history import HistoryWriter, read_history
from ackguard.harness.workload import Workload, WorkloadConfig


@contextlib.contextmanager
def service(url: str | None, workdir: Path) -> Iterator[str]:
    """The URL of the service: the one given, or a fresh ``fakes.consultations`` on SQLite."""
    with service_process(url, workdir) as (found, _pid):
        yield found


@contextlib.contextmanager
def service_process(url: str | None, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """As :func:`service`, with the process id of the service it started (``None`` for a
    given URL)."""
    if url:
        yield url, None
        return
    from ackguard.harness.services.service import ConsultationService

    started = ConsultationService(workdir, f"sqlite:///{workdir / 'consultations.sqlite'}")
    started.start()
    try:
        yield started.url, started.pid
    finally:
        started.stop()


def process_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; 0 without a pid."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    seconds: float
    requests: int
    failures: int
    cpu_s: float
    service_cpu_s: float = 0.0
    by_name: dict[str, int] | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return 1e6 * self.cpu_s / max(1, self.requests)

    @property
    def service_cpu_us_per_request(self) -> float:
        return 1e6 * self.service_cpu_s / max(1, self.requests)


def measure(
    environment: Environment,
    users: int,
    seconds: float,
    warmup: float,
    service_pid: int | None = None,
) -> Phase:
    """Run ``users`` users; count requests after ``warmup`` seconds for ``seconds``, then stop
    them (the environment's runner is created once and reused by later phases). The CPU time
    of process ``service_pid`` over the same seconds is the service's."""
    runner = environment.runner or environment.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(warmup)
    stats = environment.stats
    total = stats.total
    requests, failures = total.num_requests, total.num_failures
    named = {name: entry.num_requests for (name, _), entry in stats.entries.items()}
    wall, cpu, service_cpu = time.monotonic(), time.process_time(), process_cpu_s(service_pid)
    gevent.sleep(seconds)
    phase = Phase(
        time.monotonic() - wall,
        total.num_requests - requests,
        total.num_failures - failures,
        time.process_time() - cpu,
        process_cpu_s(service_pid) - service_cpu,
        {
            name: entry.num_requests - named.get(name, 0)
            for (name, _), entry in stats.entries.items()
        },
    )
    runner.stop()
    return phase


def arguments(description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description or __doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples:")[1] if description is None else None,
    )
    parser.add_argument("--url", help="a running consultation service (default: start one)")
    parser.add_argument("--practitioners", type=int, default=200)
    parser.add_argument("--users", type=int, default=50, help="Locust users (default 50)")
    parser.add_argument("--patients", type=int, default=5, help="patients per practitioner")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--time-scale", type=float, default=1e7, help="simulated s per real s")
    parser.add_argument("--max-idle", type=float, default=0.0, help="cap of a user's sleep (s)")
    parser.add_argument("--seed", type=int, default=1)
    return parser


def _own_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--service-pid", type=int, help="with --url: the service's process, to time its CPU"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser


def config_of(args: argparse.Namespace, seed: int) -> WorkloadConfig:
    return WorkloadConfig(
        seed=seed,
        practitioners=args.practitioners,
        patients_per_practitioner=args.patients,
        time_scale=args.time_scale,
        max_idle_s=args.max_idle,
    )


def main() -> None:
    args = _own_arguments(arguments()).parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ackguard-bench-") as tmp,
        service_process(args.url, Path(tmp)) as (url, started_pid),
    ):
        history_path = Path(tmp) / "history.jsonl"
        with HistoryWriter(history_path) as history:
            workload = Workload(config_of(args, args.seed), history, users=args.users)
            began = time.monotonic()
            workload.setup(url, timeout_s=600)
            setup_s = time.monotonic() - began
            environment = Environment(user_classes=workload.user_classes(), host=url)
            service_pid = started_pid or args.service_pid
            phase = measure(environment, workload.users, args.seconds, args.warmup, service_pid)
            if environment.runner is not None:
                environment.runner.quit()
            completions = Counter(
                op.type for op in read_history(history_path) if op.type != "invoke"
            )
        sim_now = workload.simulated_now()
    ops = sum(completions.values())
    print(
        f"practitioners {args.practitioners} on {workload.users} Locust users "
        f"({workload.practitioners_per_user} per user), time scale {args.time_scale:g}"
    )
    print(
        f"setup: {args.practitioners} practitioners + {args.practitioners * args.patients} "
        f"patients registered in {setup_s:.1f} s"
    )
    print(
        f"requests/s (measured {phase.seconds:.1f} s): {phase.rps:,.0f}   "
        f"failures: {phase.failures}"
    )
    print(f"operations completed in the history (whole run): {ops:,} {dict(completions)}")
    print(
        f"load generator CPU: {phase.cpu_s / phase.seconds:.0%} of one core, "
        f"{phase.cpu_us_per_request:,.0f} µs per request"
    )
    print(f"requests by name (measured): {phase.by_name}")
    if service_pid is not None:
        per_request = phase.service_cpu_us_per_request
        print(
            f"service CPU: {phase.service_cpu_s / phase.seconds:.0%} of one core, "
            f"{per_request:,.0f} µs per request "
            f"({per_request / phase.cpu_us_per_request:.2f} of the generator's)"
        )
    print(
        f"simulated time covered: {workload.config.sim_start:%a %d %b %H:%M} -> "
        f"{sim_now:%a %d %b %H:%M}"
    )
    print("note: the service shares the machine's cores with this process; figures are pessimistic")
    if args.json is not None:
        figures = {
            "seconds": phase.seconds,
            "requests": phase.requests,
            "failures": phase.failures,
            "generator_cpu_s": phase.cpu_s,
            "service_cpu_s": phase.service_cpu_s if service_pid is not None else None,
            "by_name": phase.by_name,
        }
        args.json.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
