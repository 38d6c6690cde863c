"""The live verifier and stop conditions with ``ackguard run --workers 2``: the practitioners'
ops are in the workers' history shards, and the harness follows them while the load runs.

The real consultation service truncates long notes (``silent_truncation``): one run, with a local
worker and one joining "from elsewhere" (started here, streaming its shard to the master), shows
the read-backs catching truncated notes the workers' practitioners wrote, each confirmed by the
final verdict; another, planned for two minutes, ends its load on the first corrupt note
(``stop_when: {corrupt: 1}``).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import RUN_TIMEOUT_S, RunResult, ackguard, run_dirs

SCENARIO = """name: live-workers
seed: 7
duration: {duration}
practitioners: 10
time_scale: 3600
system:
  defects:
    - name: silent_truncation
      params: {{max_chars: 600}}
live: {{reads_per_second: 80}}
{extra}expect: false
"""
LIVE_LINE = re.compile(r"^live: corrupt \([^)]*\) (\S+) practitioner", re.M)
STOP_PLANNED_S = 120


def _run(folder: Path, duration: str, extra: str = "", *, remote: bool = False) -> RunResult:
    folder.mkdir()
    (folder / "scenario.yaml").write_text(
        SCENARIO.format(duration=duration, extra=extra), encoding="utf-8"
    )
    argv = ["run", "scenario.yaml", "--runs-dir", "runs", "--no-report", "--workers", "2"]
    if remote:
        code, output = _run_with_remote(folder, argv)
    else:
        done = ackguard(*argv, cwd=folder)
        code, output = done.returncode, done.stdout + done.stderr
    found = run_dirs(folder / "runs")
    assert found and (found[-1] / "verdict.json").exists(), output
    verdict = json.loads((found[-1] / "verdict.json").read_text(encoding="utf-8"))
    return RunResult(code, found[-1], output, verdict)


def _run_with_remote(folder: Path, argv: list[str]) -> tuple[int, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [*argv, "--remote-workers", "1", "--master-port", str(port)]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for args, log in (
            (argv, "harness.log"),
            (["worker", "--master", f"127.0.0.1:{port}"], "remote.log"),
        ):
            with (folder / log).open("wb") as output:  # the child holds its own copy
                started.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "ackguard", *args],
                        cwd=folder,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
        code = started[0].wait(timeout=RUN_TIMEOUT_S)
        started[1].wait(timeout=30)
    finally:
        for process in started:  # what this test started, by PID
            if process.poll() is None:
                process.kill()
                process.wait()
    return code, (folder / "harness.log").read_text(encoding="utf-8")


def history(run: RunResult) -> list[dict[str, Any]]:
    lines = (run.run_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return _run(tmp_path_factory.mktemp("live-workers") / "run", "15s", remote=True)


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    folder = tmp_path_factory.mktemp("stop-workers") / "run"
    return _run(folder, f"{STOP_PLANNED_S}s", "stop_when: {corrupt: 1}\n")


def test_read_backs_catch_what_the_workers_practitioners_wrote(live_run: RunResult) -> None:
    run = live_run
    assert run.code == 1, run.output
    assert "on 2 workers" in run.output and "waiting for 1 to join from elsewhere" in run.output
    assert run.json("run.json")["workers_lost"] == []
    said = set(LIVE_LINE.findall(run.output))
    assert said, f"the live verifier said nothing:\n{run.output}"
    damaged = {a["key"] for a in run.anomalies("corrupt")}
    assert said <= damaged, f"live alarms the verdict does not confirm: {said - damaged}"
    live = run.verdict["live"]
    assert live["unconfirmed"] == 0 and live["alarms"] >= len(said)
    assert live["reads"] > 100 and live["detected"] >= 1
    # The read-backs learnt their records from both workers' shards, the remote one's included:
    # the harness writes nothing, and reads back only what it saw acknowledged.
    ops = history(run)
    worker_of = {
        op["key"]: op["process"] % 2 if op["process"] < 10**9 else op["process"] // 10**9 - 1
        for op in ops
        if op["f"] == "create" and op["type"] == "invoke"
    }
    read_back = {
        op["key"]
        for op in ops
        if op["f"] == "read" and isinstance(op["value"], dict) and op["value"].get("live")
    }
    assert {worker_of[key] for key in read_back} == {0, 1}


def test_stop_when_corrupt_ends_the_load_of_the_workers(stopped_run: RunResult) -> None:
    run = stopped_run
    assert run.code == 1, run.output
    meta = run.json("run.json")
    assert meta["status"] == "completed" and meta["workers_lost"] == []
    stopped = meta["stopped_by"]
    assert stopped is not None, run.output
    assert stopped["reason"].startswith("stop_when corrupt: 1 reached: corrupt "), stopped
    assert "load stopped early: stop_when corrupt" in run.output
    # "after N s of load" counts from the workers' load start, not from the harness's (before
    # the workers joined and built their practitioners)
    load_began_s = (
        datetime.fromisoformat(meta["load_started_at"]) - datetime.fromisoformat(meta["started_at"])
    ).total_seconds()
    assert 0 <= stopped["after_s"] <= stopped["time_s"] - load_began_s + 0.25, (stopped, meta)
    key = stopped["reason"].split()[5]
    assert key in {a["key"] for a in run.anomalies("corrupt")}
    ops = history(run)
    began = [
        op["time"] / 1e9 for op in ops if op["type"] == "invoke" and op["process"] != "nemesis"
    ]
    # operations in flight may finish (the stop timeout, 6 s): nothing began much later
    assert max(began) < stopped["time_s"] + 6.5
    assert max(began) < STOP_PLANNED_S - 6.5
