"""The reference incident at its real size: wall time per phase, and the impact list against the
cohort.

Runs ``examples/full-scale/incident-full-scale.yaml`` (300,000 practitioners, 1.3% cohort,
18-hour practice window) through ``python -m ackguard run``, timing each phase from the moment
its progress line appears (start, which builds the practice, registration, the workers joining
if any, load, heal, final read) and, for the phases the run prints nothing about, from what it
leaves: run.json ``ended_at`` (verification starts), verdict.json and report.html (their mtimes).
Beside each phase's wall time, the CPU time its processes used (harness, service, workers),
read from /proc at each progress line: other benchmarks on the same 2 cores stretch the wall
time, much less the CPU time.

Then it checks the run's impact list: the cohort (run.json ``cohorts``), the cohort members who
wrote a note inside the practice window (from the history, :mod:`harness.cohort_writes`, the
same rule the catalogue test applies at 3,000), and the practitioners impact.csv names. Nobody
may be named outside that set and nobody in it may be missed, and every practitioner must have
written (an acknowledged create): the whole practice was exercised. The exit code is 1 if any
of these fails (or the verdict is not FAIL), 0 otherwise.

``--practitioners N`` runs a copy of the scenario with N practitioners (users scaled alike, or
``--users``) to extrapolate; ``--check RUN_DIR`` only checks a finished run. Prints the
machine's load average before and after: on 2 shared cores the service, the harness and its
workers compete for CPU.

Measured in-process at 300,000 on the 2 cores shared with other benchmarks (load average 5 to
9): every practitioner wrote (300,000 creates, 298 timed out and retried); 1,294 s of wall time
(start 80, registration 118, load 949 at ~316 creates/s, heal 9, final read 40, verification 44,
report 18, exit 31) for 713 s of CPU: start 36 (harness), registration 56 (harness 37, service
17), load 558 (harness 374: 1.25 ms a create; service 164: 0.55 ms), final read to the end 57.
Impact list: 2,773 of the 3,973 cohort members wrote inside the window, all 2,773 named, none
outside, none missed. On 2 idle cores the harness's one process bounds the load (~375 s of its
CPU, the service on the other core): about 9 minutes in all, an estimate from these figures.
Measured again on a machine quiet at the start (load average 1, 4 by the end): 703 s (11.7 min;
start 30, registration 39, load 525, final read to the end 107) for 620 s of CPU, every
practitioner written, the same 2,773 named, none outside, none missed.
With 2 workers, at 30,000: the same CPU per create spread over 2 processes, and each worker
builds the whole practice again before the load (195 s in all against 162 s in-process).
With 2 workers at 300,000 (``--workers 2``), once the workers' build yielded to their heartbeats
(before, the master dropped them), on a quiet machine (load average 0.6 at the start, 1.9 at the
end): 264 s (4.4 min; start 14, registration 23, workers join 26, load 147 at ~2,040 creates/s,
heal 7, final read 7, verification 12, report 5, exit 23) for 399 s of CPU: the workers' build
46 s (both), load 257 (workers 167: 0.56 ms a create; service 88: 0.29 ms); no worker lost,
every practitioner written, the same 2,773 named, none outside, none missed.

examples:
  .venv/bin/python bench/bench_incident_full.py                         # 300,000, 12-22 minutes
  .venv/bin/python bench/bench_incident_full.py --practitioners 30000    # ~2.5 minutes
  .venv/bin/python bench/bench_incident_full.py --workers 2              # 300,000, ~4.5 min idle
  .venv/bin/python bench/bench_incident_full.py --check runs/20261130T010000-incident-full-scale
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from ackguard.harness.cohort_writes import consultation_times, writers_in_window
from ackguard.harness.history_read import read_lines_fast
from ackguard.harness.run_files import RunFile, read_file
from ackguard.harness.verifiers.result import load_verdict

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "full-scale" / "incident-full-scale.yaml"
RUN_TIMEOUT_S = 3600
# The phase each progress line of ``ackguard run`` opens, by how the line starts. The run prints
# nothing between the final read and its summary: the end of the final read, of verification and
# of the report are read from run.json ``ended_at``, verdict.json and report.html (their mtimes).
PHASES = (
    ("run ", "start"),
    ("registering ", "registration"),
    ("Locust master", "workers join"),
    ("load: ", "load"),
    ("load stopped", "heal"),
    ("final read", "final read"),
)


_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# What each process of the run is, by a word of its command line; the run itself is the harness.
_ROLES = (("ackguard.fakes.consultations", "service"), ("worker", "workers"))


class _CpuReadings:
    """CPU seconds (user + system) used so far by the run and every process below it, by role
    (harness, service, workers, other), read from /proc. Each process counts its own time only,
    and keeps its last reading once it has ended (what it used after that reading is not seen:
    a lower bound), so a worker reaped by the harness does not move into the harness's figure."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._last: dict[int, tuple[str, float]] = {}

    def read(self) -> dict[str, float]:
        parents: dict[int, int] = {}
        seen: dict[int, tuple[str, float]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:  # ended meanwhile
                continue
            fields = stat[stat.rindex(")") + 2 :].split()  # from the state on: ppid is [1]
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            role = next((name for word, name in _ROLES if word in command), "other")
            used = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime + stime
            seen[pid] = ("harness" if pid == self.root else role, used)
        self._last.update(
            (pid, reading) for pid, reading in seen.items() if _below(pid, self.root, parents)
        )
        by_role: dict[str, float] = {}
        for role, used in self._last.values():
            by_role[role] = by_role.get(role, 0.0) + used
        return by_role


def _below(pid: int, root: int, parents: dict[int, int]) -> bool:
    """``pid`` is ``root`` or one of its descendants."""
    while pid > 1:
        if pid == root:
            return True
        pid = parents.get(pid, 1)
    return False


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _scenario(practitioners: int | None, users: int | None, folder: Path) -> Path:
    """The full-scale scenario, or a copy of it with ``practitioners`` (users scaled alike
    unless ``users`` is given)."""
    if practitioners is None and users is None:
        return SCENARIO
    data = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    practitioners = practitioners or data["practitioners"]
    users = users or max(1, data["users"] * practitioners // data["practitioners"])
    data.update(name=f"incident-{practitioners}", practitioners=practitioners, users=users)
    copy = folder / f"incident-{practitioners}.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return copy


def _run(scenario: Path, runs: Path, workers: int, duration: str | None) -> tuple[Path, int]:
    """Run the scenario, echoing its output; print each phase's wall time and the CPU time
    its processes used, by role (from the phase's progress line to the next). (run dir, exit)."""
    argv = [sys.executable, "-m", "ackguard", "run", str(scenario), "--runs-dir", str(runs)]
    argv += [*(["--workers", str(workers)] if workers else [])]
    argv += [*(["--duration", duration] if duration else [])]
    began = time.time()
    marks: list[tuple[str, float]] = []
    cpu_marks: list[tuple[str, dict[str, float]]] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )
    cpu = _CpuReadings(process.pid)
    assert process.stdout is not None
    for line in process.stdout:  # ends when the run ends (or RUN_TIMEOUT_S kills it)
        now = time.time()
        print(f"  {now - began:7.1f}s | {line.rstrip()}", flush=True)
        if now - began > RUN_TIMEOUT_S:
            process.kill()
            break
        for prefix, phase in PHASES:
            if line.startswith(prefix) and phase not in dict(marks):
                marks.append((phase, now))
                cpu_marks.append((phase, cpu.read()))
    code = process.wait()
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    found = sorted(path.parent for path in runs.glob("*/run.json"))  # named by start time
    if not found:
        raise SystemExit(f"the run left no run directory in {runs}")
    marks += _file_marks(found[-1])
    print(f"\nwall time {ended - began:.1f}s ({(ended - began) / 60:.1f} min), exit code {code}")
    for (phase, start), end in zip(marks, [m[1] for m in marks[1:]] + [ended], strict=True):
        print(f"  {phase:<24} {end - start:7.1f}s")
    _print_cpu(cpu_marks, used)
    return found[-1], code


def _print_cpu(marks: list[tuple[str, dict[str, float]]], used: float) -> None:
    """CPU seconds per phase (each from its progress line to the next; the last to the end of
    the run, from the run's rusage) and, for the phases read from /proc, by role."""
    print(f"cpu time {used:.1f}s in all (the run and every process below it)")
    totals = [sum(snapshot.values()) for _, snapshot in marks] + [used]
    for index, (phase, snapshot) in enumerate(marks):
        if index + 1 < len(marks):
            following = marks[index + 1][1]
            roles = sorted(set(snapshot) | set(following))
            split = ", ".join(
                f"{role} {following.get(role, 0.0) - snapshot.get(role, 0.0):.1f}s"
                for role in roles
            )
            print(f"  {phase:<24} {totals[index + 1] - totals[index]:7.1f}s  ({split})")
        else:
            print(f"  {phase + ' to the end':<24} {totals[-1] - totals[index]:7.1f}s")


def _file_marks(run_dir: Path) -> list[tuple[str, float]]:
    """When verification and the report began and the index (after the report) began, from
    what the run left; a missing file leaves its phase out."""
    marks: list[tuple[str, float]] = []
    run = read_file(run_dir / "run.json", RunFile)
    if run.ended_at is not None:  # written once the system is stopped, just before verification
        marks.append(("verification", run.ended_at.timestamp()))
    for name, phase in (("verdict.json", "report"), ("report.html", "index and exit")):
        if (run_dir / name).is_file():
            marks.append((phase, (run_dir / name).stat().st_mtime))
    return marks


def _practitioners_who_wrote(history: Path) -> set[str]:
    """The practitioners with at least one acknowledged create."""
    return {
        op.value["practitioner_id"]
        for op in read_lines_fast(history)
        if op.f == "create" and op.type == "ok"
    }


def check(run_dir: Path) -> bool:
    """Print the impact list's counts against the cohort, and how much of the practice wrote;
    True if the impact list matches exactly and every practitioner wrote."""
    run = read_file(run_dir / "run.json", RunFile)
    verdict = load_verdict(run_dir)
    valid = None if verdict is None else verdict.valid
    cohort = run.cohorts[0]
    members = set(cohort.practitioner_ids)
    span = cohort.practice_window
    if span is None:
        raise ValueError(f"{run_dir}/run.json: the cohort {cohort.name} has no practice window")
    window = [datetime.fromisoformat(end) for end in (span.start, span.until)]
    practitioners = run.practitioners or 0
    history = run_dir / "history.jsonl"
    started = time.monotonic()
    practice = consultation_times(history)
    writers = writers_in_window(history, members, window, practice)
    everyone_wrote = len(_practitioners_who_wrote(history)) == practitioners
    with (run_dir / "impact.csv").open(encoding="utf-8", newline="") as rows:
        impact = list(csv.DictReader(rows))
    named = {row["practitioner_id"] for row in impact}
    wrote = {k for k, moment in practice.items() if moment < window[1]}
    inside = sum(window[0] <= moment < window[1] for moment in practice.values())
    print(f"\nimpact check of {run_dir} ({time.monotonic() - started:.1f}s to read the history)")
    shown = "PASS" if valid is True else "FAIL" if valid is False else "UNKNOWN"
    print(f"  verdict                                  {shown:>9}")
    print(f"  practitioners                            {practitioners:>9,}")
    print(f"  every one wrote (acknowledged create)    {'yes' if everyone_wrote else 'NO':>9}")
    print(f"  consultations created (before the end)   {len(practice):>9,} ({len(wrote):,})")
    print(f"  consultations inside the window          {inside:>9,}")
    if practice:
        print(f"  last consultation (practice time)        {max(practice.values()).isoformat()}")
    print(f"  cohort size                              {len(members):>9,}")
    print(f"  cohort who wrote in the window           {len(writers):>9,}")
    print(f"  damaged records in impact.csv            {len(impact):>9,}")
    print(f"  practitioners named in impact.csv        {len(named):>9,}")
    print(f"  named, in the cohort-and-window set      {len(named & writers):>9,}")
    print(f"  named outside it (must be 0)             {len(named - writers):>9,}")
    print(f"  missed (must be 0)                       {len(writers - named):>9,}")
    exact = valid is False and named == writers and bool(writers)
    return exact and everyone_wrote


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--practitioners", type=int, help="run a copy with this many")
    parser.add_argument("--users", type=int, help="Locust users (default: scaled alike)")
    parser.add_argument("--duration", help="override the scenario's duration, e.g. 60s")
    # In-process by default: on 2 cores, workers cost the same CPU per operation as the harness
    # alone, and each builds the whole practice again before the load (measured at 30,000: load
    # CPU 34 s on 2 workers against 32 s in-process, 25 s more wall time to join, 195 s in all
    # against 162 s, load average ~8). At 300,000, 2 workers took 264 s against 703 s in-process
    # (both on a quiet machine): the harness's one process no longer bounds the load.
    parser.add_argument("--workers", type=int, default=0, help="Locust workers (0: in-process)")
    parser.add_argument("--runs-dir", type=Path, help="where the run goes (default: a temp dir)")
    parser.add_argument("--check", type=Path, metavar="RUN_DIR", help="only check this run")
    args = parser.parse_args()
    if args.practitioners is not None and args.practitioners < 1:
        parser.error(f"--practitioners must be at least 1, got {args.practitioners}")
    if args.users is not None and args.users < 1:
        parser.error(f"--users must be at least 1, got {args.users}")
    if args.check is not None:
        if not (args.check / "run.json").is_file():
            parser.error(f"--check {args.check}: not a run directory (no run.json)")
        return 0 if check(args.check) else 1
    print(_load(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-incident-") as temp:
        runs = args.runs_dir or Path(temp) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        scenario = _scenario(args.practitioners, args.users, Path(temp))
        run_dir, code = _run(scenario, runs, args.workers, args.duration)
        print(_load())
        if code not in (0, 1) or not (run_dir / "verdict.json").is_file():
            print(f"the run did not reach a verdict (exit {code}): see {run_dir}")
            return 1
        return 0 if check(run_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
