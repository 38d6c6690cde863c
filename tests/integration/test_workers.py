"""Practitioners across Locust workers (``ackguard run --workers N``), end to end.

Real runs: the harness as Locust's master, worker processes it starts (and one the test starts
as a worker "from elsewhere"), the real consultation service with a planted defect, real SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ackguard.harness.history import HistoryWriter
from ackguard.harness.shards import merge_shards
from tests.integration.conftest import RunResult, ackguard, run_dirs

# A bounded agenda (6 consultations each) and a fast clock: every practitioner finishes well
# within the load, so what is written does not depend on timing or on who drives whom.
TRUNCATION = """name: workers-truncation
seed: 7
duration: 8s
practitioners: 8
time_scale: 86400
consultations_per_practitioner: 6
system:
  defects:
    - name: silent_truncation
      params: {max_chars: 600}
expect: false
"""

CORRECT = """name: workers-kill
seed: 11
duration: 12s
practitioners: 9
time_scale: 7200
expect: true
"""

Damage = set[tuple[str, str, str, str | None]]


def _run(tmp: Path, text: str, *extra: str) -> RunResult:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "scenario.yaml").write_text(text, encoding="utf-8")
    done = ackguard("run", "scenario.yaml", "--runs-dir", "runs", "--no-report", *extra, cwd=tmp)
    return _result(tmp, done.returncode, done.stdout + done.stderr)


def _result(tmp: Path, code: int, output: str) -> RunResult:
    dirs = run_dirs(tmp / "runs")
    assert dirs, output
    verdict = json.loads((dirs[-1] / "verdict.json").read_text(encoding="utf-8"))
    return RunResult(code, dirs[-1], output, verdict)


def _damage(result: RunResult) -> Damage:
    """Each damaged field: (record key, field, digest acknowledged, digest read back)."""
    found: Damage = set()
    for anomaly in result.anomalies():
        for field in anomaly["fields"]:
            final = field["final"]
            found.add(
                (
                    anomaly["key"],
                    field["field"],
                    field["acknowledged"]["digest"],
                    None if final is None else final["digest"],
                )
            )
    return found


def _run_with_remote(tmp: Path, text: str, workers: int) -> tuple[RunResult, int | None]:
    """A run of ``workers`` workers, one of them started here as a worker from elsewhere;
    returns the result and the remote worker's exit code."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "scenario.yaml").write_text(text, encoding="utf-8")
    port = _free_port()
    argv = ["run", "scenario.yaml", "--runs-dir", "runs", "--no-report"]
    argv += ["--workers", str(workers), "--remote-workers", "1", "--master-port", str(port)]
    harness = _start(tmp, *argv, log="harness.log")
    remote = _start(tmp, "worker", "--master", f"127.0.0.1:{port}", log="remote.log")
    try:
        harness.wait(timeout=180)
        remote.wait(timeout=30)
    finally:
        _end(harness, remote)
    output = (tmp / "harness.log").read_text(encoding="utf-8")
    return _result(tmp, harness.returncode, output), remote.returncode


@pytest.fixture(scope="module")
def truncation_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    """The same seed with 1 worker, 2 local workers, and 2 workers one of which is remote."""
    base = tmp_path_factory.mktemp("workers")
    runs = {f"{n}": _run(base / f"w{n}", TRUNCATION, "--workers", str(n)) for n in (1, 2)}
    temporary = set(Path(tempfile.gettempdir()).glob("ackguard-worker-*"))
    runs["remote"], code = _run_with_remote(base / "remote", TRUNCATION, 2)
    assert code == 0, "the remote worker quits when the master does"
    left = set(Path(tempfile.gettempdir()).glob("ackguard-worker-*")) - temporary
    assert not left, "the remote worker removes its temporary shard"
    return runs


def test_two_workers_find_exactly_the_damage_one_worker_finds(
    truncation_runs: dict[str, RunResult],
) -> None:
    one, two, remote = truncation_runs["1"], truncation_runs["2"], truncation_runs["remote"]
    for result in (one, two, remote):
        assert result.code == 1, result.output
        assert result.verdict["verdict"] is False
        assert {a["kind"] for a in result.anomalies()} == {"corrupt"}
        assert result.counts["acknowledged"] == 8 * 6  # every consultation of the bounded agenda
    assert _damage(one) and _damage(one) == _damage(two)
    assert "on 2 workers" in two.output
    # Ops streamed by a worker from elsewhere make the same history.
    assert _damage(remote) == _damage(one)


def test_the_merged_history_is_one_history(truncation_runs: dict[str, RunResult]) -> None:
    run_dir = truncation_runs["2"].run_dir
    lines = (run_dir / "history.jsonl").read_bytes().splitlines()
    ops = [json.loads(line) for line in lines]
    assert [op["index"] for op in ops] == list(range(len(ops)))
    assert [op["time"] for op in ops] == sorted(op["time"] for op in ops)
    assert ops[-1]["process"] == "harness" and ops[-1]["f"] == "end"
    # Both workers' practitioners (processes 0..7: index mod 2 says whose) are in it.
    assert {op["process"] % 2 for op in ops if isinstance(op["process"], int)} == {0, 1}
    assert not list(run_dir.glob("history.worker-*.jsonl")), "merged shards are removed"
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["workers"] == 2 and meta["workers_lost"] == []


