"""The ``command`` fault kind with real commands acting on a real process this test started:
a tiny HTTP server frozen by ``kill -STOP`` and continued by ``kill -CONT``, or killed and
started again by the heal; the commands' output lands in the run directory."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.faults import command
from ackguard.harness.faults.base import FaultConfigError
from ackguard.harness.faults.registry import build_fault
from ackguard.harness.services.ports import free_port
from tests.integration.conftest import ackguard, run_dirs
from tests.services.childproc import get_pid, state, wait_state

GONE: set[str | None] = {None, "Z", "X"}
SERVER = Path(__file__).parents[1] / "services" / "user_server.py"


class RunContext:
    """What a fault sees of a run: its directory, no components."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.database_url = "sqlite:///notes.db"

    def component(self, name: str) -> Any:
        raise KeyError(name)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/health"
    try:
        wait_listening(url)
        yield process, url
    finally:
        process.kill()
        process.wait()
        log.close()


def wait_listening(url: str, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get_pid(url, timeout=1.0)
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.05)


def _shell(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_start_freezes_the_process_check_confirms_heal_continues_it(
    server: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, url = server
    pid = process.pid
    params: Mapping[str, Any] = {
        "start": _shell(f"echo freezing {pid} for $WHO in {{run_dir}}; kill -STOP {pid}"),
        "check": _shell(f"grep -q '^State:.*T' /proc/{pid}/status && echo frozen"),
        "heal": _shell(f"echo continuing; kill -CONT {pid}"),
        "env": {"WHO": "ackguard"},
        "timeout": "10s",
    }
    fault = build_fault("command", RunContext(tmp_path), params, name="freeze-server")
    fault.stop()  # never started: nothing to heal, nothing run
    assert not (tmp_path / "faults").exists()
    fault.start()
    assert state(pid) in ("T", "t")
    with pytest.raises(OSError):
        get_pid(url, timeout=0.5)
    fault.stop()
    assert get_pid(url, timeout=10.0) == pid
    fault.stop()  # idempotent: heal runs once
    log = (tmp_path / "faults" / "freeze-server.log").read_text(encoding="utf-8")
    assert f"freezing {pid} for ackguard in {tmp_path}" in log
    assert "frozen" in log
    assert log.count("\ncontinuing\n") == 1
    assert "freeze-server: heal" in log


def test_heal_can_start_the_process_again(
    server: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, url = server
    port = url.split(":")[2].split("/")[0]
    params = {
        "start": ["kill", "-KILL", str(process.pid)],
        "heal": _shell(f"exec {sys.executable} {SERVER} {port} > restarted.log 2>&1 &"),
        "cwd": "{run_dir}",
    }
    fault = build_fault("command", RunContext(tmp_path), params, name="kill-server")
    fault.start()
    assert wait_state(process.pid, GONE) in GONE
    fault.stop()
    restarted = wait_listening(url)
    try:
        assert restarted != process.pid
        assert (tmp_path / "restarted.log").exists()
    finally:
        subprocess.run(["kill", "-KILL", str(restarted)], check=False)
        wait_state(restarted, GONE)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"start": ["false"], "heal": ["true"]}, "start: 'false' exited with code 1"),
        ({"start": ["true"], "check": ["false"], "heal": ["true"]}, "check: 'false' exited"),
        (
            {"start": ["sleep", "30"], "heal": ["true"], "timeout": "0.5s"},
            "did not finish within 0.5 s and was killed",
        ),
        ({"start": ["ackguard-no-such-command"], "heal": ["true"]}, "cannot run"),
    ],
)
def test_a_start_that_fails_raises_and_heal_still_runs(
    tmp_path: Path, params: dict[str, Any], problem: str
) -> None:
    fault = build_fault("command", RunContext(tmp_path), params, name="broken")
    with pytest.raises(RuntimeError, match=problem):
        fault.start()
    fault.stop()  # a half-done start is healed
    log = (tmp_path / "faults" / "broken.log").read_text(encoding="utf-8")
    assert "broken: heal" in log


def test_a_timed_out_command_leaves_no_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "sleeper.pid"
    params = {
        "start": _shell(f"sleep 30 & echo $! > {pid_file}; wait"),
        "heal": ["true"],
        "timeout": "1s",
    }
    fault = build_fault("command", RunContext(tmp_path), params, name="freeze-server")
    with pytest.raises(RuntimeError, match="was killed"):
        fault.start()
    assert wait_state(int(pid_file.read_text()), GONE) in GONE


def test_a_failing_heal_raises(tmp_path: Path) -> None:
    fault = command.KIND.build(
        RunContext(tmp_path), {"start": ["true"], "heal": _shell("echo no; exit 4")}
    )
    fault.start()
    with pytest.raises(RuntimeError, match="heal: 'sh' exited with code 4"):
        fault.stop()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"heal": ["true"]}, "start"),
        ({"start": [], "heal": ["true"]}, "start"),
        ({"start": "kill -STOP 1", "heal": ["true"]}, "start"),
        ({"start": ["true"], "heal": ["true"], "timeout": "2h"}, "timeout"),
        ({"start": ["true"], "heal": ["true"], "env": {"A": 1}}, "env.A"),
        ({"start": ["true"], "heal": ["true"], "shell": True}, "shell"),
        ({"start": ["echo", "{pid}"], "heal": ["true"]}, "start[1]"),
    ],
)
def test_bad_params_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultConfigError) as raised:
        command.KIND.parse(params)
    assert raised.value.field == field


def test_through_ackguard_run_the_output_is_in_the_run_directory(
    server: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, url = server
    pid = process.pid
    (tmp_path / "scenario.yaml").write_text(
        "name: command-fault\nseed: 7\nduration: 6s\npractitioners: 4\ntime_scale: 3600\n"
        "system:\n  database: {kind: sqlite}\n"
        "faults:\n"
        "  - kind: command\n    name: freeze-neighbour\n"
        "    params:\n"
        f"      start: [sh, -c, 'echo freezing {pid}; kill -STOP {pid}']\n"
        f"      check: [sh, -c, 'grep State /proc/{pid}/status']\n"
        f"      heal: [sh, -c, 'echo continuing {pid}; kill -CONT {pid}']\n"
        "    schedule: {at: 1s, duration: 2s}\n",
        encoding="utf-8",
    )
    done = ackguard("run", "scenario.yaml", "--runs-dir", "runs", "--no-report", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    log = (run_dirs(tmp_path / "runs")[-1] / "faults" / "freeze-neighbour.log").read_text()
    assert f"freezing {pid}" in log
    assert "State:\tT (stopped)" in log  # the check saw it frozen
    assert f"continuing {pid}" in log
    assert get_pid(url) == pid  # and it answers again
