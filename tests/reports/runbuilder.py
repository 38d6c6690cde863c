"""Build run directories the way the harness stores them, for the report tests and the bench.

The history goes through :class:`harness.history.HistoryWriter` (a subclass whose clock the caller
sets, so times are exact), the verdict through ``write_verdict``, the final read through
``write_final_read``. :func:`synthetic_run` generates a whole run of any size with practitioners
working concurrently, fault windows, failures, timeouts and losses in a cohort.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ackguard.harness.final_read import FinalRead, FinalRecord, write_final_read
from ackguard.harness.history import (
    NEMESIS,
    OBSERVATION_FIELDS,
    FieldDigest,
    HistoryWriter,
    digest_fields,
)
from ackguard.harness.verifiers.result import Anomaly, FieldDamage, Result, Verdict, write_verdict

STARTED_AT = datetime(2026, 11, 29, 4, 0, 0, tzinfo=UTC)


class ScriptedWriter(HistoryWriter):
    """The real history writer, recording at the moment the caller sets with :meth:`at`."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, started_ns=0)
        self.at_ns = 0

    def now(self) -> int:
        return self.at_ns

    def __enter__(self) -> ScriptedWriter:
        return self

    def at(self, seconds: float) -> ScriptedWriter:
        self.at_ns = round(seconds * 1e9)
        return self


def practitioner(index: int, name: str | None = None) -> dict[str, str]:
    return {
        "id": str(index),
        "rpps": f"10{index:09d}",
        "name": name or f"Dr Practitioner {index}",
        "specialty": "general practice",
    }


def patient(index: int, name: str | None = None) -> dict[str, str]:
    return {
        "id": str(index),
        "name": name or f"Patient {index}",
        "birth_date": "1980-01-01",
        "national_id": f"1800175{index:08d}",
    }


def write_directory(
    run_dir: Path, practitioners: list[dict[str, str]], patients: list[dict[str, str]]
) -> None:
    data = {"practitioners": practitioners, "patients": patients}
    (run_dir / "directory.json").write_text(json.dumps(data), encoding="utf-8")


