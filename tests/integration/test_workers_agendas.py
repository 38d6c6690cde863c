"""``until_agendas_end``: the load stops once every practitioner's bounded agenda has ended, in
process and across Locust workers, end to end (real runs, the real consultation service).

The scenario allows two minutes of load; its agendas (two create-only consultations each) end
within seconds. The run must say it stopped because they ended, and the history must hold every
practitioner's two creates and nothing else.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ackguard.harness.history import END, read_history
from tests.integration.conftest import ackguard, run_dirs

PRACTITIONERS, CONSULTATIONS = 10, 2
SCENARIO = f"""name: agendas-end
seed: 5
duration: 120s
practitioners: {PRACTITIONERS}
time_scale: 86400
consultations_per_practitioner: {CONSULTATIONS}
consultation_steps: create_only
until_agendas_end: true
live: false
verifiers: [records]  # no practitioner reads: read-your-writes would have nothing to judge
expect: true
"""
STOPPED = "load stopped early: every practitioner's agenda has ended"


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["in-process", "2-workers"])
def test_the_load_stops_when_every_agenda_has_ended(tmp_path: Path, workers: list[str]) -> None:
    (tmp_path / "scenario.yaml").write_text(SCENARIO, encoding="utf-8")
    done = ackguard(
        "run", "scenario.yaml", "--runs-dir", "runs", "--no-report", *workers, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert STOPPED in output, output[-4000:]
    run_dir = run_dirs(tmp_path / "runs")[-1]
    ops = list(read_history(run_dir / "history.jsonl"))
    assert {op.f for op in ops} == {"create", END}  # END: the harness's closing op
    acknowledged = Counter(
        str(op.value["practitioner_id"])  # type: ignore[index]
        for op in ops
        if op.type == "ok" and op.f == "create"
    )
    directory = json.loads((run_dir / "directory.json").read_text(encoding="utf-8"))
    everyone = {str(entry["id"]) for entry in directory["practitioners"]}
    assert len(everyone) == PRACTITIONERS
    assert acknowledged == dict.fromkeys(everyone, CONSULTATIONS)
