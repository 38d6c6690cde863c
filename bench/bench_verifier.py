"""Benchmark of the verifiers on a large run directory; prints figures, asserts nothing.

Generates a history of N operations (default 1,000,000: creates, updates, reads, lists, some
indeterminate and failed, fault starts and stops) and its final read into a temporary run
directory, with a few records deliberately lost and damaged, then verifies it from the files
the way ``ackguard verify`` does (load_final_read, then compose_file: the shared history reader,
:mod:`harness.history_read`, streamed into the index) in a child process, so that its peak memory
is the verification's alone. Wall time on a machine others share swings by 2-3 times: the CPU
time of the child is printed too, and ``uptime`` should be noted with any figure.

Example:
    .venv/bin/python bench/bench_verifier.py                 # 1,000,000 ops
    .venv/bin/python bench/bench_verifier.py --ops 200000 --keep
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ackguard.harness.final_read import FinalRead, FinalRecord, load_final_read, write_final_read
from ackguard.harness.history import OBSERVATION_FIELDS, FieldDigest, read_history
from ackguard.harness.verifiers import compose, compose_file, verifiers_named

MS = 1_000_000
LANES = 200  # concurrent practitioners
FAULT_EVERY = 20_000  # ops between fault starts


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
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
            lines: list[str] = []
            while self.index < self.target:
                for line in self._step():
                    lines.append(dumps(line))
                if len(lines) >= 10_000:
                    out.write("\n".join(lines) + "\n")
                    lines.clear()
            if lines:
                out.write("\n".join(lines) + "\n")

    def _op(
        self, process: object, type_: str, f: str, key: str | None, value: Any
    ) -> dict[str, Any]:
        self.time += self.rng.randint(20_000, 400_000)
        op = {"index": self.index, "time": self.time, "process": process, "type": type_, "f": f}
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
            key = f"k{self.next_key}"
            self.next_key += 1
            names = OBSERVATION_FIELDS[: self.rng.randint(2, 4)]
            value = {"practitioner_id": str(lane), "patient_id": str(self.rng.randrange(30))}
            value["fields"] = self._fields(names) | dict.fromkeys(OBSERVATION_FIELDS[len(names) :])
            self.in_flight[lane] = ("create", key, value, "")
            return self._op(process, "invoke", "create", key, value)
        key = self.rng.choice(mine)
        stored = self.landed[key]
        if roll < 0.45:
            names = tuple(self.rng.sample(OBSERVATION_FIELDS, self.rng.randint(1, 2)))
            value = {"id": stored["id"], "practitioner_id": str(lane)}
            value |= {"patient_id": stored["patient_id"], "fields": self._fields(names)}
            self.in_flight[lane] = ("update", key, value, "")
            return self._op(process, "invoke", "update", key, value)
        if roll < 0.9:
            self.in_flight[lane] = ("read", key, {"id": stored["id"]}, "")
            return self._op(process, "invoke", "read", key, {"id": stored["id"]})
        # a practitioner reopens one patient's notes
        query = {"practitioner_id": str(lane), "patient_id": stored["patient_id"]}
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
                "id": str(self.next_id),
                "practitioner_id": value["practitioner_id"],
                "patient_id": value["patient_id"],
                "fields": dict(value["fields"]),
            }
        if outcome == "ok":
            if key not in self.landed:  # an earlier indeterminate attempt did not land
                self.next_id += 1
                self.landed[key] = {
                    "id": str(self.next_id),
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

    def final_read(self, damage: int) -> FinalRead:
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
        return FinalRead("database", True, records, None, self.time + MS)


def _verify(run_dir: Path, typed: bool) -> None:
    """Child process: verify from the files, print one JSON line of figures. ``typed`` reads
    :class:`Op` objects through read_history + compose; otherwise compose_file's row path."""
    started = time.perf_counter()
    cpu = time.process_time()
    final_read = load_final_read(run_dir)
    loaded = time.perf_counter()
    chosen = verifiers_named(["records", "read_your_writes"])
    path = run_dir / "history.jsonl"
    if typed:
        verdict = compose(chosen, read_history(path), final_read)
    else:
        verdict = compose_file(chosen, path, final_read)
    done = time.perf_counter()
    figures = {
        "final_read_s": loaded - started,
        "history_and_verifiers_s": done - loaded,
        "total_s": done - started,
        "cpu_s": time.process_time() - cpu,
        "verdict": verdict.valid,
        "counts": dict(verdict.counts),
        "anomalies": len(verdict.anomalies),
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(figures))


def _report(label: str, ops: int, figures: dict[str, Any]) -> None:
    print(f"{label}:")
    print(f"  final read load:          {figures['final_read_s']:.2f} s")
    print(f"  history read + verifiers: {figures['history_and_verifiers_s']:.2f} s")
    print(f"  total verification:       {figures['total_s']:.2f} s (target <= 3 s at 1M)")
    print(f"  CPU time:                 {figures['cpu_s']:.2f} s (a busy machine bends it least)")
    print(f"  throughput:               {ops / figures['total_s']:,.0f} ops/s")
    print(f"  peak RSS:                 {figures['rss_peak_mb']:.0f} MB (target <= 200 MB at 1M)")
    print(f"  verdict: {figures['verdict']}, {figures['anomalies']} anomalies")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=1_000_000, help="history lines (default 1e6)")
    parser.add_argument("--damage", type=int, default=20, help="records lost or damaged (20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the generated run directory")
    parser.add_argument(
        "--typed", action="store_true", help="also time read_history + compose (Op objects)"
    )
    parser.add_argument("--verify-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--verify-typed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.verify_only is not None:
        _verify(args.verify_only, args.verify_typed)
        return 0
    run_dir = Path(tempfile.mkdtemp(prefix="ackguard-bench-"))
    try:
        began = time.perf_counter()
        generator = _Generator(args.ops, args.seed)
        generator.run(run_dir / "history.jsonl")
        write_final_read(run_dir, generator.final_read(args.damage))
        size_mb = (run_dir / "history.jsonl").stat().st_size / 1e6
        print(
            f"generated {generator.index:,} ops ({size_mb:.0f} MB), {len(generator.landed):,} "
            f"records in {time.perf_counter() - began:.1f}s: {run_dir}"
        )
        paths: list[tuple[str, list[str]]] = [("compose_file (the shared history reader)", [])]
        if args.typed:
            paths.append(("read_history + compose (Op objects)", ["--verify-typed"]))
        for label, extra_args in paths:
            child = subprocess.run(
                [sys.executable, __file__, "--verify-only", str(run_dir), *extra_args],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(child.stdout)
            _report(label, generator.index, figures)
        print(f"counts: {figures['counts']}")
        print("(2 shared cores, others' tests running: figures are pessimistic)")
    finally:
        if args.keep:
            print(f"kept {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
