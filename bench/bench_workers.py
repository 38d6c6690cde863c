"""Operations per second with the practitioners in the harness and on 1 and 2 Locust workers.

Runs one scenario (the correct service on SQLite, no fault, a fast simulated clock so that
practitioners rarely wait) through ``ackguard run`` with each ``--workers`` count, and reads each
run's merged ``history.jsonl``: completed client operations (ok, fail, info) divided by the time
from the first to the last of them. Prints the machine's load average before and after, since on
2 shared cores the service, the harness and the workers compete for CPU.

examples:
  .venv/bin/python bench/bench_workers.py                     # 0 (in-process), 1 and 2 workers
  .venv/bin/python bench/bench_workers.py --workers 2 --duration 40s --practitioners 600
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN_TIMEOUT_S = 900
SCENARIO = """name: bench-workers
seed: 5
duration: {duration}
practitioners: {practitioners}
users: {users}
time_scale: 86400
live: false
expect: true
"""


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _ops_per_second(history: Path) -> tuple[int, float]:
    """(completed client ops, per second between the first and the last client op)."""
    count, first, last = 0, None, None
    with history.open("rb") as lines:
        for line in lines:
            op = json.loads(line)
            if not isinstance(op["process"], int):
                continue
            first = op["time"] if first is None else first
            last = op["time"]
            count += op["type"] != "invoke"
    if first is None or last is None or last <= first:
        return count, 0.0
    return count, count / ((last - first) / 1e9)


def _run(workers: int, scenario: Path, runs: Path) -> tuple[int, float, float]:
    argv = [sys.executable, "-m", "ackguard", "run", str(scenario), "--runs-dir", str(runs)]
    argv += ["--no-report", *(["--workers", str(workers)] if workers else [])]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    elapsed = time.monotonic() - started
    found = sorted(p for p in runs.iterdir() if p.is_dir())
    if done.returncode != 0 or not found:
        raise SystemExit(
            f"--workers {workers}: ackguard run ended {done.returncode}:\n{done.stderr}"
        )
    count, rate = _ops_per_second(found[-1] / "history.jsonl")
    return count, rate, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--practitioners", type=int, default=300)
    parser.add_argument("--users", type=int, default=30)
    options = parser.parse_args()
    print(f"before: {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        scenario = Path(folder) / "scenario.yaml"
        scenario.write_text(
            SCENARIO.format(
                duration=options.duration,
                practitioners=options.practitioners,
                users=options.users,
            ),
            encoding="utf-8",
        )
        for workers in options.workers:
            runs = Path(folder) / f"runs-{workers}"
            count, rate, elapsed = _run(workers, scenario, runs)
            plural = "s" if workers > 1 else ""
            who = "in the harness" if workers == 0 else f"on {workers} worker{plural}"
            print(
                f"{who:>16}: {rate:7.0f} ops/s ({count} ops completed; whole run "
                f"{elapsed:.0f} s; {_load()})"
            )
    print(f"after: {_load()}")


if __name__ == "__main__":
    main()
