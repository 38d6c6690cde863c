"""No green without evidence, at run time: each gap provoked for real ends UNKNOWN (exit 2) with
its reason in words on the console and in verdict.json.

Runs go through the real command line (``python -m ackguard``) against real processes; the
fault that cannot start is built in-process behind the scenario's own checks, and run for real.
Damaged histories are real runs' histories, cut, torn and damaged the way a kill or a disk does.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.services.ports import free_port
from ackguard.harness.services.postgres import ManagedPostgres
from ackguard.harness.verify import verify_run
from tests.integration.conftest import RUN_TIMEOUT_S, RunResult, ackguard, run_dirs

ACKNOWLEDGED_CREATE = b'"type":"ok","f":"create"'


def scenario(body: str = "", *, name: str = "evidence", duration: str = "4s") -> str:
    head = f"name: {name}\nseed: 7\nduration: {duration}\npractitioners: 4\ntime_scale: 7200\n"
    return head + body


def verdict_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "verdict.json").read_text(encoding="utf-8"))
    return data


def assert_said_everywhere(run_dir: Path, output: str, reason: str) -> None:
    """The reason in words on the console, in verdict.json, as the junit error a CI dashboard
    shows, and in the report's banner."""
    assert "UNKNOWN" in output and reason in output
    assert reason in verdict_of(run_dir)["reasons"]
    errors = ET.parse(run_dir / "junit.xml").getroot().iter("error")
    assert any(reason in (error.get("message") or "") for error in errors)
    page = html.unescape((run_dir / "report.html").read_text(encoding="utf-8"))
    banner = page[page.index("<body") : page.index("<body") + 20_000]
    assert "UNKNOWN" in banner and reason in banner


