"""Three run directories built by hand: a passing run, a failing run and a run cut short."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from ackguard.harness.final_read import FinalRead, FinalRecord, write_final_read
from ackguard.harness.history import FieldDigest
from ackguard.harness.verifiers.result import (
    CLASSES,
    Anomaly,
    FieldDamage,
    Result,
    Verdict,
    write_verdict,
)
from tests.reports.runbuilder import (
    STARTED_AT,
    ScriptedWriter,
    digest,
    patient,
    practitioner,
    write_create,
    write_directory,
    write_fault,
    write_run_json,
)

HOSTILE_NOTE = "<script>alert(1)</script> exam: normal heart sounds, clear lungs." * 3
HOSTILE_NAME = "Dr <img src=x onerror=alert(2)> Martin"
HOSTILE_FAULT = "<script>fault()</script>"
NOTE = "Cough for three days, no fever."


@dataclass(frozen=True)
class Runs:
    passing: Path
    failing: Path
    cut_short: Path


def _counts(**given: int) -> dict[str, int]:
    return {name: given.get(name, 0) for name in CLASSES}


def build_passing(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    write_directory(run_dir, [practitioner(1), practitioner(2)], [patient(1), patient(2)])
    write_run_json(run_dir, scenario="baseline", expected=True)
    (run_dir / "scenario.yaml").write_text("name: baseline\nseed: 7\nexpect: true\n", "utf-8")
    records = []
    with ScriptedWriter(run_dir / "history.jsonl") as writer:
        for n in (1, 2, 3):
            at = float(n)
            pid = str(1 + n % 2)
            fields = {"visit_reason": NOTE, "exam_report": None}
            write_create(
                writer,
                at=at,
                took=0.010 * n,
                process=n,
                key=f"k-{n}",
                practitioner_id=pid,
                patient_id=pid,
                fields=fields,
                record_id=str(n),
            )
            records.append(
                FinalRecord(str(n), f"k-{n}", pid, pid, 1, {"visit_reason": FieldDigest.of(NOTE)})
            )
    counts = _counts(attempted=3, acknowledged=3, intact=3)
    result = Result("records", True, counts)
    write_verdict(run_dir, Verdict(True, counts, (result,), expected=True))
    write_final_read(run_dir, FinalRead("api", True, records, None, 5_000_000_000))
    return run_dir


def build_failing(run_dir: Path) -> Path:
    """Practitioner 2 loses k-2 under the proxy-latency fault; practitioner 3's exam report
    (k-3, a hostile prefix) comes back truncated; practitioner 4 (outside the cohort) loses k-4
    during the defect window; a read detects k-2's loss at 6.1 s."""
    run_dir.mkdir(parents=True)
    write_directory(
        run_dir,
        [practitioner(1), practitioner(2, HOSTILE_NAME), practitioner(3), practitioner(4)],
        [patient(n) for n in range(1, 7)],
    )
    window = {
        "from": (STARTED_AT + timedelta(seconds=2)).isoformat(),
        "until": (STARTED_AT + timedelta(seconds=6)).isoformat(),
    }
    cohort = {
        "name": "lost_observations-0",
        "defect": "lost_observations",
        "window": window,
        "practitioner_ids": ["2", "3"],
    }
    write_run_json(
        run_dir,
        scenario="incident",
        seed=2023,
        expected=False,
        cohorts=[cohort],
        command="ackguard run incident --duration 10s",
        duration_s=10.0,
    )
    (run_dir / "scenario.yaml").write_text("name: incident\nseed: 2023\nexpect: false\n", "utf-8")
    with ScriptedWriter(run_dir / "history.jsonl") as writer:

        def create(at: float, took: float, n: int, outcome: str = "ok", note: str = NOTE) -> None:
            fields = {"visit_reason": NOTE, "exam_report": note}
            write_create(
                writer,
                at=at,
                took=took,
                process=n,
                key=f"k-{n}",
                outcome=outcome,
                practitioner_id=str(min(n, 4)),
                patient_id=str(n),
                fields=fields,
                record_id=str(n),
            )

        create(0.5, 0.01, 1)
        write_fault(writer, "proxy-latency", "latency", 1.0, 3.0)
        create(1.5, 0.1, 2)
        create(2.5, 0.2, 3, note=HOSTILE_NOTE)
        create(4.0, 0.1, 4)
        create(5.0, 0.05, 5, outcome="fail")
        create(5.5, 0.3, 6, outcome="info")
        write_fault(writer, HOSTILE_FAULT, "kill", 7.0, None)
        writer.at(6.0).record(1, "invoke", "read", key="k-2", value={"id": "2"})
        writer.at(6.1).record(1, "ok", "read", key="k-2", value={"id": "2", "found": False})
    truncated = FieldDigest.of(HOSTILE_NOTE[:30]).to_json()
    lost_2 = Anomaly("lost", "k-2", "2", "2", "2", (), 1_600_000_000)
    corrupt_3 = Anomaly(
        "corrupt",
        "k-3",
        "3",
        "3",
        "3",
        (FieldDamage("exam_report", digest(HOSTILE_NOTE), truncated, 2_700_000_000),),
        2_700_000_000,
    )
    lost_4 = Anomaly("lost", "k-4", "4", "4", "4", (), 4_100_000_000)
    counts = _counts(
        attempted=6, acknowledged=4, intact=1, lost=2, corrupt=1, indeterminate=1, failed=1
    )
    records = Result("records", False, counts, (lost_2, corrupt_3, lost_4))
    seen_lost = Anomaly("lost", "k-2", "2", "2", "2", (), 1_600_000_000, 6_100_000_000)
    latencies = {"0": 1.0, "0.5": 2.5, "0.95": 7.0, "0.99": 9.5, "1": 12.0}
    read_your_writes = Result(
        "read_your_writes",
        False,
        {"stable": 3, "lost": 1},
        (seen_lost,),
        extra={"stable_latency_ms": latencies, "lost_latency_ms": {"0.5": 4500.0}},
    )
    write_verdict(run_dir, Verdict(False, counts, (records, read_your_writes), expected=False))
    final = [
        FinalRecord("1", "k-1", "1", "1", 1, {"visit_reason": FieldDigest.of(NOTE)}),
        FinalRecord("3", "k-3", "3", "3", 1, {"exam_report": FieldDigest.of(HOSTILE_NOTE[:30])}),
    ]
    write_final_read(run_dir, FinalRead("api", True, final, None, 8_000_000_000))
    return run_dir


def build_cut_short(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    write_directory(run_dir, [practitioner(1)], [patient(1)])
    write_run_json(run_dir, scenario="killed", status="interrupted", ended_at=None, duration_s=None)
    with ScriptedWriter(run_dir / "history.jsonl") as writer:
        write_create(
            writer,
            at=0.2,
            took=0.02,
            process=1,
            key="k-1",
            practitioner_id="1",
            patient_id="1",
            fields={"visit_reason": NOTE},
            record_id="1",
        )
        write_fault(writer, "kill-service", "kill", 0.5, None)
        writer.at(0.6).record(2, "invoke", "create", key="k-2", value={"practitioner_id": "1"})
    with (run_dir / "history.jsonl").open("a", encoding="utf-8") as torn:
        torn.write('{"index":99,"time":7000')  # the harness died mid-line
    return run_dir


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    base = tmp_path / "runs"
    return Runs(
        passing=build_passing(base / "20261129T040000-baseline"),
        failing=build_failing(base / "20261129T050000-incident"),
        cut_short=build_cut_short(base / "20261129T060000-killed"),
    )
