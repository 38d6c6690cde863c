"""``ackguard web``: Locust's web UI starts and stops the load; Ctrl-C verifies and reports."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

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
