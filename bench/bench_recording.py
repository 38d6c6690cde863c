"""The cost of recording the history: Locust throughput with and without it, side by side.

Two identical workloads (same seed: same practitioners, agendas and notes), one recording every
operation in a history file, the other recording nothing, each against its own consultation
service on its own SQLite file, run in alternating phases (ABBA order per round, so that the
databases growing during the run favour neither). With ``--url`` both share that one service and
the silent workload uses seed ``--seed + 1`` (the same idempotency keys would collide).
Prints requests per second and the load generator's CPU time per request for each, and the
difference. ackguard's target: recording costs at most 5 % of throughput.

When the service is the bottleneck the throughput difference is small whatever recording costs;
the CPU time per request of the load generator shows the recording's own cost. The service shares
the machine's cores with this process: on 2 shared cores the figures are pessimistic.

Examples:
    .venv/bin/python bench/bench_recording.py
    .venv/bin/python bench/bench_recording.py --rounds 4 --seconds 10 --users 100
    .venv/bin/python bench/bench_recording.py --url http://127.0.0.1:8000
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401  (first: Locust patches the standard library with gevent)

# isort: on
import argparse
import contextlib
import statistics
import tempfile
from pathlib import Path

from bench_workload import Phase, arguments, config_of, measure, service
from locust.env import Environment

from ackguard.harness.history import HistoryWriter
from ackguard.harness.workload import Workload


def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.epilog = __doc__.split("Examples:")[1]
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds (default 3)")
    parser.set_defaults(seconds=6.0, warmup=1.5)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ackguard-bench-")))
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        urls = {
            "recorded": stack.enter_context(service(args.url, tmp / "a")),
            "silent": stack.enter_context(service(args.url, tmp / "b")),
        }
        history = stack.enter_context(HistoryWriter(tmp / "history.jsonl"))
        silent_seed = args.seed + 1 if args.url else args.seed
        workloads = {
            "recorded": Workload(config_of(args, args.seed), history, users=args.users),
            "silent": Workload(config_of(args, silent_seed), None, users=args.users),
        }
        environments: dict[str, Environment] = {}
        for label, workload in workloads.items():
            url = urls[label]
            workload.setup(url, timeout_s=600)
            environments[label] = Environment(user_classes=workload.user_classes(), host=url)
        phases: dict[str, list[Phase]] = {"recorded": [], "silent": []}
        for round_ in range(args.rounds):
            order = ("recorded", "silent", "silent", "recorded")
            for label in order:
                phase = measure(environments[label], args.users, args.seconds / 2, args.warmup)
                phases[label].append(phase)
            print(
                f"round {round_ + 1}/{args.rounds}: "
                + ", ".join(
                    f"{k} {statistics.mean(p.rps for p in v[-2:]):,.0f} req/s"
                    for k, v in phases.items()
                ),
                flush=True,
            )
    for environment in environments.values():
        if environment.runner is not None:
            environment.runner.quit()
    rps = {
        label: sum(p.requests for p in ps) / sum(p.seconds for p in ps)
        for label, ps in phases.items()
    }
    cpu = {
        label: 1e6 * sum(p.cpu_s for p in ps) / sum(p.requests for p in ps)
        for label, ps in phases.items()
    }
    print(
        f"{args.practitioners} practitioners on {args.users} users, {args.rounds} ABBA rounds "
        f"of {args.seconds:g} s per side"
    )
    for label in ("silent", "recorded"):
        print(f"  {label:9s} {rps[label]:8,.0f} requests/s   {cpu[label]:6,.0f} µs CPU per request")
    print(
        f"throughput with recording: {rps['recorded'] / rps['silent'] - 1:+.1%} "
        f"(target: no worse than -5%)"
    )
    print(
        f"load-generator CPU per request with recording: {cpu['recorded'] / cpu['silent'] - 1:+.1%}"
    )
    print("note: the service shares the machine's cores with this process; figures are pessimistic")


if __name__ == "__main__":
    main()
