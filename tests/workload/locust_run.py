"""A short Locust run of the workload, in its own process (Locust patches the standard library).

    python -m tests.workload.locust_run --url URL --out DIR --seconds 3 --practitioners 6 --users 3

Writes ``DIR/history.jsonl``, ``DIR/directory.json``, ``DIR/export.json`` and ``DIR/stats.json``.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401  (first: gevent's monkey patching)
# isort: on

import argparse
import json
from pathlib import Path

import gevent
from locust.env import Environment

from ackguard.harness.history import HistoryWriter
from ackguard.harness.workload import Workload, WorkloadConfig
from ackguard.harness.workload.practitioner import CONSULTATION_STEPS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--practitioners", type=int, default=6)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--time-scale", type=float, default=7200.0)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--force-stop", action="store_true", help="kill users mid-request")
    parser.add_argument("--steps", choices=CONSULTATION_STEPS, default="full")
    parser.add_argument("--consultations", type=int, help="each agenda's length (default: no end)")
    args = parser.parse_args()
    config = WorkloadConfig(
        seed=args.seed,
        practitioners=args.practitioners,
        patients_per_practitioner=5,
        time_scale=args.time_scale,
        request_timeout_s=args.timeout,
        amend_probability=0.5,
        read_probability=0.5,
        consultations_per_practitioner=args.consultations,
        consultation_steps=args.steps,
    )
    with HistoryWriter(args.out / "history.jsonl") as history:
        workload = Workload(config, history, users=args.users)
        directory = workload.setup(args.url, timeout_s=30)
        environment = Environment(user_classes=workload.user_classes(), host=args.url)
        if not args.force_stop:
            environment.stop_timeout = args.timeout + 1.0  # operations in flight complete
        runner = environment.create_local_runner()
        runner.start(args.users, spawn_rate=args.users)
        gevent.sleep(args.seconds)
        runner.quit()
    (args.out / "directory.json").write_text(json.dumps(directory.to_json(), ensure_ascii=False))
    (args.out / "export.json").write_text(json.dumps(workload.export(args.url), ensure_ascii=False))
    total = environment.stats.total
    names = sorted({name for name, _method in environment.stats.entries})
    stats = {"requests": total.num_requests, "failures": total.num_failures, "names": names}
    (args.out / "stats.json").write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