def write_run_json(run_dir: Path, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "scenario": "synthetic",
        "description": "a synthetic run",
        "seed": 7,
        "started_at": STARTED_AT.isoformat(),
        "ended_at": (STARTED_AT + timedelta(seconds=60)).isoformat(),
        "duration_s": 60.0,
        "status": "completed",
        "command": "ackguard run synthetic --duration 60s",
        "versions": {"ackguard": "0.1.0", "python": "3.11"},
        "time_scale": 1.0,
        "sim_start": None,
        "expected": None,
        "cohorts": [],
    }
    data.update(overrides)
    (run_dir / "run.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


def write_verdict_json(
    run_dir: Path,
    verdict: bool | str,
    *,
    results: Sequence[Mapping[str, object]] | None = None,
    counts: Mapping[str, int] | None = None,
    expected: bool | str | None = None,
    **more: object,
) -> None:
    """A ``verdict.json`` as written by any version of the harness: older ones have no
    ``reasons``, newer ones add keys (given in ``more``, for example ``reasons=[...]``)."""
    data: dict[str, object] = {
        "verdict": verdict,
        "counts": dict(counts or {}),
        "expected": expected,
        "matched": None if expected is None else verdict == expected,
        "results": list(results or []),
        **more,
    }
    (run_dir / "verdict.json").write_text(json.dumps(data, indent=1), encoding="utf-8")


def digest(text: str) -> dict[str, object]:
    return FieldDigest.of(text).to_json()


def write_create(
    writer: ScriptedWriter,
    *,
    at: float,
    took: float,
    process: int,
    key: str,
    practitioner_id: str,
    patient_id: str,
    fields: Mapping[str, str | None],
    record_id: str,
    outcome: str = "ok",
) -> None:
    value: dict[str, object] = {
        "practitioner_id": practitioner_id,
        "patient_id": patient_id,
        "fields": digest_fields(fields),
    }
    writer.at(at).record(process, "invoke", "create", key=key, value=value)
    done = {**value, "id": record_id, "version": 1} if outcome == "ok" else value
    error = None if outcome == "ok" else f"{outcome}: simulated"
    writer.at(at + took).record(process, outcome, "create", key=key, value=done, error=error)  # type: ignore[arg-type]


def write_fault(
    writer: ScriptedWriter, name: str, kind: str, start: float, stop: float | None
) -> None:
    value = {"fault": name, "kind": kind, "description": f"{name} for testing"}
    writer.at(start).record(NEMESIS, "invoke", "start", value=value)
    writer.at(start + 0.001).record(NEMESIS, "ok", "start", value=value)
    if stop is not None:
        writer.at(stop).record(NEMESIS, "invoke", "stop", value=value)
        writer.at(stop + 0.001).record(NEMESIS, "ok", "stop", value=value)


@dataclass
class SyntheticRun:
    """What :func:`synthetic_run` wrote, for assertions and the bench's printout."""

    operations: int = 0
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    cohort: list[str] = field(default_factory=list)


def synthetic_run(
    run_dir: Path,
    *,
    operations: int,
    duration_s: float = 600.0,
    practitioners: int = 3000,
    patients_per_practitioner: int = 12,
    concurrency: int = 64,
    losses: int = 3000,
    seed: int = 1,
    cohort_every: int = 40,
    scenario: str = "synthetic",
    write_final_records: bool = True,
) -> SyntheticRun:
    """A run of ``operations`` client ops (creates, updates, reads) over ``duration_s`` seconds,
    with a proxy latency fault, a crash fault, and a defect window during which the records of
    a cohort (2.5% of practitioners) are acknowledged and then lost or stored damaged."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    outcome = SyntheticRun()
    cohort = {str(i) for i in range(1, practitioners + 1) if i % cohort_every == 0}
    outcome.cohort = sorted(cohort, key=int)
    defect = (duration_s * 0.35, duration_s * 0.65)
    latency_fault = (duration_s * 0.10, duration_s * 0.20)
    crash = (duration_s * 0.80, duration_s * 0.83)
    candidates: list[tuple[str, str, str, str, int]] = []  # key, id, practitioner, patient, ack
    records: dict[str, FinalRecord] = {}
    step = duration_s / max(operations, 1)
    processes = list(range(concurrency))
    next_process = concurrency
    pending: list[tuple[int, int, int, str, str, dict[str, object]]] = []  # done, n, process...
    with ScriptedWriter(run_dir / "history.jsonl") as writer:

        def complete_until(moment_ns: int) -> None:
            nonlocal next_process
            while pending and pending[0][0] <= moment_ns:
                done, _, process, f, key, value = heapq.heappop(pending)
                writer.at_ns = done
                roll = rng.random()
                in_crash = crash[0] * 1e9 <= done <= crash[1] * 1e9
                if roll < (0.3 if in_crash else 0.004):
                    writer.record(process, "info", f, key=key, value=value, error="timeout")
                    processes.append(next_process)  # the process continues under a new id
                    next_process += 1
                    continue
                if roll < (0.5 if in_crash else 0.01):
                    writer.record(process, "fail", f, key=key, value=value, error="refused")
                elif f == "create":
                    record_id = str(len(records) + 1)
                    ok = {**value, "id": record_id, "version": 1}
                    writer.record(process, "ok", f, key=key, value=ok)
                    fields = {n: FieldDigest.from_json(d) for n, d in value["fields"].items() if d}  # type: ignore[attr-defined]
                    pid, patid = str(value["practitioner_id"]), str(value["patient_id"])
                    records[key] = FinalRecord(record_id, key, pid, patid, 1, fields)
                    if pid in cohort and defect[0] * 1e9 <= done <= defect[1] * 1e9:
                        candidates.append((key, record_id, pid, patid, done))
                elif f == "update":
                    writer.record(process, "ok", f, key=key, value={**value, "version": 2})
                else:
                    writer.record(
                        process,
                        "ok",
                        f,
                        key=key,
                        value={
                            "id": value["id"],
                            "found": True,
                            "fields": {n: None for n in OBSERVATION_FIELDS},
                        },
                    )
                processes.append(process)

        faults = sorted(
            [("proxy-latency", "latency", latency_fault), ("kill-service", "kill", crash)],
            key=lambda f: f[2][0],
        )
        fault_events = [(s, "start", n, k) for n, k, (s, _) in faults] + [
            (e, "stop", n, k) for n, k, (_, e) in faults
        ]
        fault_events.sort()
        for index in range(operations):
            moment = index * step
            while fault_events and fault_events[0][0] <= moment:
                at, f, name, kind = fault_events.pop(0)
                complete_until(int(at * 1e9))
                fault = {"fault": name, "kind": kind, "description": f"{name} ({kind})"}
                writer.at(at).record(NEMESIS, "invoke", f, value=fault)
                writer.record(NEMESIS, "ok", f, value=fault)
            complete_until(int(moment * 1e9))
            while not processes:  # every client busy: wait for the next completion
                complete_until(pending[0][0])
            process = processes.pop(rng.randrange(len(processes)))
            pid = str(rng.randint(1, practitioners))
            patid = str(
                (int(pid) - 1) * patients_per_practitioner
                + rng.randint(1, patients_per_practitioner)
            )
            roll = rng.random()
            value: dict[str, object]
            if roll < 0.6 or not records:
                f, key = "create", f"k-{index}"
                text = f"Visit {index}: cough for three days, no fever."
                value = {
                    "practitioner_id": pid,
                    "patient_id": patid,
                    "fields": digest_fields(
                        {
                            "visit_reason": text,
                            "exam_report": text * 3,
                            "conclusion": "viral",
                            "prescription": None,
                        }
                    ),
                }
            else:
                key = f"k-{rng.randrange(index)}"
                known = records.get(key)
                if known is None:
                    f, value = "read", {"id": "0"}
                elif roll < 0.85:
                    f = "update"
                    value = {
                        "id": known.id,
                        "practitioner_id": known.practitioner_id,
                        "patient_id": known.patient_id,
                        "fields": digest_fields({"conclusion": f"revised {index}"}),
                    }
                else:
                    f, value = "read", {"id": known.id}
            writer.at(moment).record(process, "invoke", f, key=key, value=value)
            slow = 10.0 if latency_fault[0] <= moment <= latency_fault[1] else 1.0
            took = rng.lognormvariate(-5.3, 0.6) * slow
            heapq.heappush(pending, (int((moment + took) * 1e9), index, process, f, key, value))
            outcome.operations += 1
        complete_until(2**62)
        final_read_ns = int((duration_s + 1) * 1e9)
    chosen = rng.sample(candidates, min(losses, len(candidates)))
    anomalies = []
    for n, (key, record_id, pid, patid, ack) in enumerate(chosen):
        if n % 3:
            outcome.lost.append(key)
            records.pop(key, None)
            anomalies.append(Anomaly("lost", key, record_id, pid, patid, (), ack))
        else:
            outcome.corrupt.append(key)
            stored = records[key]
            damage = tuple(
                FieldDamage(name, stored.fields[name].to_json(), None, ack)
                for name in ("visit_reason", "exam_report")
            )
            anomalies.append(Anomaly("corrupt", key, record_id, pid, patid, damage, ack))
    acknowledged = len(records) + len(outcome.lost)
    outcome.acknowledged = acknowledged
    counts = {
        "attempted": outcome.operations,
        "acknowledged": acknowledged,
        "intact": acknowledged - len(chosen),
        "lost": len(outcome.lost),
        "corrupt": len(outcome.corrupt),
        "recovered": 0,
        "phantom": 0,
        "duplicate": 0,
        "indeterminate": 0,
        "failed": 0,
    }
    valid = not anomalies
    write_verdict(
        run_dir,
        Verdict(valid, counts, (Result("records", valid, counts, tuple(anomalies)),), False),
    )
    write_final_read(
        run_dir,
        FinalRead(
            "api", True, list(records.values()) if write_final_records else [], None, final_read_ns
        ),
    )
    write_directory(
        run_dir,
        [practitioner(i) for i in range(1, practitioners + 1)],
        [patient(i) for i in range(1, practitioners * patients_per_practitioner + 1)],
    )
    window = {
        "from": (STARTED_AT + timedelta(seconds=defect[0])).isoformat(),
        "until": (STARTED_AT + timedelta(seconds=defect[1])).isoformat(),
    }
    write_run_json(
        run_dir,
        scenario=scenario,
        duration_s=duration_s,
        ended_at=(STARTED_AT + timedelta(seconds=duration_s)).isoformat(),
        expected=False,
        cohorts=[
            {
                "name": "lost_observations-0",
                "defect": "lost_observations",
                "window": window,
                "practitioner_ids": outcome.cohort,
            }
        ],
    )
    return outcome


def nightly_run(
    runs_dir: Path,
    scenario: str,
    night: int,
    verdict: bool | str | None,
    *,
    counts: Mapping[str, int] | None = None,
    write_ms: Sequence[float] = (10.0, 20.0, 30.0),
    failed_writes: int = 0,
    status: str = "completed",
    **run_json: object,
) -> Path:
    """A run of ``scenario`` on night ``night`` (started ``night`` days after STARTED_AT): a real
    history of acknowledged creates taking ``write_ms`` each, ``failed_writes`` failed ones, a
    read and a fault, then ``verdict.json`` with ``counts`` (no verdict file when ``verdict`` is
    None). For the runs index's trends and retention tests."""
    started = STARTED_AT + timedelta(days=night)
    run_dir = runs_dir / f"{started:%Y%m%dT%H%M%S}-{scenario}"
    run_dir.mkdir(parents=True)
    write_directory(run_dir, [practitioner(1)], [patient(1)])
    with ScriptedWriter(run_dir / "history.jsonl") as writer:
        write_fault(writer, "kill-service", "kill", 0.05, 0.5)
        for n, took_ms in enumerate(write_ms):
            write_create(
                writer,
                at=1.0 + n,
                took=took_ms / 1000,
                process=1 + n % 3,
                key=f"k-{n}",
                practitioner_id="1",
                patient_id="1",
                fields={"visit_reason": f"note {n}"},
                record_id=str(n + 1),
            )
        for n in range(failed_writes):
            write_create(
                writer,
                at=100.0 + 10 * n,
                took=5.0,
                process=1,
                key=f"f-{n}",
                practitioner_id="1",
                patient_id="1",
                fields={"visit_reason": "never stored"},
                record_id="0",
                outcome="fail",
            )
        writer.at(400.0).record(2, "invoke", "read", key="k-0", value={"id": "1"})
        writer.at(400.9).record(2, "ok", "read", key="k-0", value={"id": "1", "found": True})
    fields: dict[str, object] = {
        "scenario": scenario,
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(seconds=60)).isoformat(),
        "status": status,
    }
    fields.update(run_json)
    write_run_json(run_dir, **fields)
    if verdict is not None:
        write_verdict_json(run_dir, verdict, counts=counts or {})
    return run_dir
