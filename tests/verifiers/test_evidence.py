"""The evidence check over real run directories: histories written by the harness's own writer,
run.json and the final read as the run stores them, verified by ``verify_run``.

Each test builds the one gap it is about and asserts what a user reads: the verdict and the
reason in words in verdict.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.final_read import FinalRead, FinalRecord, write_final_read
from ackguard.harness.history import (
    NEMESIS,
    FieldDigest,
    HistoryReading,
    HistoryWriter,
    OpType,
    read_history,
)
from ackguard.harness.verifiers import history_rows
from ackguard.harness.verify import verify_run

NOTE = {"visit_reason": "cough", "exam_report": None, "conclusion": None, "prescription": None}
NO_PROXY = "this run has no proxy it could break"


class Run:
    """A run directory written the way ``ackguard run`` writes one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.history = HistoryWriter(path / "history.jsonl")
        self.records: list[FinalRecord] = []
        self.ended = False

    def create(self, key: str, *, ok: bool = True, stored: bool = True) -> None:
        value: dict[str, Any] = {"practitioner_id": "1", "patient_id": "2", "fields": {}}
        value["fields"] = {
            n: None if t is None else FieldDigest.of(t).to_json() for n, t in NOTE.items()
        }
        self.history.record(1, "invoke", "create", key=key, value=value)
        done = value | {"id": key, "version": 1} if ok else value
        self.history.record(1, "ok" if ok else "fail", "create", key=key, value=done)
        if stored:
            fields = {n: FieldDigest.of(t) for n, t in NOTE.items() if t is not None}
            self.records.append(FinalRecord(key, key, "1", "2", 1, fields))

    def fault(self, name: str, f: str, outcome: OpType, error: str | None = None) -> None:
        value = {"fault": name, "kind": name.rsplit("-", 1)[0], "description": "test"}
        self.history.record(NEMESIS, "invoke", f, value=value)
        self.history.record(NEMESIS, outcome, f, value=value, error=error)

    def read(self) -> None:
        self.history.record(2, "invoke", "read", key="k0")
        self.history.record(2, "ok", "read", key="k0", value={"found": True, "fields": {
            n: None if t is None else FieldDigest.of(t).to_json() for n, t in NOTE.items()
        }})  # fmt: skip

    def finish(
        self,
        status: str = "completed",
        *,
        final_read: bool = True,
        scenario: str | None = None,
        **run_json: Any,
    ) -> None:
        read_time = self.history.now()
        self.history.finish(status=status)
        if final_read:
            write_final_read(self.path, FinalRead("api", True, self.records, time=read_time))
        if scenario is not None:
            (self.path / "scenario.yaml").write_text(scenario, encoding="utf-8")
        started = datetime.now(UTC) - timedelta(seconds=20)
        data = {
            "scenario": "t",
            "seed": 7,
            "status": status,
            "error": None,
            "harness_pid": os.getpid(),
            "started_at": started.isoformat(),
            "load_started_at": (started + timedelta(seconds=2)).isoformat(),
            "load_duration_s": 10.0,
            "interrupted_at": None,
        } | run_json
        (self.path / "run.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    made = Run(tmp_path)
    yield made
    made.history.close()


def verdict_json(run: Run) -> dict[str, Any]:
    verify_run(run.path)
    data: dict[str, Any] = json.loads((run.path / "verdict.json").read_text(encoding="utf-8"))
    return data


def healthy(run: Run) -> None:
    run.create("k0")
    run.create("k1")
    run.read()


def test_a_whole_run_with_acknowledged_writes_passes_with_no_reason(run: Run) -> None:
    healthy(run)
    run.finish()
    verdict = verdict_json(run)
    assert verdict["verdict"] is True
    assert verdict["reasons"] == []
    evidence = verdict["evidence"]
    assert evidence["acknowledged_writes"] == 2 and evidence["min_acknowledged"] == 1
    assert evidence["run_status"] == "completed"
    assert evidence["history"]["end_marker"] is True
    assert evidence["final_read"] == {
        "present": True,
        "complete": True,
        "records": 2,
        "source": "api",
    }


TOXIC_SCENARIO = """name: t
seed: 7
duration: 60s
practitioners: 2
system:
  proxy: [service]
faults:
  - kind: toxic
    params: {proxy: service, type: latency, attributes: {latency: 100}}
    schedule: {at: %s, duration: 2s}
"""


def test_a_fault_that_never_started_makes_the_verdict_unknown_with_its_error(run: Run) -> None:
    healthy(run)
    run.fault("toxic-0", "start", "info", NO_PROXY)
    run.fault("toxic-0", "stop", "ok")
    run.finish(scenario=TOXIC_SCENARIO % "2s")
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == [f"fault toxic-0 never started: {NO_PROXY}"]
    faults = verdict["evidence"]["faults"]
    assert faults["planned"] == 1 and faults["started"] == 0 and faults["failed_to_start"] == 1


def test_a_fault_that_did_not_heal_makes_the_verdict_unknown(run: Run) -> None:
    healthy(run)
    run.fault("toxic-0", "start", "ok")
    run.fault("toxic-0", "stop", "info", "the proxy answered 500")
    run.finish(scenario=TOXIC_SCENARIO % "2s")
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == ["fault toxic-0 did not heal: the proxy answered 500"]


def test_a_scenario_with_faults_and_no_window_is_unknown(run: Run) -> None:
    healthy(run)  # the load was cut to 10 s (run.json), before the window the scenario planned
    run.finish(scenario=TOXIC_SCENARIO % "30s")
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == [
        "no fault window: the scenario has faults but none falls inside the 10 s load "
        "(the first is due at 30 s)"
    ]


def test_a_fault_window_that_started_and_healed_is_evidence(run: Run) -> None:
    healthy(run)
    run.fault("toxic-0", "start", "ok")
    run.fault("toxic-0", "stop", "ok")
    run.finish(scenario=TOXIC_SCENARIO % "2s")
    verdict = verdict_json(run)
    assert verdict["verdict"] is True, verdict["reasons"]
    faults = verdict["evidence"]["faults"]
    assert (faults["planned"], faults["started"], faults["healed"]) == (1, 1, 1)


def test_a_run_is_verified_with_the_duration_and_seed_it_really_had(run: Run) -> None:
    # The file says 10 s, the run was started with --duration 30s and a seed of its own: the
    # window at 15 s was planned and ran, and the stored scenario still reads.
    healthy(run)
    run.fault("toxic-0", "start", "ok")
    run.fault("toxic-0", "stop", "ok")
    scenario = (TOXIC_SCENARIO % "15s").replace("duration: 60s", "duration: 10s")
    run.finish(scenario=scenario, load_duration_s=30.0, seed=99)
    verdict = verdict_json(run)
    assert verdict["verdict"] is True, verdict["reasons"]
    assert verdict["evidence"]["faults"]["planned"] == 1


def test_an_interrupted_run_is_unknown_and_says_how_far_it_got(run: Run) -> None:
    healthy(run)
    load_start = datetime.now(UTC) - timedelta(seconds=10)
    run.finish(
        "interrupted",
        load_started_at=load_start.isoformat(),
        interrupted_at=(load_start + timedelta(seconds=3.2)).isoformat(),
        load_duration_s=60.0,
    )
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == ["the run was interrupted after 3 s of 60 s"]


def test_a_real_loss_stays_false_in_an_interrupted_run(run: Run) -> None:
    healthy(run)
    run.create("k-lost", stored=False)
    run.finish("interrupted", interrupted_at=datetime.now(UTC).isoformat())
    verdict = verdict_json(run)
    assert verdict["verdict"] is False
    assert verdict["counts"]["lost"] == 1
    assert any(r.startswith("the run was interrupted after") for r in verdict["reasons"])


def test_a_harness_error_is_unknown_with_the_error(run: Run) -> None:
    healthy(run)
    error = "RuntimeError: the service did not come back after the faults were healed"
    run.finish("error", error=error)
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == [f"the harness failed: {error}"]


def test_a_run_whose_harness_died_says_so(run: Run) -> None:
    healthy(run)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    run.finish("running", harness_pid=int(gone.stdout))
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == ["the harness died before the run ended (killed?)"]


def test_a_run_whose_harness_is_alive_is_still_going(run: Run) -> None:
    harness = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE)  # fmt: skip
    try:
        healthy(run)
        run.finish("running", harness_pid=harness.pid, started_at=datetime.now(UTC).isoformat())
        verdict = verdict_json(run)
    finally:
        assert harness.stdin is not None
        harness.stdin.close()
        harness.wait(10)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == ["the run is still going"]


