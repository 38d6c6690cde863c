"""The worked example, end to end through ``ackguard run``: Cabinet, a small notes service of its
own (examples/cabinet/service.py), driven through its adapter and killed with SIGKILL. With its
write-behind buffer the run FAILs and names the lost notes; without it the run PASSes. An adapter
that breaks its contract ends the run with exit 2 and a message naming the method."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ackguard.harness.history import read_history

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cabinet"
RUN_TIMEOUT_S = 300


@dataclass
class Run:
    code: int
    output: str
    run_dir: Path

    def json(self, name: str) -> Any:
        return json.loads((self.run_dir / name).read_text(encoding="utf-8"))

    def anomalies(self, kind: str) -> list[dict[str, Any]]:
        results = self.json("verdict.json")["results"]
        return [
            a
            for r in results
            if r["name"] == "records"
            for a in r["anomalies"]
            if a["kind"] == kind
        ]

    def fault_windows(self) -> tuple[int, int]:
        """How many fault windows started and healed, as the verdict's evidence counts them."""
        faults = self.json("verdict.json")["evidence"]["faults"]
        return faults["started"], faults["healed"]


def ackguard_run(scenario: Path, tmp_path: Path) -> Run:
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "ackguard", "run", str(scenario), "--runs-dir", str(runs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    dirs = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.exists() else []
    assert len(dirs) == 1, f"expected one run directory:\n{output}"
    return Run(done.returncode, output, dirs[0])


def stored_request_ids(run: Run) -> set[str]:
    """What the Cabinet's own SQLite file holds at the end, read without ackguard."""
    with sqlite3.connect(run.run_dir / "cabinet.db") as db:
        return {row[0] for row in db.execute("SELECT request_id FROM notes")}


def test_write_behind_loses_acknowledged_notes_and_the_run_names_them(tmp_path: Path) -> None:
    run = ackguard_run(EXAMPLE / "write-behind.yaml", tmp_path)
    assert run.code == 1, run.output
    assert "FAIL" in run.output
    verdict = run.json("verdict.json")
    assert verdict["verdict"] is False and verdict["matched"] is True
    starts, heals = run.fault_windows()
    assert starts == heals == 4
    lost = run.anomalies("lost")
    assert lost, f"no lost note:\n{run.output}"
    # The lost notes really are absent from the service's own storage...
    lost_keys = {a["key"] for a in lost}
    assert not lost_keys & stored_request_ids(run)
    # ...and each one is named in impact.csv and in the report.
    with (run.run_dir / "impact.csv").open(encoding="utf-8", newline="") as rows:
        impact = list(csv.DictReader(rows))
    assert lost_keys <= {row["key"] for row in impact if row["kind"] == "lost"}
    lost_rows = [row for row in impact if row["kind"] == "lost"]
    assert all(row["practitioner_rpps"] and row["patient_name"] for row in lost_rows)
    report = (run.run_dir / "report.html").read_text(encoding="utf-8")
    shown = [key for key in lost_keys if f"<code>{key}</code>" in report]
    assert shown, "the report names no lost note"
    assert f"{len(lost)} lost" in report


def test_durable_cabinet_survives_the_same_kills(tmp_path: Path) -> None:
    run = ackguard_run(EXAMPLE / "durable.yaml", tmp_path)
    assert run.code == 0, run.output
    assert "PASS" in run.output
    verdict = run.json("verdict.json")
    assert verdict["verdict"] is True and verdict["matched"] is True
    assert verdict["counts"]["lost"] == verdict["counts"]["corrupt"] == 0
    starts, heals = run.fault_windows()
    assert starts == heals == 4
    # The final read is the adapter's export, converted by the harness: one record per note the
    # service stores, and at least one acknowledged create per practitioner.
    final = (run.run_dir / "final_read.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["key"] for line in final} == stored_request_ids(run)
    created = {
        op.key
        for op in read_history(run.run_dir / "history.jsonl")
        if op.f == "create" and op.type == "ok"
    }
    assert created and created <= stored_request_ids(run)


def scenario_with_adapter(tmp_path: Path, adapter: str, spec: str) -> Path:
    """The durable example with another adapter, written next to a copy of the service."""
    (tmp_path / "service.py").write_text((EXAMPLE / "service.py").read_text(encoding="utf-8"))
    (tmp_path / "my_adapter.py").write_text(adapter, encoding="utf-8")
    text = (EXAMPLE / "durable.yaml").read_text(encoding="utf-8")
    text = text.replace("adapter.py:CabinetTarget", spec).replace("duration: 24s", "duration: 6s")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text, encoding="utf-8")
    return scenario


def test_an_adapter_answering_the_wrong_shape_ends_the_run_with_exit_2(tmp_path: Path) -> None:
    cabinet = (EXAMPLE / "adapter.py").read_text(encoding="utf-8")
    broken = cabinet.replace("        return answer(reply)\n", "        return reply.json()\n", 1)
    assert broken != cabinet
    scenario = scenario_with_adapter(tmp_path, broken, "my_adapter.py:CabinetTarget")
    run = ackguard_run(scenario, tmp_path)
    assert run.code == 2, run.output
    assert "my_adapter.py:CabinetTarget.create returned dict" in run.output
    assert "expected a TargetAnswer" in run.output
    assert run.json("run.json")["status"] == "error"
    assert run.json("verdict.json")["verdict"] == "unknown"


def test_an_adapter_without_its_class_is_refused_before_anything_starts(tmp_path: Path) -> None:
    cabinet = (EXAMPLE / "adapter.py").read_text(encoding="utf-8")
    scenario = scenario_with_adapter(tmp_path, cabinet, "my_adapter.py:Cabinet")
    run = ackguard_run(scenario, tmp_path)
    assert run.code == 2, run.output
    assert f"{tmp_path / 'my_adapter.py'}: Cabinet: no such class" in run.output
    assert "classes found: CabinetTarget" in run.output
    assert not (run.run_dir / "service.log").exists()  # the service was never started