def start_run(
    tmp_path: Path, text: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], Path]:
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(text, encoding="utf-8")
    runs = tmp_path / "runs"
    harness = subprocess.Popen(
        [sys.executable, "-m", "ackguard", "run", str(scenario_file), "--runs-dir", str(runs)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip
    return harness, runs


def await_acknowledged_write(runs: Path, harness: subprocess.Popen[str], timeout_s: float) -> Path:
    """The run directory, once its history holds an acknowledged create (the load is on)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert harness.poll() is None, "the harness ended before the test could act"
        for run_dir in run_dirs(runs) if runs.exists() else []:
            history = run_dir / "history.jsonl"
            if history.exists() and ACKNOWLEDGED_CREATE in history.read_bytes():
                return run_dir
        time.sleep(0.1)
    raise AssertionError("no write was acknowledged in time")


def finish(harness: subprocess.Popen[str]) -> str:
    try:
        output, _ = harness.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait(10)
    return output


def test_ctrl_c_mid_load_is_unknown_and_says_how_far_the_run_got(tmp_path: Path) -> None:
    harness, runs = start_run(tmp_path, scenario("expect: true\n", duration="60s"))
    try:
        run_dir = await_acknowledged_write(runs, harness, timeout_s=90)
        harness.send_signal(signal.SIGINT)
    finally:
        output = finish(harness)
    assert harness.returncode == 2, output
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "interrupted" and run["harness_pid"] == harness.pid
    verdict = verdict_of(run_dir)
    assert verdict["verdict"] == "unknown"
    reason = verdict["reasons"][0]
    assert re.fullmatch(r"the run was interrupted after \d+ s of 60 s", reason), reason
    assert_said_everywhere(run_dir, output, reason)


def test_a_run_where_every_request_was_refused_is_unknown(run_scenario: Any) -> None:
    refused = """system:
  proxy: [service]
faults:
  - kind: partition
    params: {proxy: service}
    schedule: {at: 0s, duration: 4s}
expect: true
"""
    result: RunResult = run_scenario(scenario(refused))
    assert result.code == 2, result.output
    assert result.verdict["verdict"] == "unknown"
    assert result.verdict["evidence"]["acknowledged_writes"] == 0
    assert result.verdict["evidence"]["faults"]["started"] == 1
    reason = (
        "no write was acknowledged (the scenario needs at least 1 as evidence: min_acknowledged)"
    )
    assert_said_everywhere(result.run_dir, result.output, reason)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ManagedPostgres]:
    database = ManagedPostgres(tmp_path / "pg", log_path=tmp_path / "pg.log")
    database.start()
    try:
        yield database
    finally:
        database.close()


@pytest.mark.postgres
def test_a_harness_error_during_recovery_is_unknown_never_exit_0(
    tmp_path: Path, cluster: ManagedPostgres
) -> None:
    body = f"system:\n  database: {{kind: url, url: '{cluster.url}'}}\nexpect: true\n"
    # the service can never recover: waiting 8 s for it proves as much as the default 60 s
    harness, runs = start_run(tmp_path, scenario(body), {"ACKGUARD_RECOVERY_TIMEOUT_S": "8"})
    try:
        run_dir = await_acknowledged_write(runs, harness, timeout_s=90)
        cluster.stop("immediate")  # the service can never recover: its database is gone
    finally:
        output = finish(harness)
    assert harness.returncode == 2, output
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "error" and run["error"]
    verdict = verdict_of(run_dir)
    assert verdict["verdict"] == "unknown"
    reason = f"the harness failed: {run['error']}"
    assert verdict["reasons"][0] == reason
    assert_said_everywhere(run_dir, output, reason)


# The scenario's checks refuse a toxic fault with no proxy path before anything starts; this
# builds such a scenario in-process behind them, to show that the run itself still tells.
NO_PROXY_RUN = """
import locust  # gevent patches the standard library first, as the command line does
import dataclasses, sys
from pathlib import Path
from ackguard.harness.run import run_scenario
from ackguard.harness.scenario import load_scenario
from ackguard.harness.summary import exit_code, summary

from ackguard import reports

scenario = dataclasses.replace(load_scenario(sys.argv[1]), proxy_paths=())
outcome = run_scenario(scenario, runs_dir=Path(sys.argv[2]))
rendered = reports.render_run(outcome.run_dir)
print(summary(outcome.run_dir, outcome.verdict, outcome.status, Path(rendered.html)))
sys.exit(exit_code(outcome.verdict))
"""


def test_a_fault_that_cannot_start_is_unknown_with_its_error(tmp_path: Path) -> None:
    toxic = """system:
  proxy: [service]
faults:
  - kind: toxic
    params: {proxy: service, type: latency, attributes: {latency: 200}}
    schedule: {at: 1s, duration: 2s}
expect: true
"""
    scenario_file = tmp_path / "toxic.yaml"
    scenario_file.write_text(scenario(toxic), encoding="utf-8")
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-c", NO_PROXY_RUN, str(scenario_file), str(runs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    verdict = verdict_of(run_dirs(runs)[-1])
    assert verdict["verdict"] == "unknown"
    reason = verdict["reasons"][0]
    assert reason.startswith("fault toxic-0 never started: "), verdict["reasons"]
    assert "no proxy" in reason
    assert verdict["evidence"]["faults"]["started"] == 0
    assert_said_everywhere(run_dirs(runs)[-1], done.stdout, reason)


def test_verify_on_a_run_whose_harness_died_says_so(tmp_path: Path) -> None:
    harness, runs = start_run(tmp_path, scenario("expect: true\n", duration="60s"))
    try:
        run_dir = await_acknowledged_write(runs, harness, timeout_s=90)
        harness.kill()
    finally:
        finish(harness)
    _await_service_gone(run_dir)
    done = ackguard("verify", str(run_dir), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    reason = "the harness died before the run ended (killed?)"
    verdict = verdict_of(run_dir)
    assert verdict["reasons"][0] == reason
    # What was recorded still verifies; it just cannot make the run green.
    records = next(r for r in verdict["results"] if r["name"] == "records")
    assert records["valid"] is True and verdict["counts"]["acknowledged"] > 0
    assert "UNKNOWN" in output and reason in output


def _await_service_gone(run_dir: Path) -> None:
    """The harness's watchdog ends the service when the harness dies; wait (bounded) for it."""
    ready = run_dir / "service.ready"
    if not ready.exists():
        return
    pid = int(json.loads(ready.read_text(encoding="utf-8"))["pid"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the service {pid} outlived its harness")


# -- a real run's history, damaged -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("real")
    (base / "scenario.yaml").write_text(scenario("expect: true\n"), encoding="utf-8")
    done = ackguard("run", "scenario.yaml", "--runs-dir", "runs", "--no-report", cwd=base)
    assert done.returncode == 0, done.stdout + done.stderr
    return run_dirs(base / "runs")[-1]


@pytest.fixture
def copy(real_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / real_run.name
    shutil.copytree(real_run, target)
    (target / "verdict.json").unlink()
    return target


def history_lines(run_dir: Path) -> list[bytes]:
    return (run_dir / "history.jsonl").read_bytes().splitlines(keepends=True)


def test_half_a_real_history_is_unknown_not_fail(copy: Path, tmp_path: Path) -> None:
    lines = history_lines(copy)
    (copy / "history.jsonl").write_bytes(b"".join(lines[: len(lines) // 2]))
    done = ackguard("verify", str(copy), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    verdict = verdict_of(copy)
    assert verdict["verdict"] == "unknown"
    reason = verdict["reasons"][0]
    assert reason.startswith("the history was cut short: it has no end marker"), reason
    assert "UNKNOWN" in output and reason in output


def test_a_torn_last_line_of_a_real_history_is_tolerated_and_said(copy: Path) -> None:
    lines = history_lines(copy)
    torn = lines[-2][: len(lines[-2]) // 2]  # an op cut off mid-write, after the last one
    (copy / "history.jsonl").write_bytes(b"".join(lines) + torn)
    verdict = verify_run(copy)
    assert verdict.valid is True, verdict.reasons
    assert verdict.evidence["notes"] == [
        "the last line of the history was torn (harness killed?): ignored"
    ]


def test_a_damaged_line_of_a_real_history_is_named_once(copy: Path) -> None:
    lines = history_lines(copy)
    lines[9] = lines[9][:20] + b"\xff\xfe" + lines[9][22:]
    (copy / "history.jsonl").write_bytes(b"".join(lines))
    verdict = verify_run(copy)
    assert verdict.valid == "unknown"
    assert verdict.reasons[0] == (
        "line 10 of the history is damaged: ignored, so the verdict cannot rest on the history"
    )
    assert sum("line 10" in reason for reason in verdict.reasons) == 1


def test_an_emptied_real_history_is_unknown(copy: Path) -> None:
    (copy / "history.jsonl").write_bytes(b"")
    verdict = verify_run(copy)
    assert verdict.valid == "unknown"
    assert verdict.reasons[0] == "the history is empty: nothing was recorded"


def test_a_harness_error_in_verify_exits_2_never_1(copy: Path, tmp_path: Path) -> None:
    for name in ("final_read.json", "final_read.jsonl", "consultations.db"):
        (copy / name).unlink(missing_ok=True)
    done = ackguard("verify", str(copy), "--db", "nosuchdialect://x/y", cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "ackguard: harness error: NoSuchModuleError" in output


def test_an_unreachable_database_in_verify_is_unknown(copy: Path, tmp_path: Path) -> None:
    for name in ("final_read.json", "final_read.jsonl", "consultations.db"):
        (copy / name).unlink(missing_ok=True)
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ackguard"
    done = ackguard("verify", str(copy), "--db", unreachable, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    reasons = verdict_of(copy)["reasons"]
    assert reasons[0].startswith("records: incomplete final read: reading "), reasons