def test_nothing_acknowledged_is_unknown(run: Run) -> None:
    run.create("k0", ok=False, stored=False)
    run.finish()
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"][0] == (
        "no write was acknowledged (the scenario needs at least 1 as evidence: min_acknowledged)"
    )
    assert verdict["evidence"]["acknowledged_writes"] == 0


def test_fewer_acknowledged_writes_than_the_scenario_needs_is_unknown(run: Run) -> None:
    healthy(run)
    run.finish(scenario="name: t\nseed: 7\nduration: 10s\npractitioners: 2\nmin_acknowledged: 5\n")
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == [
        "only 2 writes were acknowledged, fewer than the 5 the scenario needs as evidence "
        "(min_acknowledged)"
    ]
    assert verdict["evidence"]["min_acknowledged"] == 5


def test_a_stored_scenario_that_cannot_be_read_is_said(run: Run) -> None:
    healthy(run)
    run.finish(scenario="name: t\nduration: [\n")
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"][0].startswith("the run's scenario could not be read (")


def test_a_verifier_that_saw_nothing_says_why(run: Run) -> None:
    run.create("k0")
    run.finish(final_read=False)  # no final read, no in-run read
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"] == [
        "records: no final read: the system was never read back at the end",
        "read_your_writes: no read ever completed: nothing to judge",
    ]
    results = {r["name"]: r for r in verdict["results"]}
    assert (
        results["records"]["reason"] == "no final read: the system was never read back at the end"
    )


