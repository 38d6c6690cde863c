"""Benchmark of the verifiers on large run directories; prints figures, asserts nothing.

Generates a history of N operations (creates, updates, reads, lists, some indeterminate and
failed, fault starts and stops) and its final read into a temporary run directory, with a few
records deliberately lost and damaged, then verifies it from the files the way ``ackguard
verify`` does (load_final_read, then compose_file: the typed history reader streamed into the
index) in a child process, so that its peak memory is the verification's alone. Wall time on a
machine others share swings by 2-3 times: the CPU time of the child is printed too, and
``uptime`` should be noted with any figure.

Each size is verified once per ``--jobs`` value (default ``1 2``, side by side on the same files):
one process, then the records in that many parts (:mod:`harness.verifiers.parallel`, the way
``ackguard verify --jobs N`` checks them); the CPU and the peak RSS printed for parts are all
processes' added, with each part process's own.

Several sizes are measured in one run (``--ops 1000000 10000000``). A simulated run of up to
1,000,000 operations (the *base*) is generated once, with placeholders in its ids, keys,
processes and times; a larger history is the base written again and again with each copy's
placeholders filled in (copy ``r``: keys ``k<r>-...``, its own practitioners, patients, record
ids and processes, times after the previous copy's), which takes seconds instead of a minute
per million operations. Each copy is a run of its own practitioners, so the verdict of ``n``
copies counts ``n`` times the base's anomalies. Generated files are deleted afterwards (10M
operations are ~3.4 GB) unless ``--keep``.

Example:
    .venv/bin/python bench/bench_verifier.py                           # 1,000,000 ops
    .venv/bin/python bench/bench_verifier.py --ops 1000000 10000000    # both sizes
    .venv/bin/python bench/bench_verifier.py --ops 200000 --keep
    .venv/bin/python bench/bench_verifier.py --jobs 1 2 4              # one process, 2, 4 parts
    .venv/bin/python bench/bench_verifier.py --jobs 1 2 --parts 8      # 8 parts in waves
    .venv/bin/python bench/bench_verifier.py --loops c python          # C loops against Python
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ackguard.harness.final_read import FinalRead, FinalRecord, load_final_read, write_final_read
from ackguard.harness.history import OBSERVATION_FIELDS, FieldDigest, read_history
from ackguard.harness.verifiers import compose, compose_file, verifiers_named
from ackguard.harness.verifiers.parallel import check_in_parts
from ackguard.harness.verifiers.result import CLASSES, Result, Verdict, combine

MS = 1_000_000
LANES = 200  # concurrent practitioners
FAULT_EVERY = 20_000  # ops between fault starts
BASE_OPS = 1_000_000  # the simulated run a larger history repeats

# Placeholders of the base, filled per copy by _fill: "~" in ids and keys; a leading 9 (of a
# fixed number of digits) in indexes, times and client processes.
PLACE = "~"
INDEX_MARK = 9 * 10**10
TIME_MARK = 9 * 10**15
PROCESS_MARK = 9 * 10**9
_MARKED = (b'"index":9', b'"time":9', b'"process":9')


class _Generator:
    """A plausible run: each lane is one practitioner issuing one op at a time; an op that ends
    info moves the lane to a fresh process id and an info create is retried once."""

    def __init__(self, ops: int, seed: int) -> None:
        self.target = ops
        self.rng = random.Random(seed)
        self.time = 0
        self.index = 0
        self.next_process = LANES
        self.process = list(range(LANES))
        self.in_flight: list[tuple[str, str | None, Any, str] | None] = [None] * LANES
        self.retry: list[tuple[str, Any] | None] = [None] * LANES
        self.acked: list[list[str]] = [[] for _ in range(LANES)]
        self.landed: dict[str, dict[str, Any]] = {}  # key -> record as stored
        self.next_key = 0
        self.next_id = 0
        self.fault_on = False

    def run(self, path: Path) -> None:
        """Writes the base history (with placeholders) to ``path``."""
        dumps = orjson.dumps
        with path.open("wb", buffering=1 << 20) as out:
            lines: list[bytes] = []
            while self.index < self.target:
                for line in self._step():
                    lines.append(dumps(line))
                if len(lines) >= 10_000:
                    out.write(b"\n".join(lines) + b"\n")
                    lines.clear()
            if lines:
                out.write(b"\n".join(lines) + b"\n")

    def _op(
        self, process: object, type_: str, f: str, key: str | None, value: Any
    ) -> dict[str, Any]:
        self.time += self.rng.randint(20_000, 400_000)
        if isinstance(process, int):
            process += PROCESS_MARK
        op = {"index": INDEX_MARK + self.index, "time": TIME_MARK + self.time}
        op |= {"process": process, "type": type_, "f": f}
        op |= {"key": key, "value": value, "error": None}
        self.index += 1
        return op

    def _step(self) -> list[dict[str, Any]]:
        if self.index and self.index % FAULT_EVERY == 0:
            return self._fault()
        lane = self.rng.randrange(LANES)
        started = self.in_flight[lane]
        if started is None:
            return [self._invoke(lane)]
        self.in_flight[lane] = None
        return [self._complete(lane, *started)]

    def _fault(self) -> list[dict[str, Any]]:
        f = "stop" if self.fault_on else "start"
        self.fault_on = not self.fault_on
        value = {"fault": "kill", "kind": "service-kill", "description": "SIGKILL the service"}
        return [
            self._op("nemesis", "invoke", f, None, value),
            self._op("nemesis", "ok", f, None, value),
        ]

    def _fields(self, names: tuple[str, ...]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name in names:
            size = self.rng.choice((40, 200, 1200))
            text = f"{name}-{self.index}-" + "n" * size
            fields[name] = FieldDigest.of(text).to_json()
        return fields

    def _invoke(self, lane: int) -> dict[str, Any]:
        process = self.process[lane]
        retry = self.retry[lane]
        if retry is not None:
            self.retry[lane] = None
            key, value = retry
            self.in_flight[lane] = ("create", key, value, "retry")
            return self._op(process, "invoke", "create", key, value)
        roll = self.rng.random()
        mine = self.acked[lane]
        if roll < 0.2 or not mine:
            key = f"k{PLACE}{self.next_key}"
            self.next_key += 1
            names = OBSERVATION_FIELDS[: self.rng.randint(2, 4)]
            value = {"practitioner_id": f"{PLACE}{lane}"}
            value["patient_id"] = f"{PLACE}{self.rng.randrange(30)}"
            value["fields"] = self._fields(names) | dict.fromkeys(OBSERVATION_FIELDS[len(names) :])
            self.in_flight[lane] = ("create", key, value, "")
            return self._op(process, "invoke", "create", key, value)
        key = self.rng.choice(mine)
        stored = self.landed[key]
        if roll < 0.45:
            names = tuple(self.rng.sample(OBSERVATION_FIELDS, self.rng.randint(1, 2)))
            value = {"id": stored["id"], "practitioner_id": f"{PLACE}{lane}"}
            value |= {"patient_id": stored["patient_id"], "fields": self._fields(names)}
            self.in_flight[lane] = ("update", key, value, "")
            return self._op(process, "invoke", "update", key, value)
        if roll < 0.9:
            self.in_flight[lane] = ("read", key, {"id": stored["id"]}, "")
            return self._op(process, "invoke", "read", key, {"id": stored["id"]})
        # a practitioner reopens one patient's notes
        query = {"practitioner_id": f"{PLACE}{lane}", "patient_id": stored["patient_id"]}
        self.in_flight[lane] = ("list", None, query, "")
        return self._op(process, "invoke", "list", None, query)

    def _complete(
        self, lane: int, f: str, key: str | None, value: Any, note: str
    ) -> dict[str, Any]:
        process = self.process[lane]
        roll = self.rng.random()
        outcome = "info" if roll < 0.02 else "fail" if roll < 0.03 else "ok"
        if f in ("read", "list") and outcome == "fail":
            outcome = "ok"
        if outcome == "info":
            self.next_process += 1
            self.process[lane] = self.next_process
        if f == "create":
            return self._complete_create(lane, process, outcome, key, value, note)
        if f == "update":
            assert key is not None
            if outcome == "ok" or (outcome == "info" and roll < 0.01):
                self.landed[key]["fields"] |= value["fields"]
            done = value | {"version": 2} if outcome == "ok" else value
            return self._op(process, outcome, "update", key, done)
        if outcome == "info":
            return self._op(process, "info", f, key, None)
        if f == "read":
            assert key is not None
            stored = self.landed[key]
            read = {"id": stored["id"], "found": True, "fields": dict(stored["fields"])}
            return self._op(process, "ok", "read", key, read)
        patient = value["patient_id"]
        keys = [k for k in self.acked[lane] if self.landed[k]["patient_id"] == patient]
        return self._op(process, "ok", "list", None, {"keys": keys})

    def _complete_create(
        self, lane: int, process: int, outcome: str, key: Any, value: Any, note: str
    ) -> dict[str, Any]:
        lands = outcome == "ok" or (outcome == "info" and self.rng.random() < 0.5)
        if lands and key not in self.landed:
            self.next_id += 1
            self.landed[key] = {
                "id": f"{PLACE}{self.next_id}",
                "practitioner_id": value["practitioner_id"],
                "patient_id": value["patient_id"],
                "fields": dict(value["fields"]),
            }
        if outcome == "ok":
            if key not in self.landed:  # an earlier indeterminate attempt did not land
                self.next_id += 1
                self.landed[key] = {
                    "id": f"{PLACE}{self.next_id}",
                    "practitioner_id": value["practitioner_id"],
                    "patient_id": value["patient_id"],
                    "fields": dict(value["fields"]),
                }
            self.acked[lane].append(key)
            done = value | {"id": self.landed[key]["id"], "version": 1}
            return self._op(process, "ok", "create", key, done)
        if outcome == "info" and note != "retry":
            self.retry[lane] = (key, value)
        return self._op(process, outcome, "create", key, value)

    def final_records(self, damage: int) -> list[FinalRecord]:
        """The base's records as a final read finds them, ``damage`` of them lost or with a
        field missing."""
        acked = [k for lane in self.acked for k in lane]
        victims = set(self.rng.sample(acked, min(damage, len(acked))))
        records: list[FinalRecord] = []
        for key, stored in self.landed.items():
            fields = {
                n: FieldDigest.from_json(d) for n, d in stored["fields"].items() if d is not None
            }
            if key in victims:
                if len(records) % 2:
                    continue  # lost
                fields.pop(next(iter(fields)))  # a missing observation field
            records.append(
                FinalRecord(
                    stored["id"], key, stored["practitioner_id"], stored["patient_id"], 2, fields
                )
            )
        return records


def _final_read(base: list[FinalRecord], copies: int, base_end: int) -> FinalRead:
    """The final read of ``copies`` copies of the base (the same records lost or damaged in
    each), begun after the last copy's last op (``base_end``: the base's last time)."""
    records: list[FinalRecord] = []
    for copy in range(copies):
        place = f"{copy}-"
        for r in base:
            records.append(
                FinalRecord(
                    r.id.replace(PLACE, place),
                    None if r.key is None else r.key.replace(PLACE, place),
                    r.practitioner_id.replace(PLACE, place),
                    r.patient_id.replace(PLACE, place),
                    r.version,
                    r.fields,
                )
            )
    return FinalRead("database", True, records, None, copies * 10**15 + base_end + MS)


def _fill(data: bytes, copy: int) -> bytes:
    """Lines of the base as copy ``copy`` writes them: placeholders filled (see PLACE)."""
    lead = b"%d" % (copy + 1)
    for mark in _MARKED:
        data = data.replace(mark, mark[:-1] + lead)
    return data.replace(PLACE.encode(), b"%d-" % copy)


def _write_copies(base: Path, path: Path, copies: int) -> int:
    """Writes ``copies`` copies of ``base`` to ``path``, placeholders filled; returns the lines."""
    lines = 0
    with path.open("wb") as out:
        for copy in range(copies):
            for block in _chunks(base):
                lines += block.count(b"\n")
                out.write(_fill(block, copy))
    return lines


def _chunks(path: Path, size: int = 8 << 20) -> Iterator[bytes]:
    """``path`` in blocks of whole lines."""
    with path.open("rb") as source:
        carry = b""
        while chunk := source.read(size):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                yield data[:cut]
        if carry:
            yield carry


def _verify(run_dir: Path, typed: bool, jobs: int, count: int | None = None) -> None:
    """Child process: verify from the files, print one JSON line of figures. ``typed`` reads
    :class:`Op` objects through read_history + compose; otherwise compose_file's row path, or
    with ``jobs`` > 1 the records checked in that many parts, a process each (their CPU and
    peak memory are added to this process's)."""
    started = time.perf_counter()
    cpu = time.process_time()
    parted = (jobs > 1 or count is not None) and not typed
    final_read = load_final_read(run_dir, records=not parted)  # parts load their own
    loaded = time.perf_counter()
    chosen = verifiers_named(["records", "read_your_writes"])
    path = run_dir / "history.jsonl"
    parts: list[tuple[float, int]] = []
    if typed:
        verdict = compose(chosen, read_history(path), final_read)
    elif parted and final_read is not None:
        names = ["records", "read_your_writes"]
        results = check_in_parts(
            names, path, run_dir, final_read, jobs=jobs, parts=count, usage=parts
        ).results
        ordered = tuple(results[name] for name in names)
        verdict = Verdict(combine(r.valid for r in ordered), _counts(ordered), ordered)
    else:
        verdict = compose_file(chosen, path, final_read)
    done = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + sum(kb for _, kb in parts)
    figures = {
        "final_read_s": loaded - started,
        "history_and_verifiers_s": done - loaded,
        "total_s": done - started,
        "cpu_s": time.process_time() - cpu + sum(spent for spent, _ in parts),
        "verdict": verdict.valid,
        "counts": dict(verdict.counts),
        "anomalies": len(verdict.anomalies),
        "rss_peak_mb": peak_kb / 1024,
        "parts": [(round(spent, 2), round(peak / 1024)) for spent, peak in parts],
    }
    print(json.dumps(figures))


def _counts(results: tuple[Result, ...]) -> dict[str, int]:
    """The verdict's counts, as compose takes them: each class from the first result with it."""
    counts: dict[str, int] = {}
    for result in results:
        for name in CLASSES:
            if name in result.counts and name not in counts:
                counts[name] = int(result.counts[name])
    return {name: counts.get(name, 0) for name in CLASSES}


def _report(label: str, ops: int, figures: dict[str, Any]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: (load average {load})")
    print(f"  final read load:          {figures['final_read_s']:.2f} s")
    print(f"  history read + verifiers: {figures['history_and_verifiers_s']:.2f} s")
    print(f"  total verification:       {figures['total_s']:.2f} s (target 3 s per 1M)")
    print(f"  CPU time:                 {figures['cpu_s']:.2f} s (a busy machine bends it least)")
    print(f"  throughput:               {ops / figures['total_s']:,.0f} ops/s")
    print(f"  peak RSS:                 {figures['rss_peak_mb']:.0f} MB (target 200 MB at 1M)")
    if figures["parts"]:
        shown = ", ".join(f"{cpu} s CPU / {peak} MB" for cpu, peak in figures["parts"])
        print(f"  of which the parts:       {shown} (peak RSS: all processes' peaks added)")
    print(f"  verdict: {figures['verdict']}, {figures['anomalies']} anomalies")
    print(f"  counts: {figures['counts']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ops", type=int, nargs="+", default=[1_000_000], help="history lines (default 1e6)"
    )
    parser.add_argument("--damage", type=int, default=20, help="records lost or damaged (20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--base-ops",
        type=int,
        default=BASE_OPS,
        help="the largest run simulated; a larger size is copies of it (default 1e6)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated run directories")
    parser.add_argument(
        "--typed", action="store_true", help="also time read_history + compose (Op objects)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        default=[1, 2],
        help="processes verifying, each measured on the same run (default: 1 2, side by side)",
    )
    parser.add_argument(
        "--parts",
        type=int,
        help="records in this many parts, checked in waves when more than --jobs (memory)",
    )
    parser.add_argument(
        "--loops",
        nargs="+",
        choices=("c", "python"),
        default=["c"],
        help="the verifiers' loops over the history: c (built at install) and/or python "
        "(ACKGUARD_PURE_PYTHON=1), each measured on the same run, side by side",
    )
    parser.add_argument("--verify-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--verify-typed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.verify_only is not None:
        _verify(args.verify_only, args.verify_typed, args.jobs[0], args.parts)
        return 0
    work = Path(tempfile.mkdtemp(prefix="ackguard-bench-"))
    try:
        bases: dict[int, _Base] = {}
        for ops in args.ops:
            size = min(ops, args.base_ops)
            if size not in bases:
                bases[size] = _Base.generate(work / f"base-{size}.jsonl", size, args)
            base = bases[size]
            copies = max(1, round(ops / base.lines))
            run_dir = work / f"run-{ops}"
            _measure(run_dir, base, copies, args, args.loops)
            if not args.keep:
                shutil.rmtree(run_dir)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} cores, load average at the end {load}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


@dataclass(frozen=True)
class _Base:
    """A generated simulated run with placeholders: its history file and final records."""

    path: Path
    lines: int
    records: list[FinalRecord]
    end: int  # time of its last op

    @classmethod
    def generate(cls, path: Path, ops: int, args: argparse.Namespace) -> _Base:
        began = time.perf_counter()
        generator = _Generator(ops, args.seed)
        generator.run(path)
        records = generator.final_records(args.damage)
        print(
            f"generated a base of {generator.index:,} ops, {len(generator.landed):,} records "
            f"in {time.perf_counter() - began:.1f} s"
        )
        return cls(path, generator.index, records, generator.time)


def _measure(
    run_dir: Path, base: _Base, copies: int, args: argparse.Namespace, loops: list[str]
) -> None:
    """Writes a run directory of ``copies`` copies of ``base``, verifies it in a child and
    prints the figures (the caller deletes the directory unless --keep)."""
    began = time.perf_counter()
    run_dir.mkdir()
    path = run_dir / "history.jsonl"
    ops = _write_copies(base.path, path, copies)
    write_final_read(run_dir, _final_read(base.records, copies, base.end))
    size_mb = path.stat().st_size / 1e6
    print(
        f"wrote {ops:,} ops ({size_mb:,.0f} MB, {copies} cop{'y' if copies == 1 else 'ies'} of "
        f"the base) in {time.perf_counter() - began:.1f} s"
    )
    typed, jobs, count = args.typed, args.jobs, args.parts
    waves = [] if count is None else ["--parts", str(count)]
    paths: list[tuple[str, list[str]]] = [
        (
            f"{ops:,} ops, compose_file"
            + (f", {n} processes" if n > 1 else "")
            + (f", {count} parts in waves" if count is not None and count > n else ""),
            ["--jobs", str(n), *waves],
        )
        for n in jobs
    ]
    if typed:
        paths.append((f"{ops:,} ops, read_history + compose (Op objects)", ["--verify-typed"]))
    for label, extra_args in paths:
        for loop in loops:  # one after the other on the same files: side by side
            env = {**os.environ, "ACKGUARD_PURE_PYTHON": "1" if loop == "python" else "0"}
            child = subprocess.run(
                [sys.executable, __file__, "--verify-only", str(run_dir), *extra_args],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            named = {"c": "C", "python": "Python"}[loop]
            shown = f"{label}, {named} loops" if len(loops) > 1 else label
            _report(shown, ops, json.loads(child.stdout))


if __name__ == "__main__":
    sys.exit(main())
