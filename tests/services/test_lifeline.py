"""The parent-death watch against real processes: a harness-like parent started here starts a
child through ``spawn`` (which starts a grandchild that leaves the group for a session of its
own), then dies by SIGKILL; the watchdog must leave nothing behind, and must never signal a
process that is not the one announced."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.childproc import state, wait_state

GONE: set[str | None] = {None, "Z", "X"}
ROOT = Path(__file__).resolve().parents[2]
WATCHDOG = ROOT / "harness" / "services" / "watchdog.py"

PARENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from ackguard.harness.services import lifeline
    from ackguard.harness.services.process import spawn

    out = Path(sys.argv[1])
    sleeper = "import os, time; os.setsid(); time.sleep(300)"
    daemon = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', {sleeper!r}]);"
        "print(p.pid, flush=True); time.sleep(300)"
    )
    log = (out.parent / "child.log").open("wb")
    child, _ = spawn([sys.executable, "-c", daemon], output=log)
    outside = out.parent / "outside"
    outside.mkdir()
    lifeline.remove_on_death(outside)
    deadline = time.monotonic() + 20
    while not (out.parent / "child.log").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)
    grandchild = int((out.parent / "child.log").read_text().split()[0])
    time.sleep(1.2)  # the watchdog looks at the run's processes every half second
    out.write_text(json.dumps({"child": child.pid, "grandchild": grandchild,
                               "watchdog": lifeline.lifeline.pid}))
    time.sleep(300)
    """
)


def _wait_file(path: Path, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return path.read_text(encoding="utf-8")


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int]]]:
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    out = tmp_path / "pids.json"
    process = subprocess.Popen([sys.executable, str(script), str(out)], cwd=ROOT)
    pids: dict[str, int] = {}
    try:
        pids = json.loads(_wait_file(out))
        yield process, pids
    finally:
        process.kill()
        process.wait()
        for pid in pids.values():  # only if the test failed: what the watch should have ended
            if state(pid) not in GONE:
                subprocess.run(["kill", "-KILL", str(pid)], check=False)


def test_sigkilled_parent_leaves_no_child_nor_daemon(
    parent: tuple[subprocess.Popen[bytes], dict[str, int]], tmp_path: Path
) -> None:
    process, pids = parent
    assert all(state(pid) not in GONE for pid in pids.values())
    process.send_signal(signal.SIGKILL)
    process.wait()
    for name in ("child", "grandchild", "watchdog"):
        assert wait_state(pids[name], GONE) in GONE, f"the {name} outlived the harness"
    assert not (tmp_path / "outside").exists()


def test_the_watch_never_signals_a_process_it_was_not_told_about(tmp_path: Path) -> None:
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True
    )
    try:
        start_time = int(
            Path(f"/proc/{bystander.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        )
        watchdog = subprocess.Popen([sys.executable, "-I", str(WATCHDOG)], stdin=subprocess.PIPE)
        # A PID announced with another start time is a PID reused by somebody else.
        watchdog.communicate(f"watch {bystander.pid} {start_time + 1}\n".encode(), timeout=30)
        assert watchdog.returncode == 0
        assert state(bystander.pid) not in GONE
        watchdog = subprocess.Popen([sys.executable, "-I", str(WATCHDOG)], stdin=subprocess.PIPE)
        watchdog.communicate(f"watch {bystander.pid} {start_time}\n".encode(), timeout=30)
        assert wait_state(bystander.pid, GONE) in GONE
    finally:
        bystander.kill()
        bystander.wait()
