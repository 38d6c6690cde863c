"""ManagedProcess against a real child HTTP server: the ready-file handshake, real signals to
its process group, and the errors a user sees when the child fails to start."""

from __future__ import annotations

import signal
import socket
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from ackguard.harness.services.ports import free_port
from ackguard.harness.services.process import ManagedProcess, ProcessStartError
from tests.services.childproc import child_process, get_pid, state, wait_state

GONE: set[str | None] = {None, "Z", "X"}


@pytest.fixture
def child(tmp_path: Path) -> Iterator[ManagedProcess]:
    process = child_process(tmp_path, "--grandchild")
    try:
        yield process
    finally:
        process.terminate(5.0)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


def test_start_returns_the_ready_line_and_the_child_serves(child: ManagedProcess) -> None:
    ready = child.start()
    assert ready["pid"] == child.pid
    assert child.alive
    assert get_pid(str(ready["url"])) == child.pid
    assert "child server starting" in child.log_path.read_text(encoding="utf-8")


def test_kill_ends_the_whole_group_and_restart_brings_it_back(child: ManagedProcess) -> None:
    first = child.start()
    grandchild = int(str(first["grandchild"]))
    assert state(grandchild) not in GONE
    child.kill()
    assert not child.alive and child.pid is None
    assert wait_state(int(str(first["pid"])), GONE) in GONE
    assert wait_state(grandchild, GONE) in GONE
    second = child.restart()
    assert second["pid"] != first["pid"]
    assert get_pid(str(second["url"])) == child.pid


def test_sigterm_then_restart(child: ManagedProcess) -> None:
    first = child.start()
    child.kill(signal.SIGTERM)
    assert wait_state(int(str(first["pid"])), GONE) in GONE
    second = child.restart()
    assert get_pid(str(second["url"])) == second["pid"]


def test_pause_stops_answering_and_resume_answers_again(child: ManagedProcess) -> None:
    ready = child.start()
    pid = int(str(ready["pid"]))
    child.pause()
    assert wait_state(pid, {"T"}) == "T"
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        get_pid(str(ready["url"]), timeout=0.5)
    child.resume()
    assert get_pid(str(ready["url"]), timeout=10.0) == pid


def test_terminate_continues_a_paused_child_and_leaves_nothing(tmp_path: Path) -> None:
    with child_process(tmp_path, "--grandchild") as process:
        ready = process.start()
        process.pause()
    assert not process.alive
    for pid in (ready["pid"], ready["grandchild"]):
        assert wait_state(int(str(pid)), GONE) in GONE


def test_early_exit_is_an_error_quoting_the_log(tmp_path: Path) -> None:
    process = child_process(tmp_path, "--exit-early", "3")
    with pytest.raises(ProcessStartError, match="code 3") as raised:
        process.start()
    assert "boom: the configuration is missing" in str(raised.value)
    assert not process.alive


def test_a_child_that_never_gets_ready_is_killed(tmp_path: Path) -> None:
    process = child_process(tmp_path, "--never-ready", ready_timeout=0.5)
    with pytest.raises(ProcessStartError, match="did not write"):
        process.start()
    assert not process.alive


def test_a_stale_ready_file_is_not_taken_for_the_new_one(tmp_path: Path) -> None:
    process = child_process(tmp_path, "--exit-early", "4")
    assert process.ready_file is not None
    process.ready_file.write_text('{"pid": 1}\n', encoding="utf-8")
    with pytest.raises(ProcessStartError, match="code 4"):
        process.start()
