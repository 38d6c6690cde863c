"""The timeline's figures: rates per bucket add up, latencies pair invoke with completion."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from ackguard.harness.history import read_history
from ackguard.reports.history_scan import scan_history
from ackguard.reports.rundata import load_run
from ackguard.reports.timeline import build_timeline, faults_active
from tests.reports.conftest import Runs
from tests.reports.runbuilder import synthetic_run


def test_rates_add_up_to_the_history_counts(tmp_path: Path) -> None:
    synthetic_run(
        tmp_path, operations=5000, duration_s=47.3, practitioners=40, write_final_records=False
    )
    run = load_run(tmp_path)
    timeline = build_timeline(scan_history(run.history_path), run.info)
    ops = list(read_history(run.history_path))
    clients = [op for op in ops if isinstance(op.process, int)]
    widths = np.diff(np.append(timeline.starts_s, timeline.end_s))
    for kind, rates in (
        ("ok", timeline.ok_per_s),
        ("fail", timeline.fail_per_s),
        ("info", timeline.info_per_s),
    ):
        expected = sum(1 for op in clients if op.type == kind)
        assert round(float((rates * widths).sum())) == expected, kind
    assert timeline.operations == sum(1 for op in clients if op.type == "invoke") == 5000
    assert len(timeline.starts_s) <= 240
    finite = timeline.p50_ms[np.isfinite(timeline.p50_ms)]
    assert finite.size and (finite > 0).all()
    names = [w.name for w in timeline.faults]
    assert names == ["proxy-latency", "defect:lost_observations", "kill-service"]


def test_latency_pairs_each_invoke_with_its_completion(runs: Runs) -> None:
    run = load_run(runs.failing)
    timeline = build_timeline(scan_history(run.history_path), run.info)
    create = next(s for s in timeline.op_stats if s.f == "create")
    # durations 10, 100, 200, 100, 50, 300 ms
    assert (create.invoked, create.ok, create.fail, create.info) == (6, 4, 1, 1)
    assert math.isclose(create.p50_ms, 100.0)
    assert math.isclose(create.p99_ms, 300 - 0.05 * 100)
    read = next(s for s in timeline.op_stats if s.f == "read")
    assert math.isclose(read.p50_ms, 100.0)


def test_faults_active_at_a_moment(runs: Runs) -> None:
    run = load_run(runs.failing)
    faults = build_timeline(scan_history(run.history_path), run.info).faults
    assert faults_active(faults, 0.5) == ()
    assert faults_active(faults, 2.5) == ("proxy-latency", "defect:lost_observations")
    assert faults_active(faults, 9.0) == ("<script>fault()</script>",)  # never healed
    assert faults_active(faults, None) == ()


def test_rendering_touches_no_global_plotting_state(runs: Runs) -> None:
    code = (
        "import sys, pathlib, matplotlib, reports\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'imported pyplot'\n"
        "def snapshot():  # copy() reads without resolving the backend (which imports pyplot)\n"
        "    return {k: v for k, v in matplotlib.rcParams.copy().items() if k != 'backend'}\n"
        "before = snapshot()\n"
        f"reports.render_run(pathlib.Path({str(runs.failing)!r}))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'rendering imported pyplot'\n"
        "assert snapshot() == before, 'rcParams changed'\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip() == "clean", result.stderr
