"""Runs of short scenarios against real processes, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

RUN_TIMEOUT_S = 240


@dataclass
class RunResult:
    code: int
    run_dir: Path
    output: str
    verdict: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.verdict["counts"]
        return counts

    def anomalies(self, kind: str | None = None) -> list[dict[str, Any]]:
        found = [
            a for r in self.verdict["results"] if r["name"] == "records" for a in r["anomalies"]
        ]
        return [a for a in found if kind is None or a["kind"] == kind]

    def json(self, name: str) -> Any:
        return json.loads((self.run_dir / name).read_text(encoding="utf-8"))


def ackguard(
    *args: str, cwd: Path, timeout: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ackguard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir())


@pytest.fixture
def run_scenario(tmp_path: Path) -> Any:
    """Write a scenario file and run it with ``ackguard run``; returns a RunResult."""

    def run(text: str, *extra: str) -> RunResult:
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text(text, encoding="utf-8")
        runs = tmp_path / "runs"
        done = ackguard("run", str(scenario), "--runs-dir", str(runs), *extra, cwd=tmp_path)
        output = done.stdout + done.stderr
        dirs = run_dirs(runs) if runs.exists() else []
        assert dirs, f"no run directory was written:\n{output}"
        verdict_path = dirs[-1] / "verdict.json"
        assert verdict_path.exists(), f"no verdict.json:\n{output}"
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
        return RunResult(done.returncode, dirs[-1], output, verdict)

    return run