def test_a_worker_killed_mid_run_makes_the_verdict_unknown(tmp_path: Path) -> None:
    """Three workers: one the harness started is SIGKILLed mid-run (its process ends), and the
    one that joined "from elsewhere" is stopped with SIGSTOP (it stops heartbeating)."""
    (tmp_path / "scenario.yaml").write_text(CORRECT, encoding="utf-8")
    port = _free_port()
    argv = ["run", "scenario.yaml", "--runs-dir", "runs", "--no-report", "--workers", "3"]
    harness = _start(
        tmp_path, *argv, "--remote-workers", "1", "--master-port", str(port), log="harness.log"
    )
    remote = _start(tmp_path, "worker", "--master", f"127.0.0.1:{port}", log="remote.log")
    try:
        _await_load(tmp_path / "runs", harness)
        time.sleep(2.0)
        os.kill(_local_worker(harness.pid), signal.SIGKILL)
        os.kill(remote.pid, signal.SIGSTOP)
        harness.wait(timeout=180)
    finally:
        _end(harness, remote)
    output = (tmp_path / "harness.log").read_text(encoding="utf-8")
    result = _result(tmp_path, harness.returncode, output)
    assert result.code == 2, result.output
    assert result.verdict["verdict"] == "unknown"
    lost = [r for r in result.verdict["reasons"] if "was lost" in r]
    assert len(lost) == 2, result.verdict["reasons"]
    assert all(" of 3 was lost at " in reason for reason in lost)
    assert sum("killed by SIGKILL" in reason for reason in lost) == 1
    assert sum("stopped heartbeating" in reason for reason in lost) == 1
    # The stopped worker's last ops never reached the master (a hole in the history): a write
    # the service applied may then look like damage, which the hole makes unknown, not false.
    assert result.counts["lost"] == 0
    assert all(r["valid"] is not False for r in result.verdict["results"])
    meta = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["workers_lost"] == lost


def test_shards_merge_by_time_and_the_writer_continues(tmp_path: Path) -> None:
    main = HistoryWriter(tmp_path / "history.jsonl", started_ns=0)
    shards = [tmp_path / "history.worker-0.jsonl", tmp_path / "history.worker-1.jsonl"]
    main_line = b'{"index":0,"time":%d,"process":"nemesis","type":"ok","f":"start"}\n'
    os.write(main._fd, main_line % 15)
    shards[0].write_bytes(b"".join(_line(i, t, 100) for i, t in enumerate((10, 20, 20))))
    torn = b'{"index":2,"time":99,"proc'
    shards[1].write_bytes(_line(0, 5, 200) + _line(1, 20, 200) + torn)
    report = merge_shards(main, shards)
    main.record("harness", "ok", "end")
    main.close()
    ops = [json.loads(line) for line in (tmp_path / "history.jsonl").read_bytes().splitlines()]
    assert [op["index"] for op in ops] == list(range(7))
    assert [op["time"] for op in ops[:6]] == [5, 10, 15, 20, 20, 20]
    assert [op["process"] for op in ops[:6]] == [200, 100, "nemesis", 100, 100, 200]
    assert ops[-1]["f"] == "end" and report.lines == 6
    assert [s.torn for s in report.shards] == [False, True]
    assert not any(shard.exists() for shard in shards)


def _line(index: int, time_ns: int, process: int) -> bytes:
    return b'{"index":%d,"time":%d,"process":%d,"type":"ok","f":"read"}\n' % (
        index,
        time_ns,
        process,
    )


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--workers", "0"], "--workers 0: a number of Locust workers is 1 to 64"),
        (["--workers", "-3"], "--workers -3"),
        (["--workers", "100000"], "--workers 100000"),
        (["--workers", "2", "--remote-workers", "3"], "--remote-workers 3"),
        (["--remote-workers", "1"], "--remote-workers needs --workers"),
        (["--workers", "2", "--master-port", "70000"], "--master-port 70000"),
    ],
)
def test_bad_worker_counts_are_refused(tmp_path: Path, extra: list[str], said: str) -> None:
    done = ackguard("run", "default", "--runs-dir", "runs", *extra, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert said in done.stderr
    assert not (tmp_path / "runs").exists(), "nothing starts"


def test_a_worker_with_a_bad_master_address_is_refused(tmp_path: Path) -> None:
    done = ackguard("worker", "--master", "nohostport", cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "expected HOST:PORT" in done.stderr


def _start(cwd: Path, *args: str, log: str) -> subprocess.Popen[bytes]:
    with (cwd / log).open("wb") as output:  # the child holds its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "ackguard", *args],
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _end(*processes: subprocess.Popen[bytes]) -> None:
    """End what this test started, by PID (a stopped one is continued first)."""
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _await_load(runs: Path, harness: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    """Until the workers drive practitioners: a local worker's shard has ops in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert harness.poll() is None, "the harness ended before its load started"
        shards = list(runs.glob("*/history.worker-*.jsonl")) if runs.exists() else []
        if any(shard.stat().st_size > 0 for shard in shards):
            return
        time.sleep(0.2)
    raise AssertionError("the load did not start")


def _local_worker(harness_pid: int) -> int:
    """A worker process the harness started (its child, with a shard folder)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        if ppid == harness_pid and b"worker" in argv and b"--shard-dir" in argv:
            return int(entry.name)
    raise AssertionError("no local worker found")
