"""Time ``render_run`` on a large synthetic run and print the figures.

Targets: a run of 1,000,000 operations renders in at most 3 s into a page of at most 5 MB.
The run (history through the real HistoryWriter, verdict with thousands of anomalies, run.json,
directory.json, final read) is generated into a temporary folder first; that part is not timed.
A history of 128 MB or more is scanned in parts by worker processes, one per core: the CPU time
is printed for this process and for the workers, with the load average (2 shared cores: wall
time follows the other work on the machine).

example: .venv/bin/python bench/bench_report.py --operations 1000000 [--keep DIR]
then, to time the same run again: .venv/bin/python bench/bench_report.py --rerender DIR
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.reports.runbuilder

from ackguard.reports import render_index, render_run
from tests.reports.runbuilder import synthetic_run

TARGET_S = 3.0
TARGET_BYTES = 5 * 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="example: .venv/bin/python bench/bench_report.py --operations 1000000 --losses 3000",
    )
    parser.add_argument("--operations", type=int, default=1_000_000, help="client operations")
    parser.add_argument("--losses", type=int, default=3000, help="lost + corrupt records wanted")
    parser.add_argument("--duration", type=float, default=1800.0, help="run length, seconds")
    parser.add_argument("--keep", type=Path, help="write the run here instead of a temp folder")
    parser.add_argument(
        "--rerender", type=Path, help="render this kept run again (no generation, no index)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ackguard-bench-") as scratch:
        run_dir = options.rerender or options.keep or Path(scratch) / "run"
        if options.rerender is None:
            _generate(run_dir, options)
        history_mb = (run_dir / "history.jsonl").stat().st_size / 1e6
        print(f"history {history_mb:.0f} MB")
        print("load average before (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        started, cpu, workers = time.perf_counter(), time.process_time(), _workers_cpu()
        rendered = render_run(run_dir)
        elapsed = time.perf_counter() - started
        size = rendered.html.stat().st_size
        cpu_s, workers_s = time.process_time() - cpu, _workers_cpu() - workers
        print(
            f"render_run: {elapsed:.2f} s (target {TARGET_S:.0f} s), "
            f"CPU {cpu_s:.2f} s here + {workers_s:.2f} s in worker processes"
        )
        print(f"report.html: {size / 1e6:.2f} MB (target {TARGET_BYTES / 1e6:.1f} MB)")
        print(f"impact.csv: {rendered.impact_csv.stat().st_size / 1e6:.2f} MB")
        print(f"junit.xml: {rendered.junit.stat().st_size / 1e3:.1f} kB")
        if options.rerender is None:  # a kept run's folder may hold others' files: no index.html
            started, cpu = time.perf_counter(), time.process_time()
            render_index(run_dir.parent)  # as ``ackguard run`` does next: reads the report's cache
            print(
                f"render_index after it: {time.perf_counter() - started:.2f} s, "
                f"CPU {time.process_time() - cpu:.2f} s"
            )
        verdict = "within" if elapsed <= TARGET_S and size <= TARGET_BYTES else "OUTSIDE"
        print(f"{verdict} the targets (2 shared cores: figures are pessimistic)")
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


def _generate(run_dir: Path, options: argparse.Namespace) -> None:
    print(f"generating {options.operations:,} operations into {run_dir} ...", flush=True)
    started = time.perf_counter()
    made = synthetic_run(
        run_dir, operations=options.operations, losses=options.losses,
        duration_s=options.duration, practitioners=3000,
    )  # fmt: skip
    print(
        f"generated in {time.perf_counter() - started:.1f} s: {made.operations:,} operations, "
        f"{made.acknowledged:,} acknowledged, {len(made.lost):,} lost, "
        f"{len(made.corrupt):,} corrupt"
    )


def _workers_cpu() -> float:
    """CPU seconds (user and system) of this process's children that have ended."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
