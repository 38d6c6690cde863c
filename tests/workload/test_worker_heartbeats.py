"""A Locust worker keeps exchanging heartbeats with its master while it builds the practice.

A real master (the probe) sends a real worker process the setup of 60,000 practitioners, with
Locust's heartbeat interval shortened to 0.25 s on both sides: a build holding the gevent loop
for a second shows as the worker marked missing. Built in a greenlet of its own that yields to
the loop every slice, the worker is never missing, its heartbeats reach the master during the
build and the master's reach it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

PRACTITIONERS = 60_000
"""Seconds of building on a quiet core (~0.05 ms a practitioner): many heartbeat intervals."""


def test_heartbeats_flow_both_ways_while_the_practice_is_built(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.workload.heartbeat_probe",
            "--practitioners",
            str(PRACTITIONERS),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    ready = seen["ready"]
    assert ready is not None and "error" not in ready, (seen, done.stderr)
    assert ready["yields"] > 0  # the build let the loop run
    assert ready["heard"] > 0  # the master's heartbeats reached the worker during the build
    assert seen["heartbeats_during_build"] > 0  # and the worker's reached the master
    assert not seen["missing_during_build"], seen
    assert not seen["missing_after"] and not seen["worker_quit_by_itself"], seen
    assert seen["worker_exit"] == 0
    assert (tmp_path / "history.worker-0.jsonl").exists()  # the worker set up its shard
