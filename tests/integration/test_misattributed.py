"""A note filed under the wrong patient, reproduced on purpose (the ``misfile`` defect) through
``ackguard run``: the records verifier names every misattributed record with both patients, and
nothing outside the defect's cohort and practice-time window."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.integration.conftest import RunResult

Runner = Callable[..., RunResult]

MISFILE = """name: misfile
seed: 11
duration: 12s
practitioners: 6
time_scale: 7200
system:
  defects:
    - name: misfile
      cohort: {fraction: 0.5, salt: misfile}
      window: {from: 3h, until: 15h}
expect: false
"""


def _history(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _misfiled_notes(run_dir: Path, history: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(owner key, id of the record holding its note), straight from the files: a final field
    value its own record never sent and exactly one other record's update did."""
    sent: dict[tuple[str, str], set[str]] = {}  # (field, digest) -> keys that sent it
    for op in history:
        if op["type"] != "invoke" or op["f"] not in ("create", "update") or not op["key"]:
            continue
        for name, value in (op["value"].get("fields") or {}).items():
            if value is not None:
                sent.setdefault((name, value["digest"]), set()).add(op["key"])
    expected: set[tuple[str, str]] = set()
    for line in (run_dir / "final_read.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for name, value in record["fields"].items():
            keys = sent.get((name, value["digest"]), set())
            if len(keys) == 1 and record["key"] not in keys:
                expected.add((next(iter(keys)), record["id"]))
    return expected


def test_every_misfiled_note_is_named_with_both_patients_and_only_in_cohort_and_window(
    run_scenario: Runner,
) -> None:
    result = run_scenario(MISFILE)
    assert result.code == 1, result.output
    assert result.verdict["verdict"] is False
    cohort = result.json("run.json")["cohorts"][0]
    members = set(cohort["practitioner_ids"])
    window = cohort["practice_window"]
    opens, closes = (datetime.fromisoformat(window[end]) for end in ("from", "until"))
    history = _history(result.run_dir)
    started = {
        op["key"]: datetime.fromisoformat(op["value"]["started_at"])
        for op in history
        if op["f"] == "create" and op["type"] == "invoke"
    }
    misattributed = result.anomalies("misattributed")
    assert misattributed, result.output
    for anomaly in misattributed:
        assert anomaly["practitioner_id"] in members
        assert anomaly["other_practitioner_id"] == anomaly["practitioner_id"]
        assert anomaly["patient_id"] and anomaly["other_patient_id"]
        if anomaly["via"] == "note":
            owner_start = started[anomaly["key"]]
            assert opens <= owner_start.replace(tzinfo=opens.tzinfo) < closes, anomaly
    for anomaly in result.anomalies():
        assert anomaly["practitioner_id"] in members, anomaly  # nothing outside the cohort
    notes = {(a["key"], a["id"]) for a in misattributed if a["via"] == "note"}
    assert notes == _misfiled_notes(result.run_dir, history)
    assert result.counts["misattributed"] == len(misattributed)
    rows = (result.run_dir / "impact.csv").read_text(encoding="utf-8").splitlines()
    assert any(row.startswith("misattributed,") for row in rows)
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "was filed in the record of" in page
