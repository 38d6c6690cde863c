"""The core loop end to end: practitioners, faults from the service's side, verification.

Each test runs a short scenario through ``ackguard run`` against the real consultation service
(its own process, a real SQLite file) and asserts on the stored verdict.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import RunResult, ackguard, run_dirs

Runner = Callable[..., RunResult]

KILL_EVERY_4S = """
faults:
  - kind: service-kill
    params: {signal: SIGKILL}
    schedule: {start: 3s, every: 4s, duration: 1s}
"""


def scenario(body: str, *, name: str = "t", duration: str = "14s", practitioners: int = 12) -> str:
    head = f"name: {name}\nseed: 7\nduration: {duration}\npractitioners: {practitioners}\n"
    return head + "time_scale: 7200\n" + body


def kinds(result: RunResult) -> set[str]:
    return {a["kind"] for a in result.anomalies()}


def test_correct_service_under_sigkill_loses_nothing(run_scenario: Runner) -> None:
    result = run_scenario(
        scenario(KILL_EVERY_4S + "expect: true\n", duration="16s", practitioners=24)
    )
    assert result.code == 0, result.output
    assert result.verdict["verdict"] is True
    # enough acknowledged notes for "none lost" to mean something: about 150 on a quiet
    # machine, 77 at a load average of 10 (seen)
    assert result.counts["acknowledged"] >= 50
    assert result.counts["lost"] == 0 and result.counts["corrupt"] == 0
    history = (result.run_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    kills = [json.loads(line) for line in history if '"nemesis"' in line]
    assert sum(1 for op in kills if op["f"] == "start" and op["type"] == "ok") >= 2
    assert "PASS" in result.output and "report.html" in result.output


def test_a_timeout_is_never_counted_as_lost(run_scenario: Runner) -> None:
    paused = """
faults:
  - kind: service-pause
    schedule: {at: 3s, duration: 7s}
expect: true
"""
    result = run_scenario(scenario(paused))
    assert result.code == 0, result.output
    assert result.counts["indeterminate"] > 0
    assert result.counts["lost"] == 0


def defect(name: str, extra: str = "") -> str:
    return f"system:\n  defects:\n    - name: {name}\n" + "".join(
        f"      {line}\n" for line in extra.splitlines() if line
    )


# Answers dropped on the way back (the connection closes 1 s later): the create commits, the
# practitioner never hears of it and retries with the same Idempotency-Key.
ANSWERS_DROPPED = """
faults:
  - kind: toxic
    params: {proxy: service, type: timeout, stream: downstream, attributes: {timeout: 1000}}
    schedule: {start: 2s, every: 6s, duration: 3s}
