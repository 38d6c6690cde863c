"""``ackguard web``: Locust's web UI starts and stops the load, a stop verifies and reports;
a busy port is refused before anything starts."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ackguard.harness.services.ports import free_port
from tests.integration.conftest import run_dirs


def _wait_for(url: str, deadline: float, web: subprocess.Popen[str]) -> None:
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise AssertionError(f"ackguard web ended early: {web.communicate()[0]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_the_web_ui_drives_the_practitioners_and_ctrl_c_verifies(tmp_path: Path) -> None:
    scenario = tmp_path / "web.yaml"
    scenario.write_text(
        "name: web\nseed: 3\nduration: 60s\npractitioners: 6\ntime_scale: 7200\nexpect: true\n",
        encoding="utf-8",
    )
    port = free_port()
    runs = tmp_path / "runs"
    web = subprocess.Popen(
        [sys.executable, "-m", "ackguard", "web", str(scenario), "--web-port", str(port),
         "--runs-dir", str(runs)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/", time.monotonic() + 90, web)
        form = urllib.parse.urlencode({"user_count": 6, "spawn_rate": 6, "host": ""}).encode()
        with urllib.request.urlopen(base + "/swarm", data=form, timeout=10) as answer:
            assert json.loads(answer.read())["success"] is True
        history = run_dirs(runs)[0] / "history.jsonl"
        deadline = time.monotonic() + 60
        while history.read_bytes().count(b'"type":"ok"') < 30:
            assert time.monotonic() < deadline, "the UI's load recorded nothing"
            time.sleep(0.2)
        web.send_signal(signal.SIGINT)
        output, _ = web.communicate(timeout=120)
    finally:
        if web.poll() is None:
            web.kill()
            web.wait(10)
    assert web.returncode == 0, output
    run_dir = history.parent
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["status"] == "completed"
    verdict = json.loads((run_dir / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] is True and verdict["counts"]["acknowledged"] > 0
    assert (run_dir / "report.html").exists()


def test_a_busy_web_port_is_one_line_and_exit_2_before_anything_starts(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "ackguard", "web", "--web-port", str(port),
             "--runs-dir", str(runs)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == f"ackguard: --web-port {port} is in use\n" and done.stdout == ""
    assert not runs.exists(), "nothing started"


STOPPED_BY_A_LOSS = """\
name: web-stop
seed: 11
duration: 60s
practitioners: 20
users: 10
time_scale: 7200
stop_when: {lost: 1}
system:
  defects:
    - name: ack_before_commit
      params: {flush_interval_ms: 3000}
faults:
  - kind: service-kill
    params: {signal: SIGKILL}
    schedule: {at: 3s, duration: 2s}
expect: false
"""


def _json(url: str, form: dict[str, object] | None = None) -> Any:
    data = None if form is None else urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as answer:
        return json.loads(answer.read())


def test_a_stop_condition_ends_a_web_session_with_the_verdict_in_the_chaos_tab(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "web-stop.yaml"
    scenario.write_text(STOPPED_BY_A_LOSS, encoding="utf-8")
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "ackguard", "web", str(scenario), "--web-port", str(port),
         "--runs-dir", str(tmp_path / "runs")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/", time.monotonic() + 90, web)
        assert _json(base + "/swarm", {"user_count": 10, "spawn_rate": 10})["success"] is True
        deadline = time.monotonic() + 90
        while (state := _json(base + "/chaos/state"))["phase"] != "done":
            assert time.monotonic() < deadline and web.poll() is None, state
            time.sleep(0.5)
        assert state["stop_reason"] and "lost" in state["stop_reason"]
        assert state["verdict"]["label"] == "FAIL" and state["verdict"]["report"]
        assert (state["verdict"]["expected"], state["verdict"]["matched"]) == ("FAIL", True)
        assert state["scenario"] == "web-stop"
        assert state["windows"][0]["state"] in ("healed", "skipped")
        again = _json(base + "/swarm", {"user_count": 10, "spawn_rate": 10})
        assert again["success"] is False and "Start is refused" in again["message"]
        with urllib.request.urlopen(base + "/chaos/run/report.html", timeout=10) as answer:
            assert b"<html" in answer.read(2000).lower()
        with urllib.request.urlopen(base + "/", timeout=10) as answer:  # a reload of the page
            assert b"chaos.js" in answer.read()
        logs = "\n".join(_json(base + "/logs")["master"])  # Locust's Logs tab
        assert "registering 20 practitioners" in logs and "load stopped early" in logs, logs
        web.send_signal(signal.SIGINT)
        output, _ = web.communicate(timeout=60)
    finally:
        if web.poll() is None:
            web.kill()
            web.wait(10)
    assert web.returncode == 1, output
    assert "load stopped early" in output
