"""Helpers for tests that run ``child_server.py`` under a ManagedProcess."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

from ackguard.harness.services.process import ManagedProcess, ProcessRef

SCRIPT = Path(__file__).with_name("child_server.py")


def child_process(
    directory: Path, *args: str, ready_timeout: float = 20.0, name: str = "child"
) -> ManagedProcess:
    ready = directory / f"{name}.ready"
    return ManagedProcess(
        [sys.executable, str(SCRIPT), "--ready-file", str(ready), *args],
        cwd=directory,
        log_path=directory / f"{name}.log",
        ready_file=ready,
        ready_timeout=ready_timeout,
    )


def get_pid(url: str, timeout: float = 5.0) -> int:
    """GET the child server; it answers with its PID."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        pid: int = json.loads(answer.read())["pid"]
        return pid


def state(pid: int) -> str | None:
    return ProcessRef.of(pid).state()


def wait_state(pid: int, wanted: set[str | None], timeout: float = 10.0) -> str | None:
    """Wait (bounded) until the process is in one of the ``wanted`` states; return the last."""
    deadline = time.monotonic() + timeout
    seen = state(pid)
    while seen not in wanted and time.monotonic() < deadline:
        time.sleep(0.01)
        seen = state(pid)
    return seen