"""


DEFECT_CASES: dict[str, tuple[str, set[str]]] = {
    "ack_before_commit": (
        defect("ack_before_commit", "params: {flush_interval_ms: 3000}") + KILL_EVERY_4S,
        {"lost", "corrupt", "misattributed"},  # SQLite hands a lost record's id out again
    ),
    "split_transaction": (
        defect("split_transaction", "params: {gap_ms: 300}") + KILL_EVERY_4S,
        {"corrupt"},
    ),
    "silent_truncation": (defect("silent_truncation", "params: {max_chars: 1000}"), {"corrupt"}),
    "lost_observations": (defect("lost_observations", "cohort: {fraction: 0.5}"), {"corrupt"}),
    "non_idempotent_retry": (
        defect("non_idempotent_retry").replace("system:\n", "system:\n  proxy: [service]\n")
        + ANSWERS_DROPPED,
        {"duplicate"},
    ),
}


@pytest.mark.parametrize("defect", sorted(DEFECT_CASES))
def test_each_defect_is_caught_and_classified(run_scenario: Runner, defect: str) -> None:
    body, expected_kinds = DEFECT_CASES[defect]
    result = run_scenario(scenario(body + "expect: false\n", duration="16s"))
    assert result.code == 1, result.output
    assert result.verdict["verdict"] is False
    found = kinds(result)
    assert found and found <= expected_kinds, f"{defect}: flagged {found}"
    primary = {"lost", "duplicate"} & expected_kinds or expected_kinds
    assert found & primary
    _assert_specific_damage(defect, result)


def _assert_specific_damage(defect: str, result: RunResult) -> None:
    anomalies = result.anomalies()
    if defect == "silent_truncation":
        for anomaly in anomalies:
            for damage in anomaly["fields"]:
                assert damage["final"]["length"] == 1000 < damage["acknowledged"]["length"]
    if defect == "split_transaction":
        for anomaly in anomalies:
            assert all(d["final"] is None for d in anomaly["fields"]), (
                "the notes are missing, not altered"
            )
    if defect == "lost_observations":
        cohort = set(result.json("run.json")["cohorts"][0]["practitioner_ids"])
        damaged = {a["practitioner_id"] for a in anomalies}
        assert damaged <= cohort, "only the cohort's notes may be damaged"
    if defect == "non_idempotent_retry":
        assert all(len(a["ids"]) >= 2 for a in anomalies)
        assert result.counts["lost"] == 0


def test_a_phantom_record_is_caught_by_offline_verification(
    run_scenario: Runner, tmp_path: Path
) -> None:
    result = run_scenario(scenario("expect: true\n", duration="6s", practitioners=4))
    assert result.code == 0, result.output
    database = result.run_dir / "consultations.db"
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT practitioner_id, patient_id FROM consultations LIMIT 1"
        ).fetchone()
        connection.execute(
            "INSERT INTO consultations (idempotency_key, practitioner_id, patient_id, started_at,"
            " visit_reason, version, created_at, updated_at)"
            " VALUES ('never-attempted', ?, ?, '2026-03-02T09:00:00+01:00', 'x', 1,"
            " '2026-03-02T09:00:00+00:00', '2026-03-02T09:00:00+00:00')",
            row,
        )
    for name in ("final_read.json", "final_read.jsonl"):
        (result.run_dir / name).unlink()
    done = ackguard("verify", str(result.run_dir), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = json.loads((result.run_dir / "verdict.json").read_text(encoding="utf-8"))
    phantoms = [a for r in verdict["results"] for a in r["anomalies"] if a["kind"] == "phantom"]
    assert [a["key"] for a in phantoms] == ["never-attempted"]


def _await_history(
    runs: Path, harness: subprocess.Popen[bytes], *, min_lines: int, timeout_s: float
) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert harness.poll() is None, "the harness ended before it could be killed"
        for run_dir in run_dirs(runs) if runs.exists() else []:
            history = run_dir / "history.jsonl"
            if history.exists() and history.read_bytes().count(b"\n") >= min_lines:
                return history
        time.sleep(0.2)
    raise AssertionError("the history never grew")


def test_ctrl_c_heals_stops_everything_and_still_verifies(tmp_path: Path) -> None:
    scenario_file = tmp_path / "long.yaml"
    paused_long = "faults:\n  - kind: service-pause\n    schedule: {at: 1s, duration: 110s}\n"
    scenario_file.write_text(scenario(paused_long + "expect: true\n", duration="120s"), "utf-8")
    runs = tmp_path / "runs"
    harness = subprocess.Popen(
        [sys.executable, "-m", "ackguard", "run", str(scenario_file), "--runs-dir", str(runs)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        history = _await_history(runs, harness, min_lines=1, timeout_s=90)
        _await_nemesis_start(history, timeout_s=30)
        harness.send_signal(signal.SIGINT)
        output, _ = harness.communicate(timeout=120)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait(10)
    assert harness.returncode == 2, output  # verified, but cut short: unknown, never PASS
    run_dir = history.parent
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "interrupted"
    verdict = json.loads((run_dir / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] == "unknown"
    assert any("interrupted" in reason for reason in verdict["reasons"])
    records = next(r for r in verdict["results"] if r["name"] == "records")
    assert records["valid"] is True
    lines = history.read_text(encoding="utf-8").splitlines()
    assert any('"nemesis"' in line and '"f":"stop"' in line and '"ok"' in line for line in lines)
    service_pid = int(json.loads((run_dir / "service.ready").read_text(encoding="utf-8"))["pid"])
    with pytest.raises(ProcessLookupError):
        os.kill(service_pid, 0)
    verdict_line = next(line for line in output.splitlines() if line.startswith("verdict: "))
    assert verdict_line.startswith("verdict: UNKNOWN"), output


def _await_nemesis_start(history: Path, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if b'"nemesis","type":"ok","f":"start"' in history.read_bytes():
            return
        time.sleep(0.1)
    raise AssertionError("the fault never started")


def test_a_defect_switched_on_by_the_schedule_damages_only_inside_its_windows(
    run_scenario: Runner,
) -> None:
    switched = """
faults:
  - kind: defect
    params: {defect: silent_truncation, params: {max_chars: 300}}
    schedule: {start: 3s, every: 7s, duration: 3s}
expect: false
"""
    result = run_scenario(scenario(switched, duration="16s"))
    assert result.code == 1, result.output
    assert kinds(result) == {"corrupt"}
    windows = _fault_windows(result.run_dir / "history.jsonl")
    assert len(windows) >= 2
    for anomaly in result.anomalies():
        for damage in anomaly["fields"]:
            assert damage["final"]["length"] == 300
            at = damage["ack_time"]
            assert any(start <= at <= stop + 1_000_000_000 for start, stop in windows), at


def _fault_windows(history: Path) -> list[tuple[int, int]]:
    """(invoke of start, completion of stop) of every fault window, in ns."""
    starts: list[int] = []
    windows: list[tuple[int, int]] = []
    for line in history.read_text(encoding="utf-8").splitlines():
        op = json.loads(line)
        if op["process"] != "nemesis":
            continue
        if op["f"] == "start" and op["type"] == "invoke":
            starts.append(op["time"])
        if op["f"] == "stop" and op["type"] == "ok":
            windows.append((starts.pop(0), op["time"]))
    return windows