# -- damaged histories ------------------------------------------------------------------------


def lines_of(run: Run) -> list[bytes]:
    return (run.path / "history.jsonl").read_bytes().splitlines(keepends=True)


def rewrite(run: Run, lines: list[bytes]) -> None:
    (run.path / "history.jsonl").write_bytes(b"".join(lines))


def test_a_torn_last_line_is_tolerated_and_said(run: Run) -> None:
    healthy(run)
    run.finish()
    with (run.path / "history.jsonl").open("ab") as history:
        history.write(b'{"index":9,"time":12,"process":1,"type":"inv')  # a write cut by a kill
    verdict = verdict_json(run)
    assert verdict["verdict"] is True
    assert verdict["evidence"]["notes"] == [
        "the last line of the history was torn (harness killed?): ignored"
    ]
    assert verdict["evidence"]["history"]["torn_last_line"] is True


def test_a_damaged_line_in_the_middle_is_named_once_with_its_number(run: Run) -> None:
    healthy(run)
    run.finish()
    lines = lines_of(run)
    lines[2] = b'{"index":2,"time":\x00garbage\n'
    rewrite(run, lines)
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    damage = "line 3 of the history is damaged: ignored, so the verdict cannot rest on the history"
    assert verdict["reasons"][0] == damage
    assert sum("line 3" in reason for reason in verdict["reasons"]) == 1
    assert verdict["evidence"]["history"]["damaged_lines"] == [3]


def test_every_reader_reads_a_damaged_history_the_same_way(run: Run) -> None:
    healthy(run)
    run.finish()
    lines = lines_of(run)
    lines[1] = b"not json\n"
    rewrite(run, [*lines, b'{"torn'])
    path = run.path / "history.jsonl"
    as_ops, as_rows = HistoryReading(), HistoryReading()
    ops = list(read_history(path, as_ops))
    rows = list(history_rows(path, as_rows))
    assert [op.time for op in ops] == [row[0] for row in rows]
    for reading in (as_ops, as_rows):
        assert reading.damaged_lines == [2] and reading.torn_last_line
        assert reading.lines == len(lines) + 1
    with pytest.raises(ValueError, match=r"history.jsonl:2: damaged history line"):
        list(read_history(path))  # with nowhere to say it, damage is an error


def test_an_empty_history_is_unknown_never_false(run: Run) -> None:
    run.records.append(FinalRecord("x", "k-x", "1", "2", 1, {}))  # the system holds something
    run.finish()
    rewrite(run, [])
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["reasons"][0] == "the history is empty: nothing was recorded"


def test_half_a_history_is_unknown_not_false_with_phantoms(run: Run) -> None:
    for number in range(40):
        run.create(f"k{number}")
    run.read()
    run.finish()
    lines = lines_of(run)
    rewrite(run, lines[: len(lines) // 2])
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert verdict["counts"]["phantom"] > 0  # what the verifier saw is still shown...
    assert verdict["reasons"][0].startswith("the history was cut short: it has no end marker")
    records = next(r for r in verdict["results"] if r["name"] == "records")
    assert records["valid"] == "unknown"  # ...but it cannot make the verdict false
    assert "part of the history that is missing" in records["reason"]


def test_a_history_with_lines_removed_before_its_end_is_unknown(run: Run) -> None:
    healthy(run)
    run.finish()
    lines = lines_of(run)
    rewrite(run, lines[:1] + lines[3:])
    verdict = verdict_json(run)
    assert verdict["verdict"] == "unknown"
    assert "2 lines are missing before its end" in verdict["reasons"][0]
