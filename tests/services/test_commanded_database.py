"""A ``url`` database with the scenario's start/stop commands, crashed and brought back by the
unchanged ``database-crash`` fault. The "database" is a tiny server on a loopback port, stopped
and started by real shell commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.faults import database_crash
from ackguard.harness.services.commanded_database import CommandedDatabase
from ackguard.harness.services.commands import CommandError
from ackguard.harness.services.ports import free_port
from tests.services.childproc import get_pid, wait_state

GONE: set[str | None] = {None, "Z", "X"}
SERVER = Path(__file__).with_name("user_server.py")


class Components:
    def __init__(self, **components: object) -> None:
        self._components = components

    def component(self, name: str) -> Any:
        return self._components[name]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[CommandedDatabase]:
    port = free_port()
    pid_file = tmp_path / "db.pid"
    start = ["sh", "-c", f"{sys.executable} {SERVER} {port} & echo $! > {pid_file}"]
    stop = ["sh", "-c", f"echo stop mode $ACKGUARD_STOP_MODE; kill -KILL $(cat {pid_file})"]
    commanded = CommandedDatabase(tmp_path, f"postgresql://app@127.0.0.1:{port}/notes", start, stop)
    commanded.start(timeout=20)
    try:
        yield commanded
    finally:
        commanded.stop("fast")


def _pid(database: CommandedDatabase) -> int:
    return int((database.run_dir / "db.pid").read_text(encoding="utf-8"))


def test_database_crash_runs_stop_then_start_and_waits_for_the_port(
    database: CommandedDatabase,
) -> None:
    url = f"http://127.0.0.1:{database.url.rsplit(':', 1)[1].split('/')[0]}/health"
    first = _pid(database)
    assert get_pid(url) == first
    fault = database_crash.KIND.build(Components(database=database), {"mode": "sigkill"})
    fault.start()
    assert not database.running
    assert wait_state(first, GONE) in GONE
    fault.stop()
    assert database.running
    assert get_pid(url) == _pid(database) != first
    log = (database.run_dir / "database-commands.log").read_text(encoding="utf-8")
    assert "stop mode sigkill" in log
    assert log.count("database start") == 2


def test_a_start_that_never_opens_the_port_is_an_error(tmp_path: Path) -> None:
    port = free_port()
    database = CommandedDatabase(tmp_path, f"postgresql://127.0.0.1:{port}/x", ["true"], ["true"])
    with pytest.raises(CommandError, match=f"127.0.0.1:{port} did not accept connections"):
        database.start(timeout=0.5)
